"""What an evaluation will cost, said before it starts: each part's time and the total.

  glo-evaluate ... --estimate   # prints the estimate and exits, writing nothing
  glo-evaluate ...              # prints it, then evaluates; the report keeps both

The parts are report.evaluate's own work, counted from the same declarations (the image
sets, metrics.sections(), the protocol's counts): the code fitting of the training and
held-out subsets (batches x --steps optimizer steps), the PCA baseline, the decoding of
the samples and learned codes, Inception-v3 over each FID image set (the real references
unless cached, each sampler's samples, the reconstructions), and the metrics on those
features, each by its own declaration (metrics.py: `label`, `seconds`).

The rates are measured at the start on this machine by `probe`, a few seconds: a few
code-fitting steps of one batch, a batch loaded and decoded, a few images through
Inception, a float64 matrix product and eigendecomposition. Not in the estimate: the start
itself (reading the run, the data checks, building the graphs), done before it prints.
`Clock` times the same parts during the evaluation (report['cost']['measured']).
"""
import contextlib
import math
import time

import numpy as np

from glo_tf1 import progress
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import pca
from glo_tf1.evaluation import trained

FEATURE_DIMS = metrics.FEATURE_DIMS
PROBE_FIT_STEPS = 3
PROBE_MAX_STEPS = 1280
PROBE_SECONDS = 0.5
# An eigh of d x d costs about this many d^3 float64 flops at a matrix product's rate
# (scipy's evr driver with eigenvectors; measured 2048 at 41 s at a measured 4.5 GFLOP/s).
EIGH_FLOPS = 20
PROBE_INCEPTION_IMAGES = 6
LOADING = 'loading images'
DECODING = 'sample generation and decoding'
PCA = 'PCA baseline'


def fit_part(image_set):
  """The part of the code fitting of `image_set` (an IMAGE_SETS key)."""
  return 'code fitting, %s' % metrics.IMAGE_SETS[image_set].label


def inception_part(label):
  """The part of Inception-v3 over one image set (`label`: its section's row words)."""
  return 'Inception, %s' % label.replace(' (FID)', '')


def reference_part(name):
  return inception_part('real %s images' % ('training' if name == 'train' else 'held-out'))


def metric_part(metric):
  """The part of a metric's work on its sections' features or images (its `label`, else
  its name)."""
  return metric.label or metric.name


def recon_part(image_set, recon):
  """The part a reconstructor's call on `image_set` counts in (None: a reference's own
  images, already measured)."""
  if recon == 'optimised':
    return fit_part(image_set)
  if recon == 'pca':
    return PCA
  return None if recon == 'real' else DECODING


class Clock:
  """Seconds spent in each part, measured: `with clock.part(name): ...` adds up."""

  def __init__(self):
    self.seconds = {}

  @contextlib.contextmanager
  def part(self, name):
    if name is None:  # no part: a reference's own images, measured already
      yield
      return
    start = time.time()
    try:
      yield
    finally:
      self.seconds[name] = self.seconds.get(name, 0.0) + time.time() - start


# ----------------------------------------------------------------------------- rates

def _timed(fn):
  start = time.time()
  out = fn()
  return time.time() - start, out


def probe(sess, gen, fit, cfg, paths, num_train, fid_sess=None, fid_ops=None, seed=0):
  """The rates of this machine, measured now (a few seconds): fit_step_s (one optimizer
  step of a batch, its share of the reset and fetch included), load_ips and
  decode_ips (images/s, a batch at a time), gflops, and with FID ops inception_ips and
  numpy_rates' for the metrics; probe_s, the probe's own time. `paths`: training images
  to load (the first batch of them)."""
  start, rng = time.time(), np.random.RandomState([seed, 9])
  batch = fit['images'].get_shape().as_list()[0]
  chunk = list(paths[:batch])
  generation.load_images(sess, gen, chunk)  # the first run of an op builds its kernels
  load_s, images = _timed(lambda: generation.load_images(sess, gen, chunk))
  step = _fit_rate(lambda k: trained.fit_codes(sess, fit, cfg, images, k, num_train, rng))
  noise = rng.standard_normal((batch, cfg['latent_dims']))
  generation.sample(sess, gen, 'unit', noise)
  decode_s, (_, samples) = _timed(lambda: generation.sample(sess, gen, 'unit', noise))
  rates = {'fit_step_s': step, 'batch_size': batch,
           'load_ips': len(chunk) / max(load_s, 1e-6), 'decode_ips': batch / max(decode_s, 1e-6),
           'inception_ips': None}
  if fid_ops is not None:
    feed = np.resize(samples, (PROBE_INCEPTION_IMAGES,) + samples.shape[1:])
    fid_sess.run(fid_ops['features'], {fid_ops['images']: feed[:2]})
    secs, _ = _timed(lambda: fid_sess.run(fid_ops['features'], {fid_ops['images']: feed}))
    rates['inception_ips'] = len(feed) / max(secs, 1e-6)
  # The PCA's arithmetic, and with FID the metrics on Inception features.
  rates.update(numpy_rates(rng, with_metrics=fid_ops is not None))
  rates['probe_s'] = time.time() - start
  return rates


