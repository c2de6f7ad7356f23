"""Codes: projections, stored-code projection, initialisers, PCA against numpy."""
import numpy as np
import pytest

from glo_tf1.compat import tf
from glo_tf1.model import codes


def _project(z, kind):
  with tf.Graph().as_default(), tf.Session() as sess:
    return sess.run(codes.project(tf.constant(z), kind))


def test_sphere_projection_has_unit_norm():
  z = np.random.RandomState(0).randn(50, 7).astype(np.float32) * 5
  p = _project(z, 'sphere')
  np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(p, z / np.linalg.norm(z, axis=1, keepdims=True), rtol=1e-5)


def test_ball_projection_keeps_inside_points():
  z = np.random.RandomState(1).randn(50, 7).astype(np.float32)
  z[:25] *= 0.05  # inside the ball
  p = _project(z, 'ball')
  np.testing.assert_allclose(p[:25], z[:25], rtol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(p[25:], axis=1),
                             np.minimum(np.linalg.norm(z[25:], axis=1), 1.0), rtol=1e-5)
  assert np.all(np.linalg.norm(p, axis=1) <= 1 + 1e-6)


def test_unknown_projection():
  with tf.Graph().as_default(), pytest.raises(ValueError, match='sphere or ball'):
    codes.project(tf.zeros([1, 2]), 'cube')


def test_lookup_gathers_rows_by_index():
  table = np.random.RandomState(2).randn(10, 4).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    out = sess.run(codes.lookup(tf.constant(table), tf.constant([3, 3, 7]), 'sphere'))
  want = table[[3, 3, 7]]
  np.testing.assert_allclose(out, want / np.linalg.norm(want, axis=1, keepdims=True),
                             rtol=1e-5)


def test_project_rows_changes_only_those_rows():
  with tf.Graph().as_default(), tf.Session() as sess:
    var = codes.codes_variable(20, 5, 'gaussian', seed=3)
    sess.run(tf.global_variables_initializer())
    before = sess.run(var)
    sess.run(codes.project_rows_op(var, tf.constant([2, 5]), 'sphere'))
    after = sess.run(var)
  untouched = [i for i in range(20) if i not in (2, 5)]
  np.testing.assert_array_equal(after[untouched], before[untouched])
  np.testing.assert_allclose(np.linalg.norm(after[[2, 5]], axis=1), 1.0, rtol=1e-5)


def test_glorot_init_range_and_shape():
  with tf.Graph().as_default(), tf.Session() as sess:
    var = codes.codes_variable(1000, 100, 'glorot', seed=0)
    sess.run(tf.global_variables_initializer())
    v = sess.run(var)
  limit = np.sqrt(6.0 / (1000 + 100))
  assert v.shape == (1000, 100)
  assert np.abs(v).max() <= limit and np.abs(v).max() > 0.95 * limit


def test_pca_codes_match_numpy_eigenvectors():
  rng = np.random.RandomState(0)
  # Images with a dominant direction of variation.
  basis = rng.randn(3, 48)
  x = rng.randn(200, 3) @ (basis * np.array([[5.], [2.], [1.]])) + 0.01 * rng.randn(200, 48)
  z = codes.pca_codes(x, 3)
  xc = x - x.mean(0)
  w, v = np.linalg.eigh(xc.T @ xc)
  proj = xc @ v[:, ::-1][:, :3]
  proj /= np.linalg.norm(proj, axis=1, keepdims=True)
  # Components agree up to sign.
  for k in range(3):
    c = np.corrcoef(z[:, k], proj[:, k])[0, 1]
    assert abs(c) > 0.999
  np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)


def test_pca_codes_pad_beyond_rank_and_fit_on_subset():
  x = np.random.RandomState(1).randn(30, 4)
  z = codes.pca_codes(x, 10, max_fit=20)
  assert z.shape == (30, 10) and np.all(np.isfinite(z))
