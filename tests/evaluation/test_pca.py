"""The PCA baseline against numpy's eigendecomposition of the covariance: the optimal
rank-k error, exact and streamed (randomized) fits, any batching, low-rank data."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from glo_tf1.evaluation import pca


def _images(n=120, side=6, rank=None, seed=0):
  """Images [n, side, side, 3] with a decaying spectrum (or of exact `rank`)."""
  rng = np.random.RandomState(seed)
  d = side * side * 3
  r = rank or d
  basis = np.linalg.qr(rng.randn(d, r))[0]
  scales = 0.7 ** np.arange(r) if rank is None else np.ones(r)
  x = 0.3 + (rng.randn(n, r) * scales) @ basis.T
  return x.reshape(n, side, side, 3)


def _stream(x, sizes):
  def batches():
    start, i = 0, 0
    while start < len(x):
      size = sizes[i % len(sizes)]
      yield x[start:start + size]
      start, i = start + size, i + 1
  return batches


def _optimal_error(x, k):
  """Sum of squared residuals of the best rank-k affine fit: the eigenvalues of the
  scatter matrix beyond the k largest (numpy's eigh, independent of pca.py's SVD)."""
  flat = x.reshape(len(x), -1)
  c = flat - flat.mean(0)
  values = np.sort(np.linalg.eigvalsh(c.T @ c))[::-1]
  return values[k:].sum(), values.sum()


def _error(model, x):
  return float(np.sum((pca.reconstruct(model, x) - x) ** 2))


@pytest.mark.parametrize('max_bytes', [1 << 30, 0])  # exact; randomized, streamed
def test_fit_reaches_the_optimal_rank_k_error(max_bytes):
  x = _images()
  model = pca.fit(_stream(x, [17, 40]), len(x), 10, seed=3, max_bytes=max_bytes)
  assert model['method'] == ('exact' if max_bytes else 'randomized')
  v = model['components']
  assert v.shape == (x[0].size, 10)
  np.testing.assert_allclose(v.T @ v, np.eye(10), atol=1e-9)
  best, total = _optimal_error(x, 10)
  assert _error(model, x) == pytest.approx(best, rel=1e-6 if max_bytes else 1e-3)
  assert model['total_variance'] == pytest.approx(total, rel=1e-9)
  info = pca.describe(model)
  assert info['fit_images'] == 120 and info['components'] == 10
  assert info['explained_variance_ratio'] == pytest.approx(1 - best / total, rel=1e-3)


def test_batching_does_not_change_the_fit():
  x = _images(seed=1)
  a = pca.fit(_stream(x, [120]), len(x), 6, max_bytes=0)
  b = pca.fit(_stream(x, [1, 7, 50]), len(x), 6, max_bytes=0)
  np.testing.assert_allclose(pca.reconstruct(a, x), pca.reconstruct(b, x), atol=1e-8)


@pytest.mark.parametrize('max_bytes', [1 << 30, 0])
def test_low_rank_images_are_reconstructed_exactly_and_components_are_capped(max_bytes):
  x = _images(n=30, rank=4, seed=2)
  model = pca.fit(_stream(x, [8]), len(x), 12, max_bytes=max_bytes)
  np.testing.assert_allclose(pca.reconstruct(model, x), x, atol=1e-8)
  few = _images(n=5, seed=4)  # 5 images: at most 4 directions around their mean
  assert pca.fit(_stream(few, [5]), 5, 12, max_bytes=max_bytes)['components'].shape[1] == 4


def test_held_out_images_are_projected_on_the_training_components():
  x = _images(n=80, seed=5)
  train, test = x[:60], x[60:]
  model = pca.fit(_stream(train, [25]), 60, 5)
  flat = train.reshape(60, -1)
  mean = flat.mean(0)
  _, vecs = np.linalg.eigh((flat - mean).T @ (flat - mean))
  v = vecs[:, ::-1][:, :5]
  want = ((test.reshape(20, -1) - mean) @ v @ v.T + mean).reshape(test.shape)
  np.testing.assert_allclose(pca.reconstruct(model, test), want, atol=1e-8)


_UNDER_A_LIMIT = r'''
import resource, sys
import numpy as np
from glo_tf1.evaluation import pca

def mapped():
  with open('/proc/self/status') as f:
    return next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmSize:'))

n, d, max_bytes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
x = np.random.RandomState(0).randn(n, d)
batches = lambda: (x[i:i + pca.BATCH] for i in range(0, n, pca.BATCH))
need = pca.fit_bytes(n, d, 8, max_bytes)
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
resource.setrlimit(resource.RLIMIT_AS, (mapped() + need // 4, hard))
try:
  pca.fit(batches, n, 8, max_bytes=max_bytes)
  print('fitted under a quarter')
except pca.AddressSpaceError as e:
  print('refused: %s' % e)
resource.setrlimit(resource.RLIMIT_AS, (mapped() + need + (1 << 20), hard))
print('fitted', pca.fit(batches, n, 8, max_bytes=max_bytes)['method'])
'''


@pytest.mark.parametrize('method,max_bytes', [('exact', 256 << 20), ('randomized', 1 << 20)])
def test_a_fit_the_address_space_limit_cannot_hold_is_refused_saying_how_much(method,
                                                                              max_bytes):
  """Issue 22: under `ulimit -v` glo-evaluate died in PCA (exit 139, or OpenBLAS's
  'Memory allocation still failed'). Under a limit that leaves a quarter of fit_bytes the
  fit is refused naming the need; one that leaves fit_bytes holds the whole fit."""
  if not os.path.exists('/proc/self/status'):
    pytest.skip('needs /proc to tell the address space in use')
  proc = subprocess.run([sys.executable, '-c', _UNDER_A_LIMIT, '600', '1728', str(max_bytes)],
                        capture_output=True, text=True, timeout=60, cwd=ROOT,
                        env=dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS='2'))
  assert proc.returncode == 0, proc.stdout + proc.stderr
  lines = proc.stdout.splitlines()
  assert lines[0].startswith('refused: the PCA baseline needs about') and (
      'ulimit -v' in lines[0] and '--nopca' in lines[0]), proc.stdout
  assert lines[1] == 'fitted ' + method, proc.stdout