def _fit_rate(fit_steps):
  """Seconds a step of `fit_steps(k)`, a batch's code fitting of k steps (its reset and
  final fetch included, spread over the steps): k grows by 4x until the k steps take
  PROBE_SECONDS (or k reaches PROBE_MAX_STEPS). A split into a step and a fixed cost from
  two short runs was too noisy on a loaded machine (0.42 s a step and 2.3 s fixed, for
  1.0 to 1.3 s a step measured)."""
  fit_steps(1)  # the first run of an op builds its kernels
  k = PROBE_FIT_STEPS
  while True:
    secs, _ = _timed(lambda: fit_steps(k))
    if secs >= PROBE_SECONDS or k >= PROBE_MAX_STEPS:
      return secs / k
    k *= 4


def numpy_rates(rng, with_metrics=True):
  """{'gflops': a float64 matrix product, 'element_s': a plain elementwise pass, a value,
  'cube_s': KID's kernel (x/d + 1)^3, a value (numpy's power: far slower than a pass),
  'eigh_s': an eigh of FEATURE_DIMS x FEATURE_DIMS, 'metric_row_s': {metric: one
  section's fixed cost}} on this machine, now (only gflops without `with_metrics`). The
  product is 1024 x 2048 by its transpose (a 512-row one gave a third of a 2500-row
  one's rate); each timing is the fastest of a few calls after a first (which pays page
  faults and thread starts; on a loaded machine a call can lose a scheduler slice). The eigh is modelled (EIGH_FLOPS
  d^3 at the product's rate), not timed: a small one is all overhead (measured under load:
  512 took 7 s, 2048 41 s), a full one would take the probe's budget."""
  a = rng.standard_normal((1024, FEATURE_DIMS))
  a[:512] @ a[:512].T  # pylint: disable=expression-not-assigned
  timed = [_timed(lambda: a @ a.T) for _ in range(2 if with_metrics else 1)]
  secs, prod = min(t for t, _ in timed), timed[-1][1]
  if not with_metrics:
    return {'gflops': 2. * 1024 * 1024 * FEATURE_DIMS / max(secs, 1e-9) / 1e9}
  plain = min(_timed(lambda: prod + 1.0)[0] for _ in range(3))
  cube = min(_timed(lambda: (prod / FEATURE_DIMS + 1.0) ** 3)[0] for _ in range(3))
  gflops = 2. * 1024 * 1024 * FEATURE_DIMS / max(secs, 1e-9) / 1e9
  return {'gflops': gflops, 'element_s': plain / prod.size, 'cube_s': cube / prod.size,
          'eigh_s': EIGH_FLOPS * FEATURE_DIMS ** 3 / (gflops * 1e9),
          'metric_row_s': metric_rates(rng)}


def metric_rates(rng, n=16, refs=24):
  """{metric name: seconds} of each Inception metric's `measure` of n random features
  against two references of `refs` (its second call): its fixed cost a section (Python,
  many small BLAS calls), which dominates at small counts."""
  from glo_tf1.evaluation.fid import stats  # pylint: disable=import-outside-toplevel
  feats = lambda k: rng.standard_normal((k, FEATURE_DIMS)).astype(np.float32)
  context = metrics.InceptionContext(None, None, {
      name: dict(stats.with_features(feats(refs)), num_images=refs)
      for name in ('train', 'heldout')})
  x, out = feats(n), {}
  for metric in metrics.METRICS.values():
    if metric.context == 'inception':
      metric.measure(context, x, None)  # the first call also warms the BLAS threads
      out[metric.name], _ = _timed(lambda m=metric: m.measure(context, x, None))
  return out


# ----------------------------------------------------------------------------- the parts

def parts(rates, counts):
  """[(part, what, seconds)] of an evaluation of `counts`, at `rates` (probe's):

  counts: train (training images re-optimised), heldout (held-out images optimised),
    steps, batch_size, pixels (values per image), batch_stats (the batch-statistics row),
    pca_images (None: no PCA), fid (None, or {'train': n, 'heldout': m, 'samples': s,
    'samplers': [names], 'cached': [reference names]}).
  """
  out = []
  for image_set in ('train', 'heldout'):
    n = counts[image_set]
    if n:
      batches = math.ceil(n / counts['batch_size'])
      out.append((fit_part(image_set), '{:,} images x {:,} steps'.format(n, counts['steps']),
                  batches * counts['steps'] * rates['fit_step_s']))
  fid = counts.get('fid')
  loads = counts['train'] + counts['heldout'] + (fid['train'] if fid else 0)
  out.append((LOADING, '{:,} images'.format(loads), loads / rates['load_ips']))
  if counts.get('pca_images'):
    out.append(_pca_part(rates, counts))
  # Decoded a batch at a time (a session run each): learned codes (twice with the
  # batch-statistics row), the FID reference's learned codes, each sampler's samples.
  sets = [counts['train']] * (2 if counts.get('batch_stats') else 1)
  if fid:
    sets += [fid['train']] + [fid['samples']] * len(fid['samplers'])
  batches = sum(math.ceil(n / rates['batch_size']) for n in sets)
  out.append((DECODING, '{:,} images'.format(sum(sets)),
              batches * rates['batch_size'] / rates['decode_ips']))
  if fid:
    out += _fid_parts(rates, counts, fid)
  return out


