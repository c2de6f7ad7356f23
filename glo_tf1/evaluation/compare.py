r"""Tables across runs and seeds, from evaluation reports (glo-compare).

  glo-compare REPORT_OR_DIR... [--format markdown|latex|csv] [--out FILE]

Reads the `evaluation.json` of several runs (a report file, a run directory's `eval/`, or
every report under a folder) and makes one table for a paper:

* runs whose settings differ only in `--seed` form one row: the mean and the sample
  standard deviation (n - 1) over the seeds, with their number; a row with one seed has
  no spread;
* each row names its preset and the flags that differ from the preset, and the checkpoint
  step;
* the evaluation protocol (code steps, images, evaluation seed, PCA fit, FID references)
  goes under the table (markdown, LaTeX) or into a column (CSV). Reports made with
  different protocols are refused, naming the difference: their numbers are not
  comparable, so one table of them would be wrong.

The columns are one metric of one report section each (report.SECTIONS order):
PSNR of the reconstruction sections and FID against the training images of the FID
sections by default.
"""
import collections
import csv
import io as _io
import os

import numpy as np

from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.evaluation import metrics as metrics_lib
from glo_tf1.evaluation import report as report_lib

REPORT_NAME = 'evaluation.json'
FORMATS = settings.COMPARE_FORMATS
DEFAULT_METRICS = ('psnr_db', 'fid_train')
# Settings that say how a run was trained but not what it learned: left out of a row's
# identity (the model settings, the towers and the checkpoint step are in it).
_GROUP_EXTRA = ('num_gpus', 'precision', 'pca_image_size')


class CompareError(settings.UserError):
  """The reports cannot make one table; the message names the files and the difference."""


def find_reports(paths):
  """The report files of `paths`: a report file itself, or every evaluation.json under a
  folder (a run directory's eval/ included), sorted. Raises CompareError when a path is
  missing or holds none."""
  found = []
  for path in paths:
    if os.path.isfile(path):
      found.append(os.path.abspath(path))
      continue
    if not os.path.isdir(path):
      raise CompareError('%s does not exist' % path)
    here = sorted(os.path.abspath(os.path.join(folder, REPORT_NAME))
                  for folder, _, names in os.walk(path) if REPORT_NAME in names)
    if not here:
      raise CompareError('%s holds no %s (run glo-evaluate on its runs first)'
                         % (path, REPORT_NAME))
    found += here
  if not found:
    raise CompareError('no reports given')
  return sorted(set(found))


def load_report(path):
  report = io.read_json(path)
  if not isinstance(report, dict) or 'sections' not in report or 'config' not in report:
    raise CompareError('%s is not a glo-evaluate report' % path)
  report['config'] = settings.migrate(report['config'])
  return report


def protocol(report):
  """What the evaluation measured, as (name, value) pairs: reports with different values
  cannot share a table."""
  sections = report['sections']
  fid = report.get('fid') or {}
  refs = fid.get('references', {})
  pca = report.get('pca') or {}
  return collections.OrderedDict([
      ('code steps', report['protocol']['steps']),
      ('code batch size', report['protocol']['batch_size']),
      ('evaluation seed', report['seed']),
      ('training images', sections.get('train', {}).get('num_images')),
      ('held-out images', sections.get('heldout', {}).get('num_images')),
      ('PCA fit images', pca.get('fit_images')),
      ('FID training reference images', refs.get('train', {}).get('num_images')),
      ('FID held-out reference images', refs.get('heldout', {}).get('num_images')),
      ('FID method', fid.get('method')),
  ])


