"""The Frechet distance between two Gaussians fitted to features, and the fits."""
import warnings

import numpy as np
import scipy.linalg

from glo_tf1 import settings

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


METHODS = settings.FID_METHODS


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
  agree to ~1e-10 relative (tests/evaluation/test_fid.py). `sqrt_sigma2`, psd_sqrt(sigma2) computed
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
    trace_covmean = _trace_sqrt_eigh(sigma1, sigma2, sqrt_sigma2, factor1, factor2)
  else:
    trace_covmean = _trace_sqrt_sqrtm(sigma1, sigma2, eps, info)
  distance = float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_covmean)
  return distance, info


def _trace_sqrt_eigh(sigma1, sigma2, sqrt_sigma2, factor1, factor2):
  """tr((sigma1 sigma2)^1/2) by a symmetric eigendecomposition (frechet_distance's
  'eigh'), in the images' span when factors are given."""
  if factor1 is not None and factor2 is not None:
    return float(scipy.linalg.svdvals(factor1 @ factor2.T).sum())
  if factor1 is not None:
    inner = factor1 @ sigma2 @ factor1.T
  elif factor2 is not None:
    inner = factor2 @ sigma1 @ factor2.T
  else:
    root2 = psd_sqrt(sigma2) if sqrt_sigma2 is None else sqrt_sigma2
    inner = root2 @ sigma1 @ root2
  inner = scipy.linalg.eigh((inner + inner.T) / 2.0, eigvals_only=True, driver='evr')
  return float(np.sqrt(np.clip(inner, 0.0, None)).sum())


def _sqrtm(a):
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')  # singular / ill-conditioned: handled by the caller
    return scipy.linalg.sqrtm(a)


def _trace_sqrt_sqrtm(sigma1, sigma2, eps, info):
  """tr((sigma1 sigma2)^1/2) by scipy's sqrtm, TTUR's way (frechet_distance's 'sqrtm'):
  records the eps offset and the imaginary part dropped in `info`."""
  covmean = _sqrtm(sigma1.dot(sigma2))
  if not np.isfinite(covmean).all():
    info['eps_offset'] = eps
    identity = np.eye(sigma1.shape[0]) * eps
    covmean = _sqrtm((sigma1 + identity).dot(sigma2 + identity))
  info['max_imaginary'] = 0.0
  if np.iscomplexobj(covmean):
    info['max_imaginary'] = float(np.max(np.abs(np.diagonal(covmean).imag)))
    if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
      raise ValueError('FID: sqrtm has an imaginary component of %g' % info['max_imaginary'])
    covmean = covmean.real
  return float(np.trace(covmean))
