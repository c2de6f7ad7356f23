"""The metrics of an evaluation report, and the declarations its sections derive from.

A report section is one metric of one image set made by one reconstructor. Each metric
declares everything the report and glo-compare need, so neither lists a section, a unit
or a wording of its own:

  name, columns    its registry name; its Columns (key, header, short name, format, unit)
  applies          {image set: reconstructors} it measures ('samplers': every sampler of
                   model/samplers.py's registry), in the report's row order
  context          the name of what it needs besides the images (None: nothing; 'inception':
                   InceptionContext, the Inception features computed once per image set and
                   shared by every metric of that context)
  tag, note, cost  the rows' parenthesis ("(FID)"), a sentence under the table, what it costs
  label, seconds, setup_seconds  its part in the cost estimate (estimate.py): the seconds of
                   one section of n images against references {name: images} at the
                   probe's rates, and once per evaluation (0: negligible)
  section_name     its sections' names (report.json keys)
  pairs            whether it needs the real images the outputs reconstruct
  accumulator(context) -> acc; acc.add(images, outputs) per batch (images: None for
                   samples); acc.values() -> {column key: value, ..., 'num_images': n}

Image sets (IMAGE_SETS) and reconstructors (RECONSTRUCTORS, plus one per sampler) carry
the words of the rows. `sections()` derives every section from METRICS x image sets x
reconstructors; `report.evaluate` runs them and `glo-compare` reads them. Metrics whose
section_name gives the same name share a section (KID, precision/recall and memorisation
are columns of the FID rows).

A new metric: a class (Metric's defaults help) and one METRICS line; a new sampler: its
function and one line of model/samplers.SAMPLER_FNS.
"""
import collections

import numpy as np

# key: the section's key; header: the report's column; short: glo-compare's column;
# fmt: how both print a value; unit: what glo-compare's note says of it (None: nothing);
# nonnegative: a value that cannot be below 0 (FID), or whose display is clamped at 0
# (KID: its unbiased estimate can dip below 0), shown as 0 and never as -0; default: one
# of glo-compare's default columns.
Column = collections.namedtuple('Column', ['key', 'header', 'short', 'fmt', 'unit',
                                           'nonnegative', 'default'],
                                defaults=(None, False, False))

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
  """A value as the tables print it: `fmt`, but "exact" for a PSNR at the cap, and a
  nonnegative column's value clamped at 0 (never "-0.00")."""
  if key == 'psnr_db' and value >= PSNR_EXACT_DB - 1e-9:
    return 'exact'
  col = column(key)
  if col is not None and col.nonnegative:
    value = float(value) if value > 0 else 0.0  # not max(): max(-0.0, 0.0) is -0.0
  return fmt % value


# ----------------------------------------------------------------------------- declarations

# The image sets a section can measure. label, short: the row's and glo-compare's words;
# joiner: between them and the reconstructor's; has_codes: training images, which have
# learned codes (so codes fitted for them are *re*-optimised).
ImageSetKind = collections.namedtuple('ImageSetKind', ['label', 'short', 'joiner',
                                                       'has_codes'])
IMAGE_SETS = {
    'train': ImageSetKind('training images', 'train', ', ', True),       # --max_images
    'heldout': ImageSetKind('held-out images', 'held-out', ', ', False),  # --max_images
    'samples': ImageSetKind('samples', 'samples', ' ', False),            # noise vectors
    'fid_train': ImageSetKind('training images', 'train', ', ', True),   # FID reference's
    'fid_heldout': ImageSetKind('held-out real images', 'held-out real', ', ', False),
}


class Reconstructor(collections.namedtuple('Reconstructor', [
    'label', 'short', 'trained', 'on_training', 'tagged'])):
  """How a section's images are made. label, short: its words in the rows; trained: its
  codes are the trained ones (the markdown's code steps cell says "trained"); on_training:
  (label, short) on images that have learned codes; tagged: its label in rows that carry
  a metric's tag (one parenthesis per row)."""

  def words(self, image_set, tagged=False):
    """(label, short) of this reconstructor on `image_set` (an IMAGE_SETS key)."""
    label, short = self.label, self.short
    if self.on_training and IMAGE_SETS[image_set].has_codes:
      label, short = self.on_training
    if tagged and self.tagged is not None:
      label = self.tagged
    return label, short


def _recon(label, short, trained=False, on_training=None, tagged=None):
  return Reconstructor(label, short, trained, on_training, tagged)


