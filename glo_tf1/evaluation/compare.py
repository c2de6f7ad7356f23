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

The columns are one metric of one report section each, in the order of the sections the
registries derive (evaluation/metrics.py, metrics.sections()); by default the columns
their metrics declare `default` (PSNR of the reconstruction sections, FID against the
training images of the FID sections). Units and headers come from the same declarations.
Reports of format 1 (`steps` "trained" for learned codes) are read as format 2 (null).

Another method's numbers join the table through a hand-written report (EXTERNAL_EXAMPLE;
docs/evaluation.md, "Other methods in the table"): its `method` names the row, its
`sections` use glo-evaluate's section and metric names, a value is one number or one per
seed, and any `protocol` field it states must equal the glo-evaluate reports'. Its cells
that no glo-evaluate report has are refused, missing cells print as a dash.
"""
import collections
import csv
import io as _io
import os

import numpy as np

from glo_tf1 import checks
from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.evaluation import latex as latex_lib
from glo_tf1.evaluation import metrics as metrics_lib

REPORT_NAME = 'evaluation.json'
FORMATS = settings.COMPARE_FORMATS
DEFAULT_METRICS = metrics_lib.default_metrics()  # the registry's at import; None: now
# Sections shown only when --sections names them: a diagnostic, not a result to tabulate.
HIDDEN_SECTIONS = ('train_learned_batch_stats',)
# Settings that say how a run was trained but not what it learned: left out of a row's
# identity (the model settings, the towers and the checkpoint step are in it).
_GROUP_EXTRA = ('num_gpus', 'precision', 'pca_image_size')


# The smallest hand-written report of another method (docs/evaluation.md shows it too; a
# test reads the docs' copy): two sections, one value per seed, the protocol it shares.
EXTERNAL_EXAMPLE = {
    'method': 'VAE (our run)',
    'source': 'Kingma & Welling 2014; 3 seeds, our training script',
    'seeds': [0, 1, 2],
    'sections': {
        'heldout': {'psnr_db': [19.8, 20.1, 19.9]},
        'train': {'psnr_db': [21.0, 21.4, 21.1]},
    },
    'protocol': {'held-out images': 20, 'training images': 32},
}
_EXTERNAL_KEYS = ('method', 'source', 'seeds', 'sections', 'protocol', 'step')
# No registered metric comes near it (PSNR, FID, MSE, KID, shares): a larger value is a typo,
# and a mean of such values can overflow.
MAX_VALUE = 1e9


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
  """A glo-evaluate report (its config migrated), or another method's hand-written one
  (checked by check_external; `external` True)."""
  report = io.read_json(path)
  if isinstance(report, dict) and 'method' in report and 'config' not in report:
    return check_external(report, path)
  if not isinstance(report, dict) or 'sections' not in report or 'config' not in report:
    raise CompareError('%s is neither a glo-evaluate report (no "config" and "sections") nor '
                       'another method\'s (no "method"; docs/evaluation.md, "Other methods '
                       'in the table")' % path)
  return _check_glo_report(report, path)


def _check_glo_report(report, path):
  """A glo-evaluate report's fields that a table reads, checked (CompareError naming the
  file and the field, never a traceback), its config migrated."""
  def bad(what):
    raise CompareError('%s: %s; is it a glo-evaluate report, edited by hand?' % (path, what))
  if not isinstance(report['config'], dict):
    bad('"config" must be the run\'s settings')
  for key in ('preset', 'seed'):
    if key not in report['config']:
      bad('its config has no %r' % key)
  try:
    report['config'] = settings.migrate(report['config'])
  except settings.ConfigError as e:
    bad(str(e)[len('--config: '):] if str(e).startswith('--config: ') else str(e))
  if not isinstance(report.get('protocol'), dict) or not all(
      k in report['protocol'] for k in ('steps', 'batch_size')):
    bad('"protocol" must hold the code steps and batch size')
  if 'step' not in report or 'seed' not in report:
    bad('it has no %s' % ('"step"' if 'step' not in report else '"seed"'))
  if not isinstance(report['sections'], dict) or not all(
      isinstance(v, dict) for v in report['sections'].values()):
    bad('"sections" must map section names to their numbers')
  for name, values in report['sections'].items():
    for metric, value in values.items():
      if metrics_lib.column(metric) and not _number(value):
        bad('%s.%s is %r, not a finite number' % (name, metric, value))
  report['external'] = False
  return upgrade(report)


def upgrade(report):
  """A glo-evaluate report in the current format (report.FORMAT_VERSION): format 1 (no
  `format_version`) said "trained" for the learned codes' steps, format 2 says null."""
  if report.get('format_version', 1) < 2:
    for values in report['sections'].values():
      if values.get('steps') == 'trained':
        values['steps'] = None
    report['format_version'] = 2
  return report


