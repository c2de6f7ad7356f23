"""A trained run as a Python object: numpy in, numpy out (glo_tf1.load).

  run = glo_tf1.load('runs/demo/run')
  images = run.sample(16, kind='full', seed=0)    # [16, S, S, C] in [-1, 1]
  recons = run.reconstruct(images, steps=200)     # codes fitted with the decoder frozen
  z = run.codes()                                 # the learned codes [N, dims], raw
  run.close()

It owns a graph and a session, restores the run's checkpoint once, and builds every op
once: the generation graph (generation.py) and the code fitting of GLO's reconstructions
(the decoder frozen, the run's loss, projection and codes optimizer). glo-evaluate,
glo-figures and glo-sample use these very functions, so a number computed in a notebook
is the number a report gives for the same seed.

Images are float [n, S, S, C] in [-1, 1] (C: the run's --channels, 3 or 1), as the
trainer sees them (`load_images` reads files that way). Codes are raw (before the
projection) unless `projected=True`: the decoder projects what it is given, so
decode(codes()) reproduces the training images.
"""
import numpy as np

from glo_tf1 import checks
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import runs
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import fitting
from glo_tf1.rundir import checkpoints as run_checkpoints

DEFAULT_CODE_STEPS = 1000  # glo-evaluate's --steps
# The learned codes' MSE in inference mode (moving batch-norm statistics) above this many
# times their MSE in training mode (each batch's statistics) is warned about: measured on
# the demo, 43x at step 300 (the moving variance of the first layer still held 0.99^300 =
# 4.9% of its initial 1.0, 44x the layer's variance) and 0.5-0.6x from step 1000 on.
BATCH_NORM_FACTOR = 2.0


def batch_norm_warning(mse_inference, mse_batch_stats, cfg, step):
  """The warning text when the learned codes decode more than BATCH_NORM_FACTOR times
  worse with the moving statistics than with the batches' own, else None."""
  if cfg['normalizer'] != 'batch_norm' or mse_inference <= BATCH_NORM_FACTOR * mse_batch_stats:
    return None
  decay = cfg['batch_norm_decay']
  return ('the learned codes decode %.1fx worse with batch norm\'s moving statistics '
          '(inference mode, MSE %.4g: every figure and number here) than with each batch\'s '
          'own (training mode, MSE %.4g); at step %s the moving averages (decay %g) still '
          'carry %.1f%% of their initial values. Train longer (about %d more steps bring it '
          'under 0.1%%) before citing or showing this checkpoint.'
          % (mse_inference / mse_batch_stats, mse_inference, mse_batch_stats, step, decay,
             100. * decay ** int(step or 0),
             max(0, int(np.ceil(np.log(1e-3) / np.log(decay))) - int(step or 0))))


def _count(value, name, low=0):
  """`value` as an int, refused (ValueError naming `name`) unless an integer >= low."""
  if not checks.is_int(value) or value < low:
    raise ValueError('%s must be an integer >= %d, got %r' % (name, low, value))
  return int(value)


def check_seed(seed):
  """`seed` as numpy's RandomState takes it: an integer in [0, 2**32), or a list of them
  (ValueError naming the seed otherwise, rather than numpy's error or a wrapped value)."""
  parts = list(seed) if isinstance(seed, (list, tuple)) else [seed]
  if not parts or not all(checks.is_int(p) and 0 <= p < 2 ** 32 for p in parts):
    raise ValueError('seed must be an integer in [0, 2**32) or a list of them, got %r'
                     % (seed,))
  return seed


def _finite(x, what):
  """Refuses NaN and inf in `x` (ValueError naming `what` and the first bad row)."""
  bad = ~np.isfinite(x)
  if bad.any():
    raise ValueError('%s hold %d NaN or inf value(s) (first in row %d)'
                     % (what, int(bad.sum()), int(np.argwhere(bad)[0][0])))


# ----------------------------------------------------------------------------- code fitting

def fit_codes(sess, fit, cfg, images, steps, num_train, rng):
  """(raw codes, reconstructions) of one batch of `images` (at most the graph's batch)
  after `steps` optimizer steps of fresh codes, the decoder frozen (fitting.build_code_fitting)."""
  batch_size = fit['images'].get_shape().as_list()[0]
  padded = generation.pad_batch(images, batch_size)
  sess.run(fit['reset'], {fit['init']: fitting.initial_codes(cfg, num_train, padded, rng),
                          fit['images']: padded})
  for _ in range(steps):
    sess.run(fit['step'])
  codes, recon = sess.run([fit['codes'], fit['reconstructions']])
  return codes[:len(images)], recon[:len(images)]


def _first_bad(idx, num):
  flat = idx.reshape(-1)
  if idx.dtype.kind not in 'iu':
    return '%s values (e.g. %r)' % (idx.dtype, flat[0].item())
  return repr(int(next(i for i in flat if i < 0 or i >= num)))