RECONSTRUCTORS = {
    'learned': _recon('learned codes', 'learned codes', trained=True),
    'learned_batch_stats': _recon('learned codes, batch statistics', 'learned (batch stats)',
                                  trained=True),
    'optimised': _recon('codes optimised', '',
                        on_training=('codes re-optimised', 'codes re-optimised')),
    'pca': _recon('PCA (linear baseline)', 'PCA', tagged='PCA'),
    'real': _recon('', ''),  # the image set's own images (a FID reference)
}


def reconstructor(name):
  """The Reconstructor of `name`: RECONSTRUCTORS' or a sampler's (its registry's words)."""
  if name in RECONSTRUCTORS:
    return RECONSTRUCTORS[name]
  sampler = _samplers()[name]
  return _recon(sampler.label, sampler.short)


def expand(names):
  """Reconstructor names with 'samplers' replaced by every registered sampler."""
  out = []
  for name in names:
    out += list(_samplers()) if name == 'samplers' else [name]
  return out


def _samplers():
  """model/samplers.py's registry, imported when first needed: the columns stay readable
  without TensorFlow (glo-compare --help), which that module loads."""
  from glo_tf1.model import samplers  # pylint: disable=import-outside-toplevel
  return samplers.SAMPLER_FNS


class Metric:
  """Defaults of a metric's declarations (module doc)."""
  name = None
  pairs = False
  columns = ()
  applies = {}
  context = None
  reads_heldout_reference = False
  tag = None
  note = None
  cost = None
  label = None

  def seconds(self, n, refs, rates):  # pylint: disable=unused-argument
    return 0.0

  def setup_seconds(self, refs, rates):  # pylint: disable=unused-argument
    return 0.0

  def section_name(self, image_set, recon):
    return '%s_%s_%s' % (self.name, image_set, recon)

  def accumulator(self, context):
    raise NotImplementedError


# A section: one metric of one image set made by one reconstructor. label: the report's
# row; short: glo-compare's column.
Section = collections.namedtuple('Section', ['name', 'label', 'short', 'image_set',
                                             'reconstructor', 'metric'])


def section(metric, image_set, recon):
  """The Section of `metric` (a METRICS value) on (image_set, recon)."""
  kind = IMAGE_SETS[image_set]
  label, short = reconstructor(recon).words(image_set, tagged=bool(metric.tag))
  label = ', '.join(w for w in (kind.label, label) if w)
  if metric.tag:
    label += ' (%s)' % metric.tag
  return Section(metric.section_name(image_set, recon), label,
                 kind.joiner.join(w for w in (kind.short, short) if w), image_set, recon,
                 metric.name)


def sections():
  """Every section the registries make (METRICS x their image sets x their
  reconstructors), in the report's order: a name shared by several metrics once per
  metric, at its first place."""
  out = [section(m, image_set, recon) for m in METRICS.values()
         for image_set, recons in m.applies.items() for recon in expand(recons)]
  first = {}
  for s in out:
    first.setdefault(s.name, len(first))
  return sorted(out, key=lambda s: first[s.name])


def section_order():
  """{section name: its place}, each name once."""
  order = {}
  for s in sections():
    order.setdefault(s.name, len(order))
  return order


# ----------------------------------------------------------------------------- pixels

class _PixelAccumulator:

  def __init__(self):
    self._batches = []

  def add(self, images, outputs):
    self._batches.append(image_metrics(images, outputs))

  def values(self):
    return summarise(*[np.concatenate(m) for m in zip(*self._batches)])


class Pixel(Metric):
  """MSE and PSNR of reconstructions against their images, as the trainer sees them (crop,
  resize, float, no quantisation): mse_pm1 on [-1, 1], mse_01 on [0, 1], psnr_db the mean
  over images of 10 log10(1 / mse_01 of the image). The post reports none of these."""
  name = 'pixel'
  pairs = True
  columns = (Column('mse_pm1', 'MSE [-1,1]', 'MSE[-1,1]', '%.5f'),
             Column('mse_01', 'MSE [0,1]', 'MSE[0,1]', '%.5f'),
             Column('psnr_db', 'PSNR (dB)', 'PSNR (dB)', '%.2f', 'PSNR in dB', default=True))
  applies = {'train': ('learned', 'learned_batch_stats', 'optimised', 'pca'),
             'heldout': ('optimised', 'pca')}
  note = ('MSE over pixels as the trainer sees them, PSNR = mean of 10 log10(1 / MSE[0,1]) '
          'per image')
  protocol = ('images as the trainer sees them (crop, resize, float); mse_pm1 on [-1, 1], '
              'mse_01 on [0, 1], psnr_db = mean over images of 10 log10(1 / mse_01)')
  cost = 'negligible beside the code fitting'
  label = 'MSE and PSNR'

  def section_name(self, image_set, recon):
    """The report's first names: train_learned(_batch_stats), train (codes re-optimised),
    pca_train, heldout, pca_heldout."""
    prefix = 'pca_' if recon == 'pca' else ''
    return prefix + image_set + ('' if recon in ('optimised', 'pca') else '_' + recon)

  def accumulator(self, context):
    return _PixelAccumulator()