def _number(value):
  return (checks.is_int(value) or isinstance(value, float)) and np.isfinite(value)


def check_external(report, path):
  """Another method's report, checked field by field (CompareError naming the file and
  field); each value becomes a list (one per seed) and `seeds` the seeds (None: not
  stated)."""
  def bad(what):
    raise CompareError('%s: %s (the format: docs/evaluation.md, "Other methods in the '
                       'table")' % (path, what))
  unknown = sorted(set(report) - set(_EXTERNAL_KEYS))
  if unknown:
    bad('unknown field(s) %s; a report of another method has %s'
        % (', '.join(unknown), ', '.join(_EXTERNAL_KEYS)))
  for key in ('method', 'source'):
    value = report.get(key, 'x')
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
      bad('"%s" must be a non-empty string of printable characters (no newline, tab or '
          'other control character), got %r' % (key, value))
  sections = report.get('sections')
  if not isinstance(sections, dict) or not sections:
    bad('"sections" must map section names to {metric: value}')
  seeds = report.get('seeds')
  if seeds is not None and (not isinstance(seeds, list) or not seeds or not all(
      _count(v) for v in seeds) or len(set(seeds)) < len(seeds)):
    bad('"seeds" must be a non-empty list of distinct non-negative integers, got %r'
        % (seeds,))
  out, counts = _external_sections(sections, bad)
  if seeds is not None and counts - {len(seeds)}:
    bad('%d seeds, but a list of %s values' % (len(seeds), ' or '.join(map(str, counts))))
  if len(counts) > 1:
    bad('lists of %s values: one value per seed, the same seeds everywhere'
        % ' and '.join(map(str, sorted(counts))))
  proto = report.get('protocol') or {}
  if not isinstance(proto, dict):
    bad('"protocol" must map protocol fields to values')
  fields = list(protocol({}))
  for name, value in proto.items():
    if name not in fields:
      bad('unknown protocol field %r; fields are %s' % (name, ', '.join(fields)))
    if not (_number(value) or isinstance(value, str) and value.isprintable()):
      bad('protocol field %r must be a number or a printable string, got %r' % (name, value))
  step = report.get('step')
  if step is not None and not _count(step) and not (
      isinstance(step, str) and step.strip() and step.isprintable()):
    bad('"step" must be a non-negative integer or a printable string, got %r' % (step,))
  return {'external': True, 'method': report['method'].strip(), 'step': step,
          'seeds': seeds or [None] * max(counts or {1}), 'sections': out,
          'protocol': dict(proto), 'source': report.get('source')}


def _external_sections(sections, bad):
  """({section: {metric: [value per seed]}}, the list lengths seen) of an external
  report's sections, each name a registered section's and each metric a registered
  column's (`bad(what)` raises)."""
  section_names = list(metrics_lib.section_order())
  metric_names = [c.key for c in metrics_lib.columns()]
  out, counts = {}, set()
  for name, values in sections.items():
    if name not in section_names:
      bad('unknown section %r; sections are %s' % (name, ', '.join(section_names)))
    if not isinstance(values, dict) or not values:
      bad('section %r must map metrics to values' % name)
    out[name] = {}
    for metric, value in values.items():
      if metric not in metric_names:
        bad('unknown metric %r in %r; metrics are %s' % (metric, name, ', '.join(metric_names)))
      value = value if isinstance(value, list) else [value]
      if not value or not all(_number(v) for v in value):
        bad('%s.%s must be a finite number or a non-empty list of them, got %r'
            % (name, metric, values[metric]))
      if any(abs(v) > MAX_VALUE for v in value):
        bad('%s.%s: %r is beyond any such metric (|value| above %g)'
            % (name, metric, values[metric], MAX_VALUE))
      if len(value) > 1:
        counts.add(len(value))
      out[name][metric] = [float(v) for v in value]
  return out, counts


def _count(value):
  """Whether `value` is a non-negative integer (not a bool)."""
  return checks.is_int(value) and value >= 0


