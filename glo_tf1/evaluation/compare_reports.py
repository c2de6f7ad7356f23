"""glo-compare's input: the reports it reads, each checked, and the protocol they share.

A glo-evaluate report (`evaluation.json`) is read with its config migrated; format 1's
`steps` "trained" for learned codes is read as format 2's null (upgrade). Another method's
numbers come as a hand-written report (EXTERNAL_EXAMPLE; docs/evaluation.md, "Other
methods in the table"): its `method` names the row, its `sections` use glo-evaluate's
section and metric names, a value is one number or one per seed, and any `protocol` field
it states must equal the glo-evaluate reports'. Every field a table reads is checked; a bad
one is refused naming the file and the field (CompareError, never a traceback).

The evaluation protocol (code steps, images, evaluation seed, PCA fit, FID references,
protocol()) must be the same in every report: reports made with different protocols are
refused, naming the difference, since their numbers are not comparable and one table of
them would be wrong (check_protocols, check_external_protocols).
"""
import collections
import os

import numpy as np

from glo_tf1 import checks
from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.evaluation import metrics as metrics_lib

REPORT_NAME = 'evaluation.json'


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
                       % ', '.join(short_paths(leaked)))
  first = next(iter(protocols.values()))
  diffs = []
  for name in first:
    values = collections.defaultdict(list)
    for path, p in protocols.items():
      values[p[name]].append(path)
    if len(values) > 1:
      diffs.append('  %s: %s' % (name, '; '.join(
          '%s in %s' % ('none' if v is None else v, ', '.join(short_paths(paths)))
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
        diffs.append('  %s in %s: %r -> %r' % (name, short_paths([path])[0], value, theirs))
  if diffs:
    raise CompareError('another method\'s report states a protocol the other reports did '
                       'not use (its value -> theirs), so its numbers are not comparable:\n%s'
                       % '\n'.join(diffs))
  return collections.OrderedDict((k, shared.get(k)) for k in protocol({}))


def short_paths(paths, limit=3):
  """`paths` for a message: relative where shorter, the first `limit` and how many more."""
  names = [os.path.relpath(p) if len(os.path.relpath(p)) < len(p) else p for p in paths]
  return names[:limit] + (['and %d more' % (len(names) - limit)] if len(names) > limit else [])

