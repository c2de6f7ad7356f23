"""The metrics of an evaluation report, one interface for all.

A metric measures one set of generated images: the reconstructions of a set of real images
(by the learned codes, by codes optimised for them, by PCA) or samples. It declares its
columns and makes an accumulator per report section:

  acc = metric.accumulator(context)    # context: what it needs besides the images
  acc.add(images, outputs)             # a batch; images: the real images the outputs
                                       # reconstruct, None for samples
  acc.values()                         # {column key: value, ..., 'num_images': n}

`METRICS` maps a name to a metric; `report.SECTIONS` says which metric measures which
(image set, reconstructor), and `report.evaluate` loops over them. The report's markdown
and `glo-compare` read each metric's columns (key, header, short name, format) from here.

A new metric: a class with `name`, `columns`, `pairs` (whether it needs the real images)
and `accumulator(context)`, one METRICS line, and its sections in `report.SECTIONS`.
"""
import collections

import numpy as np

# key: the section's key; header: the report's column; short: glo-compare's column;
# fmt: how both print a value.
Column = collections.namedtuple('Column', ['key', 'header', 'short', 'fmt'])


# An image reconstructed to MSE[0,1] <= EXACT_MSE_01 is exact up to float round-off (PCA
# fitted on as few images as components): its PSNR is capped at PSNR_EXACT_DB (120 dB),
# counted in `exact_images`, and a mean at the cap prints as "exact", never as a number.
EXACT_MSE_01 = 1e-12
PSNR_EXACT_DB = 10. * np.log10(1. / EXACT_MSE_01)


def image_metrics(images, recons):
  """Per-image (mse on [-1, 1], mse on [0, 1], PSNR in dB with peak 1 on [0, 1], capped at
  PSNR_EXACT_DB)."""
  x = np.asarray(images, np.float64).reshape(len(images), -1)
  y = np.asarray(recons, np.float64).reshape(len(recons), -1)
  mse_pm1 = np.mean((x - y) ** 2, axis=1)
  mse_01 = mse_pm1 / 4.
  psnr = 10. * np.log10(1. / np.maximum(mse_01, EXACT_MSE_01))
  return mse_pm1, mse_01, psnr


def summarise(mse_pm1, mse_01, psnr):
  """The section numbers of per-image metrics."""
  return {'num_images': int(len(mse_pm1)), 'mse_pm1': float(np.mean(mse_pm1)),
          'mse_01': float(np.mean(mse_01)), 'psnr_db': float(np.mean(psnr)),
          'psnr_db_std': float(np.std(psnr)),
          'exact_images': int(np.sum(np.asarray(mse_01) <= EXACT_MSE_01))}


def shown(key, value, fmt):
  """A value as the tables print it: `fmt`, but "exact" for a PSNR at the cap."""
  if key == 'psnr_db' and value >= PSNR_EXACT_DB - 1e-9:
    return 'exact'
  return fmt % value


class _PixelAccumulator:

  def __init__(self):
    self._batches = []

  def add(self, images, outputs):
    self._batches.append(image_metrics(images, outputs))

  def values(self):
    return summarise(*[np.concatenate(m) for m in zip(*self._batches)])


class Pixel:
  """MSE and PSNR of reconstructions against their images, as the trainer sees them (crop,
  resize, float, no quantisation): mse_pm1 on [-1, 1], mse_01 on [0, 1], psnr_db the mean
  over images of 10 log10(1 / mse_01 of the image). The post reports none of these."""
  name = 'pixel'
  pairs = True
  columns = (Column('mse_pm1', 'MSE [-1,1]', 'MSE[-1,1]', '%.5f'),
             Column('mse_01', 'MSE [0,1]', 'MSE[0,1]', '%.5f'),
             Column('psnr_db', 'PSNR (dB)', 'PSNR (dB)', '%.2f'))

  def accumulator(self, context):  # pylint: disable=unused-argument
    return _PixelAccumulator()


class FidContext(collections.namedtuple('FidContext', ['sess', 'ops', 'references',
                                                        'method', 'batch_size', 'roots'])):
  """What the FID metric needs: a session on `fid.build_extractor`'s ops, the reference
  Gaussians {'train': g[, 'heldout': g]} (fid.real_statistics), the Frechet method, the
  Inception batch size, and `roots`, a dict that keeps each reference's matrix square root
  once computed (pass {})."""


class _FidAccumulator:

  def __init__(self, context):
    self._context, self._roots, self._features = context, context.roots, []

  def add(self, images, outputs):  # pylint: disable=unused-argument
    c = self._context
    for start in range(0, len(outputs), c.batch_size):
      self._features.append(c.sess.run(
          c.ops['features'], {c.ops['images']: outputs[start:start + c.batch_size]}))

  def values(self, gaussian=None, num_images=None, skip=()):
    """FID against every reference but `skip`; of `gaussian` instead of the added images
    when given (a reference's own statistics)."""
    # Imported here: this module's columns stay readable without TensorFlow (glo-compare's
    # --help), which importing the fid package loads.
    from glo_tf1.evaluation.fid import frechet  # pylint: disable=import-outside-toplevel
    if gaussian is None:
      features = np.concatenate(self._features)
      gaussian, num_images = frechet.gaussian(features), len(features)
    c = self._context
    out = {'num_images': int(num_images)}
    for ref_name, ref in c.references.items():
      if ref_name in skip:
        continue
      use_factors = c.method == 'eigh'
      root = None
      if use_factors and gaussian['factor'] is None and ref['factor'] is None:
        root = self._roots.get(ref_name)
        if root is None:
          root = self._roots[ref_name] = frechet.psd_sqrt(ref['sigma'])
      out['fid_' + ref_name], _ = frechet.frechet_distance(
          gaussian['mu'], gaussian['sigma'], ref['mu'], ref['sigma'], method=c.method,
          sqrt_sigma2=root, factor1=gaussian['factor'] if use_factors else None,
          factor2=ref['factor'] if use_factors else None)
    return out


class Fid:
  """Fréchet Inception Distance (glo_tf1/evaluation/fid/) of the images against the real
  training (and held-out) images; GLANN (Hoshen et al. 2019) reports it for GLO."""
  name = 'fid'
  pairs = False
  columns = (Column('fid_train', 'FID vs train', 'FID', '%.2f'),
             Column('fid_heldout', 'FID vs held-out', 'FID (held-out ref.)', '%.2f'))

  def accumulator(self, context):
    return _FidAccumulator(context)


METRICS = {'pixel': Pixel(), 'fid': Fid()}


def columns():
  """Every metric's columns, in METRICS order."""
  return [c for m in METRICS.values() for c in m.columns]


def column(key):
  """The Column of a section key (None for a key that is no metric's)."""
  return {c.key: c for c in columns()}.get(key)
