"""The linear baseline of the GLO paper: PCA of the training images with the code size.

Bojanowski et al. compare GLO with a linear model of the same latent dimension: the first
`dims` principal components of the training images. `fit` finds them from a stream of
image batches, so memory stays bounded at CelebA's size (128 px images have 49,152 pixel
values; their covariance would not fit):

  exact       when the fitting images fit in `max_bytes` (as float64): an SVD of all of
              them, the optimal rank-`dims` linear model of those images.
  randomized  otherwise: randomized subspace iteration (Halko, Martinsson, Tropp 2011,
              algorithms 4.3/4.4 with a QR per pass), streamed: one pass over the images for
              the mean and the random range, then `power_iterations` passes, each
              multiplying by Xc^T Xc; memory is a few (pixels x (dims + oversample))
              float64 matrices. The report says which ran and the variance it captured.

Images are the float images the trainer sees (cropped, resized, in [-1, 1]); projection
and reconstruction are in float64: x' = mean + V V^T (x - mean), not clipped to [-1, 1].
This module only does numpy; evaluation/report.py feeds it decoded batches.

Under an address-space limit (`ulimit -v`, RLIMIT_AS), which TensorFlow's libraries,
threads and malloc arenas fill to within a few MB, the BLAS library's first large call
could not map its work buffers: OpenBLAS then exits ("Memory allocation still failed")
or, in older versions, segfaults (exit 139). `fit` checks the space it needs first and
refuses, saying how much (`AddressSpaceError`).
"""
import resource

import numpy as np

from glo_tf1 import settings

# Address space the BLAS library maps for its work buffers on top of the arrays (OpenBLAS
# 0.3.31 on this project's machine: 4 to 36 MB at the first SVD), with a margin: a
# process within a few MB of its limit is refused before the work, not killed in it.
BLAS_RESERVE = 64 << 20
BATCH = 128  # images per batch of the stream (report.fit_pca's chunk), for the estimate
MAX_BYTES = 256 << 20  # fit's default: the images held in memory (exact SVD) up to this


class AddressSpaceError(settings.UserError):
  """The address-space limit leaves too little for the fit; the message says how much."""


def fit_bytes(num_images, pixels, dims, max_bytes=MAX_BYTES, oversample=10):
  """About the most memory `fit` holds at once (its arrays, LAPACK's copy and work, the
  BLAS buffers), in bytes: the exact method holds the images, the randomized one a few
  (pixels x (dims + oversample)) matrices."""
  k = min(dims, num_images - 1, pixels)
  if num_images * pixels * 8 <= max_bytes:
    m = min(num_images, pixels)
    # The batches and their concatenation, LAPACK's copy of it, U, V^T and gesdd's work.
    arrays = 3 * num_images * pixels + m * pixels + num_images * m + 4 * m * m
  else:
    width = min(k + oversample, num_images, pixels)
    arrays = 5 * pixels * width + 2 * num_images * width + 3 * BATCH * pixels
  return 8 * arrays + BLAS_RESERVE


def address_space_left():
  """(bytes left, limit in bytes) under the address-space limit (RLIMIT_AS), or None
  without a limit or without /proc/self/status to tell the space in use."""
  soft, _ = resource.getrlimit(resource.RLIMIT_AS)
  if soft == resource.RLIM_INFINITY:
    return None
  try:
    with open('/proc/self/status', encoding='ascii', errors='replace') as f:
      used = next(int(line.split()[1]) * 1024 for line in f if line.startswith('VmSize:'))
  except (OSError, StopIteration, ValueError, IndexError):
    return None
  return soft - used, soft