def _pca_part(rates, counts):
  """Loading the fitting images (once, or 1 + 4 passes when randomized: pca.fit) and the
  SVD or subspace iteration, by their float64 arithmetic."""
  n, p, k = counts['pca_images'], counts['pixels'], counts['latent_dims']
  exact = n * p * 8 <= pca.MAX_BYTES
  passes = 1 if exact else 5
  flops = (4. * n * p * min(n, p) + 8. * min(n, p) ** 3) if exact else (
      passes * 4. * n * p * (k + 10))
  seconds = n * passes / rates['load_ips'] + flops / (rates['gflops'] * 1e9)
  return (PCA, '{:,} images{}'.format(n, '' if exact else ', %d passes' % passes), seconds)


def _fid_parts(rates, counts, fid):
  """Inception over each reference and image set of an Inception section, then each
  Inception metric over its sections (its own `seconds`)."""
  sizes = {'samples': fid['samples'], 'fid_train': fid['train'],
           'heldout': counts['heldout'], 'fid_heldout': 0}
  refs = {'train': fid['train']}
  if fid.get('heldout'):
    refs['heldout'] = fid['heldout']
  out = []
  for name, n in refs.items():
    cached = name in fid.get('cached', ())
    out.append((reference_part(name), '{:,} images{}'.format(n, ', cached' if cached else ''),
                0. if cached else n / rates['inception_ips']))
  todo = [s for s in metrics.sections() if metrics.METRICS[s.metric].context == 'inception'
          and (counts.get('pca_images') or s.reconstructor != 'pca')
          and (s.image_set != 'fid_heldout' or 'heldout' in refs)
          and (s.image_set != 'heldout' or counts['heldout'])]
  seen = set()
  for s in todo:
    if sizes[s.image_set] and (s.image_set, s.reconstructor) not in seen:
      seen.add((s.image_set, s.reconstructor))
      n = sizes[s.image_set]
      out.append((inception_part(s.label), '{:,} images'.format(n), n / rates['inception_ips']))
  for metric in metrics.METRICS.values():
    mine = [s for s in todo if s.metric == metric.name]
    if mine:
      fixed = rates.get('metric_row_s', {}).get(metric.name, 0.0)
      seconds = metric.setup_seconds(refs, rates) + sum(
          fixed + metric.seconds(sizes[s.image_set] or refs['heldout'], refs, rates)
          for s in mine)
      out.append((metric_part(metric), '%d rows' % len(mine), seconds))
  return out


def describe(estimated, rates, source):
  """The printout: one line per part (its work and time) and the total (their sum)."""
  width = max(len(p) for p, _, _ in estimated)
  total = sum(s for _, _, s in estimated)
  lines = ['Estimated time (rates %s, a %.0f s probe: code fitting %.3g s a step of %d '
           'images, decoder %.0f images/s%s):'
           % (source, rates['probe_s'], rates['fit_step_s'], rates['batch_size'],
              rates['decode_ips'], ', Inception %.1f images/s, float64 %.0f GFLOP/s' % (
                  rates['inception_ips'], rates['gflops']) if rates.get('inception_ips')
              else '')]
  lines += ['  %-*s  %-28s %s' % (width, p, what, duration(s)) for p, what, s in estimated]
  lines.append('  %-*s  %-28s %s' % (width, 'total', '', duration(total)))
  return '\n'.join(lines)


def duration(seconds):
  """'12 s', '4.5 minutes', then progress.format_duration's hours and days."""
  if seconds < 60:
    return '%.0f s' % seconds
  return '%.1f minutes' % (seconds / 60.) if seconds < 3600 else progress.format_duration(
      seconds)


def record(estimated, rates, measured=None):
  """The report's `cost` entry: the estimated seconds of each part, their total, the
  rates, and the measured seconds of the same parts when the evaluation ran."""
  out = {'estimated': {p: round(s, 2) for p, _, s in estimated},
         'estimated_total': round(sum(s for _, _, s in estimated), 2),
         'rates': {k: (round(v, 6) if isinstance(v, float) else v) for k, v in rates.items()}}
  if measured is not None:
    out['measured'] = {p: round(s, 2) for p, s in measured.items()}
  return out
