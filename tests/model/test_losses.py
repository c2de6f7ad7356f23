"""Each loss against an independent numpy computation."""
import numpy as np
import pytest
from scipy import ndimage

from glo_tf1.compat import tf
from glo_tf1.model import losses


def _run(fn, a, b):
  with tf.Graph().as_default(), tf.Session() as sess:
    return sess.run(fn(tf.constant(a), tf.constant(b)))


def _data(shape=(3, 8, 8, 3), seed=0):
  rng = np.random.RandomState(seed)
  return (rng.uniform(-1, 1, shape).astype(np.float32),
          rng.uniform(-1, 1, shape).astype(np.float32))


def test_pairwise_is_mean_over_pixel_pairs_summed_over_batch():
  x, y = _data((2, 4, 4, 3))
  want = 0.
  for i in range(len(x)):
    d = (y[i] - x[i]).astype(np.float64).ravel()
    pair = (d[:, None] - d[None, :]) ** 2  # all ordered pairs; the diagonal is 0
    want += pair.sum() / (d.size * (d.size - 1))
  np.testing.assert_allclose(_run(losses.pairwise_loss, x, y), want, rtol=1e-5)


def test_pairwise_ignores_a_constant_offset_per_image_but_mse_does_not():
  x, y = _data((2, 4, 4, 3), seed=1)
  shifted = y + np.array([0.3, -0.2], np.float32)[:, None, None, None]
  np.testing.assert_allclose(_run(losses.pairwise_loss, x, shifted),
                             _run(losses.pairwise_loss, x, y), rtol=1e-4)
  assert abs(_run(losses.mse_loss, x, shifted) - _run(losses.mse_loss, x, y)) > 1e-3


def test_mse_against_numpy():
  x, y = _data()
  np.testing.assert_allclose(_run(losses.mse_loss, x, y),
                             np.mean((x.astype(np.float64) - y) ** 2), rtol=1e-5)


def _np_lap1(x, y, levels):
  """Independent numpy Laplacian pyramid L1 (scipy.ndimage, zero padding)."""
  k1 = np.array([1., 4., 6., 4., 1.]) / 16.
  k2 = np.outer(k1, k1)
  def blur(img, k):
    return np.stack([ndimage.convolve(img[:, :, c], k, mode='constant')
                     for c in range(img.shape[2])], axis=2)
  total = np.zeros(len(x))
  h, w, c = x.shape[1:]
  for b in range(len(x)):
    g = (y[b] - x[b]).astype(np.float64)
    for j in range(levels):
      if j == levels - 1:
        lap = g
      else:
        low = blur(g, k2)[::2, ::2]
        up = np.zeros_like(g)
        up[::2, ::2] = low
        lap = g - blur(up, 4 * k2)
        g = low
      total[b] += 2.0 ** (-2 * j) * np.abs(lap).sum()
  return total.mean() / (h * w * c)


@pytest.mark.parametrize('levels', [1, 3, 4])
def test_lap1_against_numpy(levels):
  x, y = _data((2, 16, 16, 3), seed=levels)
  got = _run(lambda a, b: losses.lap1_loss(a, b, levels), x, y)
  np.testing.assert_allclose(got, _np_lap1(x, y, levels), rtol=1e-4)


def test_lap1_with_one_level_is_mean_absolute_error():
  x, y = _data((2, 8, 8, 3), seed=5)
  np.testing.assert_allclose(_run(lambda a, b: losses.lap1_loss(a, b, 1), x, y),
                             np.mean(np.abs(x - y)), rtol=1e-5)


def test_laplacian_pyramid_reconstructs_the_image():
  x, _ = _data((1, 16, 16, 3), seed=7)
  with tf.Graph().as_default(), tf.Session() as sess:
    pyr = losses.laplacian_pyramid(tf.constant(x), 3)
    k = losses._blur_kernel(3)  # pylint: disable=protected-access
    rec = pyr[-1]
    for lap in reversed(pyr[:-1]):
      up = tf.nn.depthwise_conv2d(losses._zero_upsample(rec), 4.0 * k,  # pylint: disable=protected-access
                                  [1, 1, 1, 1], 'SAME')
      rec = lap + up
    np.testing.assert_allclose(sess.run(rec), x, atol=1e-5)


@pytest.mark.parametrize('name', ['pairwise', 'mse', 'lap1'])
def test_losses_reject_mismatched_shapes(name):
  with tf.Graph().as_default():
    with pytest.raises(ValueError):
      losses.reconstruction_loss(name, tf.zeros([2, 8, 8, 3]), tf.zeros([2, 4, 4, 3]))


def test_unknown_loss_name():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='pairwise, mse or lap1'):
      losses.reconstruction_loss('l2', tf.zeros([2, 8, 8, 3]), tf.zeros([2, 8, 8, 3]))