# ----------------------------------------------------------------------------- Inception

FEATURE_DIMS = 2048  # Inception's pool_3 features


def pairs_seconds(a, b, rates, element_ops=5):
  """Seconds of the distances or kernel values of a x b feature pairs: a float64 product
  (2 FEATURE_DIMS flops a pair at rates['gflops']) and `element_ops` elementwise passes
  over the a x b values (rates['element_s'] each value), as fid/distances.py computes them."""
  return (2. * FEATURE_DIMS * a * b / (rates['gflops'] * 1e9) +
          element_ops * a * b * rates['element_s'])


class InceptionContext:
  """What the Inception-feature metrics share: a session on `fid.build_extractor`'s ops,
  the references {'train': gaussian[, 'heldout': gaussian]} (fid.references; each with its
  'features'), the Fréchet method, the Inception batch size and KID's subset seed.
  `features(outputs)` runs Inception once per batch of outputs, however many metrics ask;
  `once(key, fn)` keeps what a reference needs across sections (its matrix root, its k-NN
  radii)."""

  def __init__(self, sess, ops, references, method='eigh', batch_size=50, seed=0):
    self.sess, self.ops, self.references = sess, ops, references
    self.method, self.batch_size, self.seed = method, batch_size, seed
    self._cache, self._last = {}, (None, None)

  def features(self, outputs):
    if self._last[0] is not outputs:
      feats = [self.sess.run(self.ops['features'], {
          self.ops['images']: outputs[start:start + self.batch_size]})
               for start in range(0, len(outputs), self.batch_size)]
      self._last = (outputs, np.concatenate(feats))
    return self._last[1]

  def once(self, key, fn):
    if key not in self._cache:
      self._cache[key] = fn()
    return self._cache[key]


class _FeatureAccumulator:
  """Collects a section's Inception features (or stands for a reference's own images,
  `use_reference`) and hands them to its metric's `measure`."""

  def __init__(self, metric, context):
    self._metric, self._context, self._features, self._reference = metric, context, [], None

  def add(self, images, outputs):  # pylint: disable=unused-argument
    self._features.append(self._context.features(outputs))

  def use_reference(self, name):
    """Measure the reference `name`'s own images (no pass over them), not against itself."""
    self._reference = name

  def values(self):
    if self._reference is not None:
      ref = self._context.references[self._reference]
      return dict(self._metric.measure(self._context, ref.get('features'), ref,
                                        skip=(self._reference,)),
                  num_images=int(ref['num_images']))
    features = np.concatenate(self._features)
    return dict(self._metric.measure(self._context, features, None),
                num_images=int(len(features)))


class _InceptionMetric(Metric):
  """A metric of the Inception features of FID (fid/): it shares FID's sections, rows and
  context. measure(context, features, gaussian or None, skip) -> its values against each
  reference but `skip`."""
  context = 'inception'
  tag = 'FID'
  # Every column reads the held-out reference (not only a `_heldout` column): the notes
  # then state its count.
  reads_heldout_reference = False
  applies = {'samples': ('samplers',), 'fid_train': ('learned', 'pca'),
             'heldout': ('optimised', 'pca'), 'fid_heldout': ('real',)}

  def section_name(self, image_set, recon):
    """The report's first names: fid_samples_<sampler>, fid_(pca_)(heldout_)reconstructions,
    fid_heldout_images."""
    if image_set == 'samples':
      return 'fid_samples_' + recon
    return 'fid_%s%s%s' % ('pca_' if recon == 'pca' else '',
                           'heldout_' if image_set in ('heldout', 'fid_heldout') else '',
                           'images' if recon == 'real' else 'reconstructions')

  def accumulator(self, context):
    return _FeatureAccumulator(self, context)

  def references(self, context, skip):
    return [(k, v) for k, v in context.references.items() if k not in skip]


