"""Each loss against an independent numpy computation, and the properties Lap1 must have."""
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


def _np_pyramid(x, levels):
  """Independent numpy Laplacian pyramid of one image [H, W, C] (scipy.ndimage, mirrored
  borders, the binomial 5x5 filter)."""
  k2 = np.outer([1., 4., 6., 4., 1.], [1., 4., 6., 4., 1.]) / 256.

  def blur(img, k):
    return np.stack([ndimage.convolve(img[:, :, c], k, mode='mirror')
                     for c in range(img.shape[2])], axis=2)
  out, g = [], x.astype(np.float64)
  for _ in range(levels - 1):
    low = blur(g, k2)[::2, ::2]
    up = np.zeros_like(g)
    up[::2, ::2] = low
    out.append(g - blur(up, 4 * k2))
    g = low
  return out + [g]


@pytest.mark.parametrize('levels', [1, 3, 4])
def test_laplacian_pyramid_against_scipy(levels):
  x, _ = _data((2, 32, 32, 3), seed=levels)
  with tf.Graph().as_default(), tf.Session() as sess:
    got = sess.run(losses.laplacian_pyramid(tf.constant(x), levels))
  for b in range(len(x)):
    for level, want in zip(got, _np_pyramid(x[b], levels)):
      np.testing.assert_allclose(level[b], want, atol=1e-5)


def _lap1(x, y, levels=4):
  return float(_run(lambda a, b: losses.lap1_loss(a, b, levels), x, y))


def _image(seed=0, size=128):
  return np.random.RandomState(seed).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)


# Properties of the Lap1 loss that hold however it is written: each level, the low-pass
# residual included, counts about equally per pixel (the corrected notebook facts).

def test_lap1_of_an_image_with_itself_is_zero():
  x = _image(1)
  assert _lap1(x, x) == 0.0


@pytest.mark.parametrize('c', [0.1, -0.4])
def test_lap1_constant_offset_costs_its_size(c):
  x = _image(2)
  assert _lap1(x, x + np.float32(c)) == pytest.approx(abs(c), rel=0.02)


def test_lap1_smooth_error_costs_about_its_mean_absolute_value():
  """A shading error of one period over the image (no constant part)."""
  yy, xx = np.meshgrid(np.linspace(0, 1, 128), np.linspace(0, 1, 128), indexing='ij')
  shade = (0.2 * np.sin(2 * np.pi * xx) * np.cos(np.pi * yy)).astype(np.float32)
  x = _image(3)
  got = _lap1(x, x + shade[None, :, :, None])
  assert got == pytest.approx(np.abs(shade).mean(), rel=0.25)


def test_lap1_white_noise_costs_more_than_the_same_energy_smoothly():
  rng = np.random.RandomState(4)
  noise = rng.standard_normal((2, 128, 128, 3)).astype(np.float32) * 0.1
  yy, xx = np.meshgrid(np.linspace(0, 1, 128), np.linspace(0, 1, 128), indexing='ij')
  smooth = np.sin(2 * np.pi * xx) * np.cos(np.pi * yy)
  smooth = (smooth / np.sqrt((smooth ** 2).mean()) * 0.1).astype(np.float32)  # same RMS
  x = _image(5)
  assert _lap1(x, x + noise) > 1.1 * _lap1(x, x + smooth[None, :, :, None])


def test_lap1_with_one_level_is_mean_absolute_error():
  x, y = _data((2, 8, 8, 3), seed=5)
  np.testing.assert_allclose(_lap1(x, y, 1), np.mean(np.abs(x - y)), rtol=1e-5)


def test_laplacian_pyramid_reconstructs_the_image():
  x, _ = _data((1, 16, 16, 3), seed=7)
  with tf.Graph().as_default(), tf.Session() as sess:
    pyr = losses.laplacian_pyramid(tf.constant(x), 3)
    k = losses._blur_kernel(3)  # pylint: disable=protected-access
    rec = pyr[-1]
    for lap in reversed(pyr[:-1]):
      rec = lap + losses.upsample(rec, k)
    np.testing.assert_allclose(sess.run(rec), x, atol=1e-5)


@pytest.mark.parametrize('name', ['pairwise', 'mse', 'lap1'])
def test_losses_reject_mismatched_shapes(name):
  with tf.Graph().as_default():
    with pytest.raises(ValueError):
      losses.reconstruction_loss(tf.zeros([2, 8, 8, 3]), tf.zeros([2, 4, 4, 3]),
                                 {'loss': name, 'lap1_levels': 4})


def test_unknown_loss_name():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='pairwise, mse, lap1'):
      losses.reconstruction_loss(tf.zeros([2, 8, 8, 3]), tf.zeros([2, 8, 8, 3]),
                                 {'loss': 'l2'})
