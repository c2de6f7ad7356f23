"""Metrics on Inception features beside FID: KID, precision and recall, memorisation.

numpy only, on the [N, 2048] pool_3 features the FID already computes (no second pass over
the images); evaluation/metrics.py registers them.

* KID (Bińkowski, Sutherland, Arbel, Gretton, "Demystifying MMD GANs", ICLR 2018): the
  unbiased estimate of the squared maximum mean discrepancy with the cubic polynomial
  kernel k(x, y) = (x.y / d + 1)^3, d the feature dimension, averaged over `num_subsets`
  random subsets of min(subset_size, n) features of each set (their code: 100 subsets of
  1,000), with its standard deviation over the subsets. Unbiased, so near 0 (and
  sometimes below it) for two samples of one distribution, at any count.
* Precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen, Aila, "Improved
  Precision and Recall Metric for Assessing Generative Models", NeurIPS 2019): each set's
  manifold is the union of balls around its features, each of radius the distance to
  its k-th nearest neighbour in its own set (k = 3); precision is the share of generated
  features inside the real manifold, recall the share of real features inside the
  generated one. The paper used VGG-16 features; ours are Inception's, so the values are
  not comparable with theirs.
* Memorisation: each generated image's distance to its nearest training image against
  the held-out images' distances to theirs (both in feature space). A generator that
  copies its training set puts its images closer to training images than unseen real
  images are.
"""
import numpy as np

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PR_K = 3


def _f64(x):
  return np.asarray(x, np.float64)


def polynomial_kernel(x, y):
  """(x.y / d + 1)^3 for every pair of rows: [m, d] x [n, d] -> [m, n]."""
  return (_f64(x) @ _f64(y).T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y):
  """The unbiased MMD^2 U-statistic of two feature sets (at least 2 rows each) with the
  polynomial kernel: the within-set means leave out the diagonal (i = j)."""
  return _mmd2(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))


def _mmd2(kxx, kyy, kxy):
  m, n = len(kxx), len(kyy)
  return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) +
               (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2.0 * kxy.mean())


# Up to this many kernel values (200 MB in float64), kid() computes the three kernel
# matrices of the whole sets once and reads each subset's from them (at n = 2,000 a
# tenth of the work of 100 subsets of 1,000); above it, each subset's own (n = 10,000:
# the whole matrices would be 2.4 GB and more work than the subsets).
KID_FULL_KERNEL_MAX = 25000000


def kid(x, y, num_subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=0,
        full_kernel_max=KID_FULL_KERNEL_MAX):
  """(mean, standard deviation) of mmd2_unbiased over `num_subsets` pairs of random
  subsets of m = min(subset_size, len(x), len(y)) rows, drawn without replacement with
  RandomState(seed). When m covers both sets every subset is the whole set (the statistic
  does not depend on the order): one estimate, deviation 0."""
  m = min(subset_size, len(x), len(y))
  if m < 2:
    raise ValueError('KID needs at least 2 features in each set, got %d and %d'
                     % (len(x), len(y)))
  if m == len(x) == len(y):
    return mmd2_unbiased(x, y), 0.0
  rng = np.random.RandomState(seed)
  subsets = [(rng.choice(len(x), m, replace=False), rng.choice(len(y), m, replace=False))
             for _ in range(num_subsets)]
  if (len(x) + len(y)) ** 2 <= full_kernel_max:
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    values = [_mmd2(kxx[np.ix_(i, i)], kyy[np.ix_(j, j)], kxy[np.ix_(i, j)])
              for i, j in subsets]
  else:
    values = [mmd2_unbiased(x[i], y[j]) for i, j in subsets]
  return float(np.mean(values)), float(np.std(values, ddof=1) if len(values) > 1 else 0.0)


def pairwise_distances(x, y):
  """Euclidean distances of every row of x to every row of y, [m, n] in float64
  (|a|^2 + |b|^2 - 2 a.b, clipped at 0)."""
  x, y = _f64(x), _f64(y)
  d2 = np.sum(x * x, axis=1)[:, None] + np.sum(y * y, axis=1)[None, :] - 2.0 * x @ y.T
  return np.sqrt(np.maximum(d2, 0.0))


def _rows(x, y, reduce, chunk=1024):
  """reduce(distances of a chunk of x's rows to every row of y, the chunk's start) for
  each chunk, concatenated: memory of chunk x len(y), never len(x) x len(y) (10,000
  images would take 800 MB)."""
  return np.concatenate([reduce(pairwise_distances(x[start:start + chunk], y), start)
                         for start in range(0, len(x), chunk)])


def knn_radii(x, k=PR_K):
  """Each row's distance to its k-th nearest other row of x (itself excluded)."""
  if len(x) <= k:
    raise ValueError('precision and recall need more than k = %d features, got %d'
                     % (k, len(x)))
  # Column 0 of the partition is the row itself (distance 0, or a duplicate's 0).
  return _rows(x, x, lambda d, _: np.partition(d, k, axis=1)[:, k])


def coverage(points, centres, radii):
  """The share of `points` inside at least one ball (centres[j], radii[j])."""
  return float(np.mean(_rows(points, centres,
                             lambda d, _: np.any(d <= radii[None, :], axis=1))))


def precision_recall(real, generated, k=PR_K, real_radii=None):
  """(precision, recall) of Kynkäänniemi et al. 2019 with k-NN balls (module doc);
  real_radii: knn_radii(real, k) computed once for several generated sets."""
  real_radii = knn_radii(real, k) if real_radii is None else real_radii
  precision = coverage(generated, real, real_radii)
  recall = coverage(real, generated, knn_radii(generated, k))
  return precision, recall


def nearest_distances(x, reference):
  """Each row of x's distance to its nearest row of `reference`."""
  return _rows(x, reference, lambda d, _: d.min(axis=1))


def memorisation(generated, train, heldout):
  """How close generated images come to training images, against unseen real images:
  d_g = each generated feature's distance to its nearest training feature, d_h = each
  held-out feature's. Returns memorised_p5 and memorised_median (the share of d_g below
  the 5th percentile and the median of d_h: 0.05 and 0.5 for a generator whose images
  are as novel as held-out ones, 1.0 for copies of training images), nn_train_median
  (median d_g) and nn_heldout_median (median d_h)."""
  d_g, d_h = nearest_distances(generated, train), nearest_distances(heldout, train)
  p5, median = np.percentile(d_h, 5), np.median(d_h)
  return {'memorised_p5': float(np.mean(d_g < p5)),
          'memorised_median': float(np.mean(d_g < median)),
          'nn_train_median': float(np.median(d_g)), 'nn_heldout_median': float(median)}
