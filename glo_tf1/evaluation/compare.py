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

Another method's numbers join the table through a hand-written report
(compare_reports.EXTERNAL_EXAMPLE; docs/evaluation.md, "Other methods in the table"). Its
cells that no glo-evaluate report has are refused, missing cells print as a dash.

This module makes the table (rows, columns, labels) from the reports that
compare_reports.py reads and checks; compare_render.py writes it as markdown, CSV or LaTeX
(evaluation/latex.py lays the LaTeX out).
"""
import collections
import os

import numpy as np

from glo_tf1 import checks
from glo_tf1 import settings
from glo_tf1.evaluation import compare_reports as reports_lib
from glo_tf1.evaluation import metrics as metrics_lib
from glo_tf1.evaluation.compare_reports import CompareError

# Sections shown only when --sections names them: a diagnostic, not a result to tabulate.
HIDDEN_SECTIONS = ('train_learned_batch_stats',)
# Settings that say how a run was trained but not what it learned: left out of a row's
# identity (the model settings, the towers and the checkpoint step are in it).
_GROUP_EXTRA = ('num_gpus', 'precision', 'pca_image_size')


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
  reports = {p: reports_lib.load_report(p) for p in reports_lib.find_reports(paths)}
  glo = collections.OrderedDict((p, r) for p, r in reports.items() if not r['external'])
  ext = collections.OrderedDict((p, r) for p, r in reports.items() if r['external'])
  shared = reports_lib.check_protocols(glo) if glo else reports_lib.protocol({})
  shared = reports_lib.check_external_protocols(shared, ext)
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
                         'two seeds: %s' % (seeds, ', '.join(
                             reports_lib.short_paths([p for p, _ in members]))))
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
        raise CompareError('%s: the mean or spread of %s.%s (%r) is not a finite number' % (
            ', '.join(reports_lib.short_paths(row['reports'])), c[0], c[1], values))
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
                           methods[0], ', '.join(reports_lib.short_paths(
                               [p for r in rows if r['label'] == methods[0]
                                for p in r['reports']]))))
  if twice:
    raise CompareError('two rows would be named %s (the same settings, but another step or '
                       'other training data, so not averaged as seeds): %s; name them apart '
                       'with --label RUN=NAME' % (', '.join(repr(n) for n in twice), '; '.join(
                           '%r from %s' % (n, ' and '.join(
                               ', '.join(reports_lib.short_paths(r['reports'])) for r in rows
                               if r['label'] == n)) for n in twice)))


def mean_std(values):
  """(mean, sample standard deviation or None for one value)."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None)