def check_protocols(reports):
  """The shared protocol of {path: report}; CompareError naming each difference."""
  protocols = {path: protocol(r) for path, r in reports.items()}
  first = next(iter(protocols.values()))
  diffs = []
  for name in first:
    values = collections.defaultdict(list)
    for path, p in protocols.items():
      values[p[name]].append(path)
    if len(values) > 1:
      diffs.append('  %s: %s' % (name, '; '.join(
          '%s in %s' % ('none' if v is None else v, ', '.join(_short(paths)))
          for v, paths in values.items())))
  if diffs:
    raise CompareError('these reports were made with different evaluation protocols, so '
                       'their numbers do not belong in one table:\n%s\nEvaluate them '
                       'alike (glo-evaluate flags) or compare them separately.'
                       % '\n'.join(diffs))
  return first


def _short(paths, limit=3):
  names = [os.path.relpath(p) if len(os.path.relpath(p)) < len(p) else p for p in paths]
  return names[:limit] + (['and %d more' % (len(names) - limit)] if len(names) > limit else [])


def group_key(report):
  cfg = report['config']
  keys = [k for k in settings.FIXED_ON_RESUME if k != 'seed'] + list(_GROUP_EXTRA)
  return tuple((k, _hashable(cfg.get(k))) for k in keys) + (('step', report['step']),)


def _hashable(value):
  return tuple(value) if isinstance(value, list) else value


def row_label(cfg):
  """The preset and the flags that differ from it, e.g. `demo --latent_dims=16`."""
  preset = settings.PRESETS.get(cfg['preset'], settings.BLOG)
  flags = []
  for k in ([k for k in settings.FIXED_ON_RESUME if k not in ('seed', 'preset')] +
            list(_GROUP_EXTRA)):
    if cfg.get(k) != preset.get(k):
      value = cfg.get(k)
      if isinstance(value, list):
        value = ','.join(str(v) for v in value)
      flags.append('--%s=%s' % (k, value))
  return ' '.join([cfg['preset']] + flags)


def columns(reports, metrics=DEFAULT_METRICS, sections=None):
  """[(section, metric)] that every report has, in report.SECTIONS order."""
  order = [s.name for s in report_lib.SECTIONS]
  names = sections or order
  out = []
  for name in sorted(names, key=lambda n: order.index(n) if n in order else len(order)):
    for metric in metrics:
      if all(metric in r['sections'].get(name, {}) for r in reports):
        out.append((name, metric))
  if not out:
    raise CompareError('the reports share no column of sections %s and metrics %s'
                       % (', '.join(names), ', '.join(metrics)))
  return out


def build_table(paths, metrics=DEFAULT_METRICS, sections=None):
  """The table of the reports under `paths` (see module doc).

  Returns dict: columns [(section, metric)], rows [{label, step, seeds, reports, values:
  {(section, metric): [value per seed]}}] in the order first seen, protocol (name ->
  value).
  """
  reports = {p: load_report(p) for p in find_reports(paths)}
  shared = check_protocols(reports)
  cols = columns(list(reports.values()), metrics, sections)
  groups = collections.OrderedDict()
  for path, r in reports.items():
    groups.setdefault(group_key(r), []).append((path, r))
  rows = []
  for members in groups.values():
    members.sort(key=lambda m: m[1]['config']['seed'])
    seeds = [r['config']['seed'] for _, r in members]
    if len(set(seeds)) < len(seeds):
      raise CompareError('two reports of the same settings and seed %s would be averaged as '
                         'two seeds: %s' % (seeds, ', '.join(_short([p for p, _ in members]))))
    first = members[0][1]
    rows.append({'label': row_label(first['config']), 'step': first['step'], 'seeds': seeds,
                 'reports': [p for p, _ in members],
                 'values': {c: [r['sections'][c[0]][c[1]] for _, r in members] for c in cols}})
  return {'columns': cols, 'rows': rows, 'protocol': shared}


