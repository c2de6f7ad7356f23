"""Reconstruction losses: images [B, H, W, C] and reconstructions of the same shape -> scalar.

  pairwise  tf.losses.mean_pairwise_squared_error, what the post's training ran. It is not
            MSE (defect 6): per image it is the mean over ordered pixel pairs (i, j) of
            ((d_i - d_j)^2) with d = reconstruction - image, which ignores a constant
            offset, and it is *summed* over the batch (the published ~2.0 is that scale).
  mse       mean squared error, the post's text (`get_glo_loss`).
  lap1      the paper's Laplacian-pyramid L1, see `lap1_loss`.
"""
import numpy as np

from glo_tf1.compat import tf

# The 5-tap binomial filter of Burt & Adelson's pyramid.
_BINOMIAL = np.array([1., 4., 6., 4., 1.]) / 16.


def _check_shapes(images, reconstructions):
  a, b = images.get_shape(), reconstructions.get_shape()
  if a.ndims != 4 or not a.is_compatible_with(b):
    raise ValueError('images and reconstructions must both be [B, H, W, C], got %s and %s'
                     % (a, b))


def pairwise_loss(images, reconstructions):
  """The post's training loss (see module doc), added to no loss collection."""
  _check_shapes(images, reconstructions)
  return tf.losses.mean_pairwise_squared_error(images, reconstructions, loss_collection=None)


def mse_loss(images, reconstructions):
  """The post's `get_glo_loss`: mean over every pixel and image of the squared error."""
  _check_shapes(images, reconstructions)
  return tf.reduce_mean(tf.square(images - reconstructions))


def _blur_kernel(channels):
  k2 = np.outer(_BINOMIAL, _BINOMIAL).astype(np.float32)
  return tf.constant(np.tile(k2[:, :, None, None], [1, 1, channels, 1]))


def _zero_upsample(x):
  """[B, h, w, C] -> [B, 2h, 2w, C] with x at the even positions and zeros elsewhere."""
  n, h, w, c = x.get_shape().as_list()
  s = tf.shape(x)
  x = tf.reshape(tf.stack([x, tf.zeros_like(x)], axis=3), [s[0], s[1], 2 * s[2], s[3]])
  x = tf.reshape(tf.stack([x, tf.zeros_like(x)], axis=2), [s[0], 2 * s[1], 2 * s[2], s[3]])
  x.set_shape([n, h and 2 * h, w and 2 * w, c])
  return x


def laplacian_pyramid(x, levels):
  """Laplacian pyramid [L^0, ..., L^{levels-1}] of x [B, H, W, C].

  G^0 = x; G^{j+1} = the even pixels of blur(G^j); L^j = G^j - up(G^{j+1}) where up puts
  G^{j+1} back at the even pixels, zeros elsewhere, and blurs with 4 x the kernel; the last level is the low-pass G^{levels-1}.
  The blur is the 5x5 binomial filter with zero padding ('SAME').
  """
  c = x.get_shape().as_list()[-1]
  k = _blur_kernel(c)
  pyramid, g = [], x
  for _ in range(levels - 1):
    low = tf.nn.depthwise_conv2d(g, k, [1, 1, 1, 1], 'SAME')[:, ::2, ::2, :]
    up = tf.nn.depthwise_conv2d(_zero_upsample(low), 4.0 * k, [1, 1, 1, 1], 'SAME')
    pyramid.append(g - up)
    g = low
  pyramid.append(g)
  return pyramid


def lap1_loss(images, reconstructions, levels=4):
  """The paper's Lap1: sum_j 2^(-2j) |L^j(x) - L^j(x')|_1, averaged over the batch.

  Our choices where the paper is silent (a flag, `lap1_levels`, sets the levels): the
  L1 norms are divided by the number of values of level 0 (H * W * C), so level 0 alone
  is the mean absolute error and the loss keeps the scale of the other losses whatever
  the image size; levels default to 4 (128 px -> 128, 64, 32 and a 16 px low-pass).
  """
  _check_shapes(images, reconstructions)
  h, w, c = images.get_shape().as_list()[1:]
  levels = max(1, min(levels, int(np.log2(min(h, w))) - 1))
  diffs = laplacian_pyramid(reconstructions - images, levels)  # the pyramid is linear
  total = 0.
  for j, d in enumerate(diffs):
    total += 2.0 ** (-2 * j) * tf.reduce_sum(tf.abs(d), axis=[1, 2, 3])
  return tf.reduce_mean(total) / float(h * w * c)


def reconstruction_loss(name, images, reconstructions, lap1_levels=4):
  """The loss called `name` (pairwise, mse or lap1)."""
  if name == 'pairwise':
    return pairwise_loss(images, reconstructions)
  if name == 'mse':
    return mse_loss(images, reconstructions)
  if name == 'lap1':
    return lap1_loss(images, reconstructions, lap1_levels)
  raise ValueError('loss must be pairwise, mse or lap1, got %r' % name)