def check_address_space(need):
  """Refuses when the address-space limit leaves less than `need` bytes.

  Raises:
    AddressSpaceError: naming the limit, what it leaves and what is needed.
  """
  space = address_space_left()
  if space is None or space[0] >= need:
    return
  left, limit = space
  mb = lambda n: max(n, 0) / 2. ** 20
  raise AddressSpaceError(
      'the PCA baseline needs about %.0f MB of address space, and the limit (ulimit -v %d) '
      'leaves %.0f MB of it free, %.0f MB being mapped: raise the limit well above %.0f MB '
      '(TensorFlow maps what a limit allows), fit on fewer images (--pca_max_images) or '
      'skip the baseline (--nopca)'
      % (mb(need), limit // 1024, mb(left), mb(limit - left), mb(limit - left + need)))


def _flat(batch):
  return np.asarray(batch, np.float64).reshape(len(batch), -1)


def fit(batches, num_images, dims, seed=0, max_bytes=MAX_BYTES, power_iterations=4,
        oversample=10):
  """The first `dims` principal components of a stream of images.

  Args:
    batches: a function returning a fresh iterator of image batches [b, ...] (the same
      `num_images` images in the same order each call; called once per pass).
    num_images: the images the iterator yields in all.
    dims: components wanted; fewer when the images have a smaller rank bound
      (min(num_images - 1, pixel values)).
    seed: of the random test matrix (randomized method).
    max_bytes: the images are held in memory (exact SVD) when they fit as float64.
    power_iterations: passes of subspace iteration after the first (randomized method).
    oversample: extra columns of the random subspace (randomized method).
  Raises:
    AddressSpaceError: the address-space limit (ulimit -v) leaves too little for it.
  Returns:
    dict: mean [D], components [D, k] float64 with orthonormal columns, singular values
    [k], method ('exact' or 'randomized'), passes (over the images), num_images, dims
    (asked), total_variance and explained_variance (sums of squared deviations from the
    mean: all of them, and those the k components capture).
  """
  if num_images < 2:
    raise ValueError('PCA needs at least 2 images, got %d' % num_images)
  first = next(iter(batches()))
  d = int(np.prod(np.shape(first)[1:]))
  k = min(dims, num_images - 1, d)
  check_address_space(fit_bytes(num_images, d, dims, max_bytes, oversample))
  if num_images * d * 8 <= max_bytes:
    return _fit_exact(batches, num_images, dims, k)
  return _fit_randomized(batches, num_images, dims, k, d, seed, power_iterations,
                         oversample)


def _fit_exact(batches, num_images, dims, k):
  """`fit` by an SVD of all the images, held in memory."""
  x = np.concatenate([_flat(b) for b in batches()])
  mean = x.mean(axis=0)
  x -= mean
  _, s, vt = np.linalg.svd(x, full_matrices=False)
  total = float(np.sum(s ** 2))
  return _result(mean, vt[:k].T, s[:k], 'exact', 1, num_images, dims, total)


def _fit_randomized(batches, num_images, dims, k, d, seed, power_iterations, oversample):
  """`fit` by streamed randomized subspace iteration (see module doc)."""
  rng = np.random.RandomState(seed)
  width = min(k + oversample, num_images, d)
  omega = rng.standard_normal((num_images, width))
  total_sum, sq_sum, y, start = np.zeros(d), 0.0, np.zeros((d, width)), 0
  for batch in batches():  # pass 1: the mean and X^T omega
    x = _flat(batch)
    total_sum += x.sum(axis=0)
    sq_sum += float(np.sum(x ** 2))
    y += x.T @ omega[start:start + len(x)]
    start += len(x)
  mean = total_sum / num_images
  y -= np.outer(mean, omega.sum(axis=0))  # Xc^T omega = X^T omega - mean (1^T omega)
  total = sq_sum - num_images * float(mean @ mean)
  q = np.linalg.qr(y)[0]
  for _ in range(max(power_iterations, 1)):  # each pass: B = Xc Q, then Y = Xc^T B
    b_rows, y = [], np.zeros((d, width))
    for batch in batches():
      xc = _flat(batch) - mean
      b = xc @ q
      b_rows.append(b)
      y += xc.T @ b
    b_all = np.concatenate(b_rows)
    q_used, q = q, np.linalg.qr(y)[0]
  # Xc ~= B Q^T with B = U S W^T: the right singular vectors are Q W.
  _, s, wt = np.linalg.svd(b_all, full_matrices=False)
  components = q_used @ wt[:k].T
  return _result(mean, components, s[:k], 'randomized', 1 + max(power_iterations, 1),
                 num_images, dims, total)


def _result(mean, components, singular, method, passes, num_images, dims, total):
  return {'mean': mean, 'components': components, 'singular_values': singular,
          'method': method, 'passes': passes, 'num_images': num_images, 'dims': dims,
          'total_variance': total, 'explained_variance': float(np.sum(singular ** 2))}


def reconstruct(model, images):
  """Reconstructions of images [n, ...] from their `dims` PCA coefficients, float64."""
  x = _flat(images) - model['mean']
  v = model['components']
  return ((x @ v) @ v.T + model['mean']).reshape(np.shape(images))


def describe(model):
  """The report's record of a fit (no arrays)."""
  return {'components': int(model['components'].shape[1]), 'dims': model['dims'],
          'fit_images': model['num_images'], 'method': model['method'],
          'passes': model['passes'],
          'explained_variance_ratio': (model['explained_variance'] /
                                       max(model['total_variance'], 1e-300))}