class Fid(_InceptionMetric):
  """Fréchet Inception Distance (glo_tf1/evaluation/fid/) of the images against the real
  training (and held-out) images; GLANN (Hoshen et al. 2019) reports it for GLO. Never
  below 0 in a report: a value below it is round-off (a set against itself), kept as 0."""
  name = 'fid'
  columns = (Column('fid_train', 'FID vs train', 'FID', '%.2f',
                    'FID against the training images', True, default=True),
             Column('fid_heldout', 'FID vs held-out', 'FID (held-out ref.)', '%.2f', None, True))
  cost = 'Inception-v3 over every image set (shared by KID, precision/recall, memorisation)'
  label = 'FID (Frechet distances)'

  def setup_seconds(self, refs, rates):
    """Each reference's matrix root (eigh): once, when it has more images than dimensions."""
    d = FEATURE_DIMS
    return sum(rates['eigh_s'] + 2. * d ** 3 / (rates['gflops'] * 1e9)
               for n in refs.values() if n > d)

  def seconds(self, n, refs, rates):
    """The set's covariance, then per reference an eigh of D x D (or of the images' span,
    the smaller of the counts, when either has fewer images than dimensions)."""
    d, gf = FEATURE_DIMS, rates['gflops'] * 1e9
    out = 2. * n * d * d / gf
    for r in refs.values():
      m = min(n, r, d)
      out += (0.5 * rates['eigh_s'] + 4. * d ** 3 / gf if m == d else
              rates['eigh_s'] * (m / d) ** 3 + 2. * n * r * d / gf)
    return out

  def measure(self, context, features, gaussian, skip=()):
    # Imported here: this module's declarations stay readable without TensorFlow, which
    # importing the fid package loads.
    from glo_tf1.evaluation.fid import frechet  # pylint: disable=import-outside-toplevel
    gaussian = gaussian or frechet.gaussian(features)
    eigh, out = context.method == 'eigh', {}
    for name, ref in self.references(context, skip):
      root = None
      if eigh and gaussian['factor'] is None and ref['factor'] is None:
        root = context.once(('root', name), lambda r=ref: frechet.psd_sqrt(r['sigma']))
      value, _ = frechet.frechet_distance(
          gaussian['mu'], gaussian['sigma'], ref['mu'], ref['sigma'], method=context.method,
          sqrt_sigma2=root, factor1=gaussian['factor'] if eigh else None,
          factor2=ref['factor'] if eigh else None)
      out['fid_' + name] = max(value, 0.0)
    return out


class Kid(_InceptionMetric):
  """Kernel Inception Distance (Bińkowski et al. 2018; fid/distances.py): unbiased, so
  meaningful at the small counts a CPU affords; kid_<ref>_std is its deviation over
  subsets."""
  name = 'kid'
  columns = (Column('kid_train', 'KID vs train', 'KID', '%.4f',
                    'KID (Bińkowski et al. 2018, unbiased MMD^2, cubic kernel) against the '
                    'training images', True),
             Column('kid_heldout', 'KID vs held-out', 'KID (held-out ref.)', '%.4f', None,
                    True))
  note = ('KID: unbiased MMD^2 with the kernel (x.y/2048 + 1)^3 on the same features '
          '(Bińkowski et al. 2018), the mean over 100 subsets of min(1000, n) images, its '
          'deviation in the JSON; an estimate below 0 shows as 0')
  cost = 'KID: 100 subsets of up to 1,000 images, a few seconds per section on a CPU'
  label = 'KID'

  def seconds(self, n, refs, rates):
    """distances.kid against each reference: the whole kernel matrices and each subset's
    from them (up to KID_FULL_KERNEL_MAX values), else each subset's three kernels."""
    from glo_tf1.evaluation.fid import distances  # pylint: disable=import-outside-toplevel
    out = 0.0
    for r in refs.values():
      m = min(distances.KID_SUBSET_SIZE, n, r)
      subsets = 1 if m == n == r else distances.KID_SUBSETS
      if subsets > 1 and (n + r) ** 2 <= distances.KID_FULL_KERNEL_MAX:
        values = n * n + r * r + n * r
        # The kernels once, then each subset's three blocks gathered and summed.
        out += (pairs_seconds(values, 1, rates, 0) + values * rates['cube_s'] +
                subsets * 3 * m * m * 5 * rates['element_s'])
      else:
        out += subsets * (pairs_seconds(3 * m, m, rates, 2) + 3 * m * m * rates['cube_s'])
    return out

  def measure(self, context, features, gaussian, skip=()):
    from glo_tf1.evaluation.fid import distances  # pylint: disable=import-outside-toplevel
    out = {}
    for name, ref in self.references(context, skip):
      if min(len(features), len(ref['features'])) < 2:  # no estimate: the cell stays empty
        continue
      out['kid_' + name], out['kid_%s_std' % name] = distances.kid(
          features, ref['features'], seed=context.seed)
    return out