def protocol(report):
  """What the evaluation measured, as (name, value) pairs: reports with different values
  cannot share a table. protocol({}): the field names, every value None."""
  sections = report.get('sections', {})
  fid = report.get('fid') or {}
  refs = fid.get('references', {})
  pca = report.get('pca') or {}
  evaluation = report.get('protocol', {})
  return collections.OrderedDict([
      ('code steps', evaluation.get('steps')),
      ('code batch size', evaluation.get('batch_size')),
      ('evaluation seed', report.get('seed')),
      ('training images', sections.get('train', {}).get('num_images')),
      ('held-out images', sections.get('heldout', {}).get('num_images')),
      ('PCA fit images', pca.get('fit_images')),
      ('FID training reference images', refs.get('train', {}).get('num_images')),
      ('FID held-out reference images', refs.get('heldout', {}).get('num_images')),
      ('FID method', fid.get('method')),
      ('FID protocol', (fid.get('protocol') or {}).get('name')),
      # Checked, not printed (CHECK_ONLY): the same held-out files, none of them a
      # training image (glo-evaluate warned about those).
      ('held-out data', sections.get('heldout', {}).get('data_sha256')),
      ('held-out images identical to training images',
       sections.get('heldout', {}).get('identical_to_training')),
  ])


CHECK_ONLY = ('held-out data', 'held-out images identical to training images')


def check_protocols(reports):
  """The shared protocol of {path: report}; CompareError naming each difference, and for
  held-out images that are training images."""
  protocols = {path: protocol(r) for path, r in reports.items()}
  leaked = [p for p, proto in protocols.items()
            if proto['held-out images identical to training images']]
  if leaked:
    raise CompareError('the held-out images of %s include training images (byte-identical; '
                       'glo-evaluate warned): their held-out numbers are training numbers. '
                       'Evaluate on images the runs never trained on.'
                       % ', '.join(_short(leaked)))
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


def check_external_protocols(shared, externals):
  """Each protocol field an external report states must equal the glo-evaluate reports'
  (`shared`); CompareError naming the file, `theirs -> glo-evaluate's`. A field the
  glo-evaluate reports do not have (or, without them, any field) must agree among the
  external reports that state it; it stays theirs (their row's note), never the table's.
  Returns `shared`."""
  shared, stated = dict(shared), {}
  diffs = []
  for path, r in externals.items():
    for name, value in r['protocol'].items():
      theirs = shared.get(name)
      if theirs is None:
        theirs = stated.setdefault(name, value)
      if theirs != value:
        diffs.append('  %s in %s: %r -> %r' % (name, _short([path])[0], value, theirs))
  if diffs:
    raise CompareError('another method\'s report states a protocol the other reports did '
                       'not use (its value -> theirs), so its numbers are not comparable:\n%s'
                       % '\n'.join(diffs))
  return collections.OrderedDict((k, shared.get(k)) for k in protocol({}))


def _short(paths, limit=3):
  names = [os.path.relpath(p) if len(os.path.relpath(p)) < len(p) else p for p in paths]
  return names[:limit] + (['and %d more' % (len(names) - limit)] if len(names) > limit else [])


def group_key(report):
  cfg = report['config']
  keys = [k for k in settings.FIXED_ON_RESUME if k != 'seed'] + list(_GROUP_EXTRA)
  # The training data too: seeds are averaged only over runs of the same files.
  return tuple((k, _hashable(cfg.get(k))) for k in keys) + (
      ('step', report['step']), ('training data', report.get('training_data_sha256')))


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


def columns(reports, metrics=None, sections=None, externals=()):
  """[(section, metric)] that every glo-evaluate report has (without any, that some
  external report has), in the registries' section order. An external report's cell
  outside these columns is refused (CompareError naming it) unless `sections` or
  `metrics` left it out. metrics: default metrics_lib.default_metrics()."""
  metrics = metrics or metrics_lib.default_metrics()
  order = list(metrics_lib.section_order())
  names = sections or [n for n in order if n not in HIDDEN_SECTIONS]
  out = []
  for name in sorted(names, key=lambda n: order.index(n) if n in order else len(order)):
    for metric in metrics:
      if reports and all(metric in r['sections'].get(name, {}) for r in reports):
        out.append((name, metric))
      elif not reports and any(metric in r['sections'].get(name, {})
                               for r in dict(externals).values()):
        out.append((name, metric))
  if not out:
    raise CompareError('the reports share no column of sections %s and metrics %s'
                       % (', '.join(names), ', '.join(metrics)))
  for path, r in dict(externals).items():
    extra = ['%s.%s' % (n, m) for n, values in r['sections'].items() for m in values
             if n in names and m in metrics and (n, m) not in out]
    if extra:
      raise CompareError('%s gives %s, which the glo-evaluate reports do not have (columns: '
                         '%s); drop them or pick columns with --sections and --metrics'
                         % (path, ', '.join(extra), ', '.join('%s.%s' % c for c in out)))
  return out