def mean_std(values):
  """(mean, sample standard deviation or None for one value)."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None)


def _fmt(metric):
  col = metrics_lib.column(metric)
  return col.fmt if col else '%.5f'


def cell(values, metric, pm='±'):
  mean, std = mean_std(values)
  f = _fmt(metric)
  return f % mean if std is None else ('%s %s %s' % (f % mean, pm, f % std))


def header(col):
  section, metric = col
  short = {s.name: s.short for s in report_lib.SECTIONS}
  col = metrics_lib.column(metric)
  return '%s %s' % (short.get(section, section), col.short if col else metric)


def protocol_text(proto, cols=()):
  parts = ['%s %s' % (k, v) for k, v in proto.items() if v is not None]
  units = [text for metric, text in (('psnr_db', 'PSNR in dB'),
                                     ('fid_train', 'FID against the training images'))
           if any(m == metric for _, m in cols)]
  return ('Evaluation protocol: %s.%s Mean ± sample standard deviation over the seeds '
          '(their number in `seeds`).' % (', '.join(parts), ''.join(
              ' %s.' % u for u in ['; '.join(units)] if u)))


def markdown(table):
  lines = ['| run | step | seeds | %s |' % ' | '.join(header(c) for c in table['columns']),
           '| --- | ---: | ---: | %s |' % ' | '.join('---:' for _ in table['columns'])]
  for row in table['rows']:
    lines.append('| %s | %s | %d | %s |' % (
        '`%s`' % row['label'], row['step'], len(row['seeds']),
        ' | '.join(cell(row['values'][c], c[1]) for c in table['columns'])))
  return '\n'.join(lines + ['', protocol_text(table['protocol'], table['columns'])]) + '\n'


_LATEX_SPECIAL = {'\\': r'\textbackslash{}', '&': r'\&', '%': r'\%', '$': r'\$', '#': r'\#',
                  '_': r'\_', '{': r'\{', '}': r'\}', '~': r'\textasciitilde{}',
                  '^': r'\textasciicircum{}', '-': '-{}', '±': r'$\pm$'}


def latex_escape(text):
  return ''.join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex(table):
  """A `tabular` to \\input into a paper (no package beyond LaTeX itself), the protocol
  in its last row."""
  cols = table['columns']
  n = 3 + len(cols)
  lines = [r'\begin{tabular}{l' + 'r' * (n - 1) + '}', r'\hline',
           ' & '.join(['run', 'step', 'seeds'] + [latex_escape(header(c)) for c in cols])
           + r' \\', r'\hline']
  for row in table['rows']:
    cells = [r'\texttt{%s}' % latex_escape(row['label']), str(row['step']),
             str(len(row['seeds']))]
    cells += [cell(row['values'][c], c[1], pm=r'$\pm$') for c in cols]
    lines.append(' & '.join(cells) + r' \\')
  lines += [r'\hline', r'\multicolumn{%d}{l}{\footnotesize %s} \\' % (
      n, latex_escape(protocol_text(table['protocol'], table['columns']))), r'\end{tabular}']
  return '\n'.join(lines) + '\n'


def csv_text(table):
  """One line per row: the mean and standard deviation of each column, the seeds, the
  protocol."""
  out = _io.StringIO()
  writer = csv.writer(out, lineterminator='\n')
  head = ['run', 'step', 'num_seeds', 'seeds']
  for section, metric in table['columns']:
    head += ['%s.%s.mean' % (section, metric), '%s.%s.std' % (section, metric)]
  writer.writerow(head + ['protocol'])
  proto = '; '.join('%s=%s' % kv for kv in table['protocol'].items() if kv[1] is not None)
  for row in table['rows']:
    cells = [row['label'], row['step'], len(row['seeds']), ' '.join(map(str, row['seeds']))]
    for c in table['columns']:
      mean, std = mean_std(row['values'][c])
      cells += [repr(mean), '' if std is None else repr(std)]
    writer.writerow(cells + [proto])
  return out.getvalue()


def render(table, fmt):
  if fmt not in FORMATS:
    raise CompareError('--format: got %r, accepted values are %s' % (fmt, ', '.join(FORMATS)))
  return {'markdown': markdown, 'latex': latex, 'csv': csv_text}[fmt](table)