class PrecisionRecall(_InceptionMetric):
  """Improved precision and recall (Kynkäänniemi et al. 2019, k = 3; fid/distances.py)
  against the training images, on Inception features (the paper's are VGG-16's)."""
  name = 'precision_recall'
  columns = (Column('precision', 'precision', 'precision', '%.3f',
                    'precision and recall against the training images (Kynkäänniemi et al. '
                    '2019, k = 3) on Inception features, not the paper\'s VGG-16: not '
                    'comparable with its values'),
             Column('recall', 'recall', 'recall', '%.3f'))
  note = ('Precision and recall: k-NN manifolds (k = 3) of Kynkäänniemi et al. 2019 against '
          'the training images, on these Inception features; the paper used VGG-16 features, '
          'so the values are not comparable with theirs')
  cost = 'precision/recall: pairwise feature distances of each set and the training reference'
  label = 'precision/recall'

  def setup_seconds(self, refs, rates):
    """The training reference's k-NN radii, once."""
    return pairs_seconds(refs['train'], refs['train'], rates, 15)

  def seconds(self, n, refs, rates):
    """The set's own radii (a partition per row) and the two coverages."""
    return (pairs_seconds(n, n, rates, 15) +
            2 * pairs_seconds(n, refs['train'], rates, 5))

  def measure(self, context, features, gaussian, skip=()):
    from glo_tf1.evaluation.fid import distances  # pylint: disable=import-outside-toplevel
    if 'train' in skip or 'train' not in context.references:
      return {}
    real = context.references['train']['features']
    if min(len(real), len(features)) <= distances.PR_K:  # no k-th neighbour: left empty
      return {}
    radii = context.once(('radii', 'train'), lambda: distances.knn_radii(real))
    precision, recall = distances.precision_recall(real, features, real_radii=radii)
    return {'precision': precision, 'recall': recall}


class Memorisation(_InceptionMetric):
  """Samples against held-out images in their distance to the nearest training image
  (fid/distances.memorisation): GLO keeps a code per training image, so copying them is
  a real risk."""
  name = 'memorisation'
  columns = (Column('memorised_p5', 'memorised', 'memorised', '%.3f',
                    'memorised: the share of samples nearer a training image than 95% of the '
                    'held-out images are (0.05 when as novel as held-out images)'),
             Column('memorised_median', 'nearer than held-out median', '< held-out median',
                    '%.3f'))
  applies = {'samples': ('samplers',)}
  note = ('Memorisation: each sample\'s distance to its nearest training image against the '
          'held-out images\' distances to theirs (Inception features); memorised = the share '
          'of samples nearer than the held-out 5th percentile (0.05 for samples as novel as '
          'held-out images, 1 for copies), then the share nearer than the held-out median '
          '(0.5); nn_train_median and nn_heldout_median in the JSON')
  cost = 'memorisation: the samples\' distances to every training reference image'
  reads_heldout_reference = True  # the held-out images' own nearest distances
  label = 'memorisation'

  def seconds(self, n, refs, rates):
    """The samples' and the held-out images' nearest training reference image."""
    if 'heldout' not in refs:
      return 0.0
    return pairs_seconds(n + refs['heldout'], refs['train'], rates, 5)

  def measure(self, context, features, gaussian, skip=()):
    from glo_tf1.evaluation.fid import distances  # pylint: disable=import-outside-toplevel
    refs = context.references
    if 'train' not in refs or 'heldout' not in refs:
      return {}
    return distances.memorisation(features, refs['train']['features'],
                                  refs['heldout']['features'])


# The metric registry: a new metric is its class and one line here.
METRICS = {'pixel': Pixel(), 'fid': Fid(), 'kid': Kid(),
           'precision_recall': PrecisionRecall(), 'memorisation': Memorisation()}


def columns():
  """Every metric's columns, in METRICS order."""
  return [c for m in METRICS.values() for c in m.columns]


def default_metrics():
  """glo-compare's default columns: the keys of the columns declared `default`."""
  return tuple(c.key for c in columns() if c.default)


def column(key):
  """The Column of a section key (None for a key that is no metric's)."""
  return {c.key: c for c in columns()}.get(key)