# ----------------------------------------------------------------------------- the object

class TrainedRun:
  """A run directory's checkpoint, loaded in a graph and session of its own.

  Args:
    run_dir: a run directory written by glo-train.
    checkpoint: a step or a path (default: the newest checkpoint; a torn one is refused).
    data_dir: the training images (default: provenance.json's); only `load_images` of
      training files and `reconstructions` of them need them: a run whose images are
      elsewhere still loads (`paths` is then None).
    batch_size: the decoder's static batch (default: the run's); inputs of any length are
      processed in chunks of it. Code fitting sees the loss at this batch size.
    verify: check the training images against the run's manifest (slow on big sets).
    run: a runs.read_run result already read (the evaluation reads it before).
    **graph_options: of generation.build_generation_graph (fit_projected, k, interp_*).
  """

  def __init__(self, run_dir, checkpoint=None, data_dir=None, batch_size=None,
               verify=False, run=None, **graph_options):
    self.run_dir = run_dir
    self.info = run or runs.read_run(run_dir, data_dir, verify=verify, need_data=False)
    self.cfg = self.info['cfg']
    self.names, self.paths = self.info['names'], self.info['paths']
    self.num_codes = len(self.names)
    self.batch_size = batch_size or self.cfg['batch_size']
    run_checkpoints.latest_checkpoint(run_dir, checkpoint)  # is there one? (no build yet)
    self.graph_ = tf.Graph()
    with self.graph_.as_default():
      self.ops = generation.build_generation_graph(self.cfg, self.num_codes,
                                                   batch_size=self.batch_size,
                                                   **graph_options)
      self.fit = fitting.build_code_fitting(self.cfg, self.batch_size)
      self._projected = codes_lib.project(self.ops['codes'], self.cfg['projection'])
      self._projected_gathered = codes_lib.project(self.ops['gathered'],
                                                   self.cfg['projection'])
      init_eval = tf.variables_initializer(tf.global_variables('eval'))
    self.session = tf.Session(graph=self.graph_)
    try:
      self.session.run(init_eval)
      self.checkpoint = runs.restore_variables(self.session, run_dir,
                                               self.ops['restore_vars'], checkpoint)
    except BaseException:
      self.session.close()
      raise
    self.step = run_checkpoints.checkpoint_step(self.checkpoint)
    self.graph_.finalize()  # every op is built: a call never grows the graph

  # -- numpy in, numpy out
  def decode(self, z, batch_stats=False):
    """Raw codes [n, dims] -> images [n, S, S, C] in [-1, 1] (projected, then decoded in
    inference mode, as the post's generation). batch_stats: in training mode instead,
    each chunk of `batch_size` codes normalised by its own batch-norm statistics, as the
    training loss saw them (glo-evaluate's batch-statistics check)."""
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != self.cfg['latent_dims']:
      raise ValueError('codes must be [n, %d] (latent_dims of %s), got shape %s'
                       % (self.cfg['latent_dims'], self.run_dir, z.shape))
    _finite(z, 'codes')
    zero = np.flatnonzero(np.sqrt(np.sum(np.square(z), axis=1)) == 0)  # float32, as TF
    if zero.size and self.cfg['projection'] == 'sphere':
      raise ValueError('codes row %d has norm 0 (in float32): the sphere projection '
                       'z / ||z|| is undefined for it (%d such row(s))' % (zero[0], zero.size))
    return generation.decode_codes(self.session, self.ops, z, batch_stats)

  def batch_norm_check(self, max_images=64, seed=0):
    """(MSE in inference mode, MSE in training mode, warning or None) of the learned codes
    of at most `max_images` training images (files.seeded_subset; 0: all):
    batch_norm_warning."""
    if self.paths is None:
      raise ValueError('the training images of %s are not found: the check needs them'
                       % self.run_dir)
    max_images = _count(max_images, 'max_images')
    idx = files.seeded_subset(self.num_codes, max_images,
                              np.random.RandomState([check_seed(seed), 7]))
    images = self.load_images([self.paths[i] for i in idx]).astype(np.float64)
    z = self.codes(indices=idx)
    mse = [float(np.mean((self.decode(z, batch_stats=b) - images) ** 2)) for b in (False, True)]
    return mse[0], mse[1], batch_norm_warning(mse[0], mse[1], self.cfg, self.step)

  def sample_codes(self, n, kind='full', seed=0, noise=None):
    """n raw codes of a sampler (settings.SAMPLERS: unit N(0, I), fitted diagonal
    Gaussian, full covariance), from numpy.random.RandomState(seed)'s standard normal
    noise, or from `noise` [n, dims] when given."""
    if kind not in generation.SAMPLERS:
      raise ValueError('kind must be one of %s, got %r' % (', '.join(generation.SAMPLERS),
                                                          kind))
    n, dims = _count(n, 'n'), self.cfg['latent_dims']
    if noise is None:
      noise = np.random.RandomState(check_seed(seed)).standard_normal((n, dims))
    noise = np.asarray(noise, np.float32)
    if noise.shape != (n, dims):
      raise ValueError('noise must be [n, %d] = [%d, %d] for n = %d, got shape %s'
                       % (dims, n, dims, n, noise.shape))
    _finite(noise, 'noise')
    return self.session.run(self.ops['sampled_' + kind],
                            {self.ops['noise']: noise})

  def sample(self, n, kind='full', seed=0, noise=None):
    """n images [n, S, S, C] in [-1, 1] of a sampler (see sample_codes)."""
    return self.decode(self.sample_codes(n, kind, seed, noise))

  def codes(self, projected=False, indices=None):
    """The learned codes [N, dims] of the training images in manifest order (`names`), or
    of `indices`; raw (as stored) or `projected` (as the decoder sees them)."""
    if indices is None:
      return self.session.run(self._projected if projected else self.ops['codes'])
    idx = np.asarray(indices)
    if idx.size and (idx.dtype.kind not in 'iu' or idx.min() < 0 or
                     idx.max() >= self.num_codes):
      raise ValueError('indices must be integers in [0, %d) (the training images of %s), '
                       'got %s' % (self.num_codes, self.run_dir, _first_bad(idx, self.num_codes)))
    return self.session.run(self._projected_gathered if projected else self.ops['gathered'],
                            {self.ops['index']: idx.astype(np.int32)})

  def fit_codes(self, images, steps=DEFAULT_CODE_STEPS, seed=0, progress=None):
    """(raw codes [n, dims], reconstructions [n, S, S, C]) of `images` [n, S, S, C] in
    [-1, 1]: fresh codes optimised `steps` steps against the frozen decoder, batch by
    batch, as glo-evaluate does (the same initial codes for the same seed).
    progress: optional progress.Progress, updated with the images done."""
    images = self._check_images(images)
    steps = _count(steps, 'steps')
    rng = np.random.RandomState(check_seed(seed))
    codes, recons = [], []
    for start in range(0, len(images), self.batch_size):
      z, r = fit_codes(self.session, self.fit, self.cfg, images[start:start + self.batch_size],
                       steps, self.num_codes, rng)
      codes.append(z)
      recons.append(r)
      if progress:
        progress.update(start + len(z))
    if not codes:
      return (np.zeros((0, self.cfg['latent_dims']), np.float32), images[:0])
    return np.concatenate(codes), np.concatenate(recons)

  def reconstruct(self, images, steps=DEFAULT_CODE_STEPS, seed=0):
    """GLO's reconstructions of `images` (fit_codes, without the codes)."""
    return self.fit_codes(images, steps, seed)[1]

  def load_images(self, paths):
    """Images [n, S, S, C] in [-1, 1] of image files, cropped and resized as training (C:
    the run's channels). A file that is missing or does not decode: files.DataError
    naming it (the data check, run on the batch that failed)."""
    paths = [str(p) for p in paths]
    out = [self._load_batch(paths[i:i + 256]) for i in range(0, len(paths), 256)]
    return np.concatenate(out) if out else np.zeros(
        (0, self.cfg['image_size'], self.cfg['image_size'], self.cfg['channels']), np.float32)

  def _load_batch(self, paths):
    try:
      return generation.load_images(self.session, self.ops, paths)
    except tf.errors.OpError:
      data_check.check_decodable('', paths, 'given')
      raise  # the check found nothing: TensorFlow's own error

  def _check_images(self, images):
    images = np.asarray(images, np.float32)
    size, c = self.cfg['image_size'], self.cfg['channels']
    if images.ndim != 4 or images.shape[1:] != (size, size, c):
      raise ValueError('images must be [n, %d, %d, %d] (the image_size and channels of %s), '
                       'got shape %s' % (size, size, c, self.run_dir, images.shape))
    _finite(images, 'images')
    if images.size and (images.min() < -1 or images.max() > 1):
      raise ValueError('images must be floats in [-1, 1] (as load_images returns), got '
                       'values in [%g, %g]; pixels in [0, 255] map as x / 127.5 - 1'
                       % (images.min(), images.max()))
    return images

  # -- lifetime
  def close(self):
    """Frees the session; the object is unusable afterwards."""
    self.session.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def __repr__(self):
    return '<glo_tf1 TrainedRun %s: preset %s, step %s, %d codes of %d dims, %d px>' % (
        self.run_dir, self.cfg['preset'], self.step, self.num_codes, self.cfg['latent_dims'],
        self.cfg['image_size'])


def load(run_dir, checkpoint=None, **kwargs):
  """A trained run, loaded (TrainedRun); close it, or use it as a context manager."""
  return TrainedRun(run_dir, checkpoint, **kwargs)