def build_table(paths, metrics=None, sections=None, labels=None):
  """The table of the reports under `paths` (see module doc).

  Args:
    labels: {path: name}: the row holding the report at (or under) each path is named
      `name` (glo-compare --label RUN=NAME).
  Returns dict: columns [(section, metric)], rows [{label, step, seeds, reports, external,
  values: {(section, metric): [value per seed] or None}}], the glo-evaluate rows in the
  order first seen, then the other methods'; protocol (name -> value).
  """
  reports = {p: load_report(p) for p in find_reports(paths)}
  glo = collections.OrderedDict((p, r) for p, r in reports.items() if not r['external'])
  ext = collections.OrderedDict((p, r) for p, r in reports.items() if r['external'])
  shared = check_protocols(glo) if glo else protocol({})
  shared = check_external_protocols(shared, ext)
  cols = columns(list(glo.values()), metrics, sections, ext)
  groups = collections.OrderedDict()
  for path, r in glo.items():
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
                 'reports': [p for p, _ in members], 'external': False,
                 'values': {c: [r['sections'][c[0]][c[1]] for _, r in members] for c in cols}})
  for path, r in ext.items():
    rows.append({'label': r['method'], 'step': r['step'], 'seeds': r['seeds'],
                 'reports': [path], 'external': True, 'protocol': r['protocol'],
                 'source': r['source'],
                 'values': {c: r['sections'].get(c[0], {}).get(c[1]) for c in cols}})
  for row in rows:
    for c, values in row['values'].items():
      with np.errstate(all='ignore'):
        stats = mean_std(values) if values is not None else ()
      if not all(np.isfinite(v) for v in stats if v is not None):
        raise CompareError('%s: the mean or spread of %s.%s (%r) is not a finite number'
                           % (', '.join(_short(row['reports'])), c[0], c[1], values))
  _apply_labels(rows, labels or {})
  return {'columns': cols, 'rows': rows, 'protocol': shared}


def _apply_labels(rows, labels):
  """Renames the row of each labelled path; CompareError for a path that is no row's, or
  is several rows', and for two rows of one name."""
  for path, name in labels.items():
    where = os.path.abspath(path)
    hits = [row for row in rows if any(checks.inside(p, where) for p in row['reports'])]
    if len(hits) != 1:
      raise CompareError('--label %s=%s: %s' % (path, name, (
          'no report given is at or under %s' % where) if not hits else (
              'the reports under it make %d rows (%s); label each run directory'
              % (len(hits), '; '.join(h['label'] for h in hits)))))
    if hits[0].get('labelled'):
      raise CompareError('--label %s=%s: that row is already labelled %r'
                         % (path, name, hits[0]['label']))
    hits[0].update(label=name, labelled=True)
  names = collections.Counter(row['label'] for row in rows)
  twice = sorted(n for n, k in names.items() if k > 1)
  methods = [n for n in twice if all(r['external'] and not r.get('labelled')
                                     for r in rows if r['label'] == n)]
  if methods:
    raise CompareError('duplicate method %r: %s give it as their "method"; give one report '
                       'per method, or name them apart with --label FILE=NAME' % (
                           methods[0], ', '.join(_short(
                               [p for r in rows if r['label'] == methods[0]
                                for p in r['reports']]))))
  if twice:
    raise CompareError('two rows would be named %s (the same settings, but another step or '
                       'other training data, so not averaged as seeds): %s; name them apart '
                       'with --label RUN=NAME' % (', '.join(repr(n) for n in twice), '; '.join(
                           '%r from %s' % (n, ' and '.join(
                               ', '.join(_short(r['reports'])) for r in rows
                               if r['label'] == n)) for n in twice)))


def mean_std(values):
  """(mean, sample standard deviation or None for one value)."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None)


def _fmt(metric):
  col = metrics_lib.column(metric)
  return col.fmt if col else '%.5f'


def cell(values, metric, pm='±', missing='–'):
  """mean ± std at the metric's precision; the mean alone for one value or a spread that
  rounds to zero (PCA's, the same on every seed); `missing` for no value."""
  if values is None:
    return missing
  mean, std = mean_std(values)
  f = _fmt(metric)
  shown = metrics_lib.shown(metric, mean, f)
  if std is None or f % std == f % 0 or shown == 'exact':
    return shown
  return '%s %s %s' % (f % mean, pm, f % std)


def header(col):
  """(section's short name, metric's short name with its unit), e.g. ('held-out',
  'PSNR (dB)')."""
  section, metric = col
  short = {s.name: s.short for s in metrics_lib.sections()}
  col = metrics_lib.column(metric)
  return short.get(section, section), col.short if col else metric


def protocol_text(table):
  """The note under a table: the protocol, the units, how cells are made (plain text)."""
  proto, cols = table['protocol'], table['columns']
  parts = ['%s %s' % kv for kv in _stated(proto)]
  shown = {m for _, m in cols}
  units = [c.unit for c in metrics_lib.columns() if c.unit and c.key in shown]
  text = ['Evaluation protocol: %s.' % ', '.join(parts)] if parts else []
  if units:
    text.append('%s.' % '; '.join(units))
  text.append('Mean ± sample standard deviation over the seeds (their number in the seeds '
              'column); a mean alone: one seed, or a deviation that rounds to zero.')
  # What an external row's report states beyond the table's protocol is its own, said of
  # its row only.
  text += latex_lib.external_sentences(table['rows'], lambda row: [
      kv for kv in _stated(row['protocol']) if proto.get(kv[0]) is None])
  return ' '.join(text)


def _stated(proto):
  """The protocol's (name, value) pairs a table states: those with a value, but CHECK_ONLY."""
  return [(k, v) for k, v in proto.items() if v is not None and k not in CHECK_ONLY]


def _step(row, missing):
  return missing if row['step'] is None else str(row['step'])


def _num_seeds(row):
  return str(len(row['seeds']))


def markdown(table):
  cols = table['columns']
  lines = ['| run | step | seeds | %s |' % ' | '.join(' '.join(header(c)) for c in cols),
           '| --- | ---: | ---: | %s |' % ' | '.join('---:' for _ in cols)]
  for row in table['rows']:
    label = row['label'].replace('|', '\\|')
    lines.append('| %s | %s | %s | %s |' % (
        label if row['external'] or row.get('labelled') else '`%s`' % label,
        _step(row, '–'), _num_seeds(row),
        ' | '.join(cell(row['values'][c], c[1]) for c in cols)))
  return '\n'.join(lines + ['', protocol_text(table)]) + '\n'


latex_escape = latex_lib.escape


def latex(table, width=None, note='table'):
  """The booktabs table to \\input into a paper (evaluation/latex.py lays it out to fit the
  page; `width`: --latex_width, `note`: --note table or off)."""
  return latex_parts(table, width, 'off' if note == 'file' else note)[0]


def latex_parts(table, width=None, note='table'):
  """(the LaTeX table, its note for a file of its own with note='file', else None)."""
  cells = {c: [cell(r['values'][c], c[1], missing='--') for r in table['rows']]
           for c in table['columns']}
  return latex_lib.render(table, cells, width, note, hidden=CHECK_ONLY)


def csv_text(table):
  """One line per row: the mean and standard deviation of each column, the seeds, the
  protocol."""
  out = _io.StringIO()
  writer = csv.writer(out, lineterminator='\n')
  head = ['run', 'step', 'num_seeds', 'seeds']
  for section, metric in table['columns']:
    head += ['%s.%s.mean' % (section, metric), '%s.%s.std' % (section, metric)]
  writer.writerow(head + ['protocol'])
  text = lambda proto: '; '.join('%s=%s' % kv for kv in _stated(proto))
  for row in table['rows']:
    seeds = '' if None in row['seeds'] else ' '.join(map(str, row['seeds']))
    cells = [row['label'], _step(row, ''), len(row['seeds']), seeds]
    for c in table['columns']:
      if row['values'][c] is None:
        cells += ['', '']
        continue
      mean, std = mean_std(row['values'][c])
      cells += [repr(mean), '' if std is None else repr(std)]
    # Another method's row: the protocol fields its report states.
    writer.writerow(cells + [text(row['protocol'] if row['external'] else table['protocol'])])
  return out.getvalue()


def render(table, fmt, latex_width=None, note='table'):
  if fmt not in FORMATS:
    raise CompareError('--format: got %r, accepted values are %s' % (fmt, ', '.join(FORMATS)))
  if fmt == 'latex':
    return latex(table, latex_width, note)
  return {'markdown': markdown, 'csv': csv_text}[fmt](table)
