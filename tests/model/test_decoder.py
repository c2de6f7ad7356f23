"""Decoder: output shapes for each size, layer layout, inference-mode batch norm."""
import numpy as np
import pytest

from glo_tf1 import settings
from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.model import decoder


def _build(size, filters=(256, 128, 64, 64, 32), batch=2, dims=100, is_training=True):
  z = tf.random_normal([batch, dims])
  with slim.arg_scope(decoder.decoder_arg_scope(is_training=is_training)):
    return decoder.decoder(z, image_size=size, num_filters=filters, kernel_size=5)


@pytest.mark.parametrize('size', [16, 32, 64, 128, 256])
def test_output_shape_and_range(size):
  with tf.Graph().as_default():
    out = _build(size)
    assert out.get_shape().as_list() == [2, size, size, 3]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      x = sess.run(out)
    assert np.all(np.abs(x) <= 1.0)
    # 4x4 layer + one stride-2 block per doubling + the output layer.
    kernels = [v for v in tf.global_variables() if v.name.endswith('weights:0')]
    assert len(kernels) == settings.num_upsampling_blocks(size) + 2


def test_blog_layers_at_128():
  with tf.Graph().as_default():
    _build(128)
    shapes = {v.op.name: v.get_shape().as_list() for v in tf.global_variables()}
  # conv2d_transpose kernels are [k, k, out, in].
  assert shapes['decoder/deconv1/weights'] == [4, 4, 256, 100]
  assert shapes['decoder/deconv2/weights'] == [5, 5, 128, 256]
  assert shapes['decoder/deconv3/weights'] == [5, 5, 64, 128]
  assert shapes['decoder/deconv4/weights'] == [5, 5, 64, 64]
  assert shapes['decoder/deconv5/weights'] == [5, 5, 32, 64]
  assert shapes['decoder/deconv_out/weights'] == [3, 3, 3, 32]
  assert 'decoder/deconv_out/BatchNorm/gamma' not in shapes
  assert shapes['decoder/deconv3/BatchNorm/gamma'] == [64]


def test_filters_follow_the_size():
  blog = [256, 128, 64, 64, 32]
  assert settings.decoder_filters_for_size(blog, 32) == [256, 128, 64]
  assert settings.decoder_filters_for_size(blog, 128) == blog
  assert settings.decoder_filters_for_size(blog, 256) == blog + [32]


@pytest.mark.parametrize('size', [0, 8, 48, 100, 2048])
def test_sizes_the_decoder_cannot_produce(size):
  with pytest.raises(settings.ConfigError, match='image_size'):
    settings.num_upsampling_blocks(size)


def test_rejects_non_static_input():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='static'):
      decoder.decoder(tf.placeholder(tf.float32, [None, 10]), image_size=16)


def test_inference_mode_uses_moving_statistics():
  """is_training=False: an image's output does not depend on the rest of its batch, and
  moving statistics set by hand change it; in training mode the batch matters."""
  rng = np.random.RandomState(0)
  z = rng.randn(4, 8).astype(np.float32)
  for is_training in (False, True):
    with tf.Graph().as_default(), tf.Session() as sess:
      ph = tf.placeholder(tf.float32, [4, 8])
      with slim.arg_scope(decoder.decoder_arg_scope(is_training=is_training)):
        out = decoder.decoder(ph, image_size=16, num_filters=(8, 8))
      sess.run(tf.global_variables_initializer())
      a = sess.run(out, {ph: z})
      z2 = z.copy()
      z2[1:] = rng.randn(3, 8)
      b = sess.run(out, {ph: z2})
      same_first = np.allclose(a[0], b[0], atol=1e-6)
      assert same_first == (not is_training)
      if not is_training:
        mean = [v for v in tf.global_variables() if 'deconv1/BatchNorm/moving_mean' in v.name]
        sess.run(mean[0].assign(tf.ones_like(mean[0]) * 3.0))
        assert not np.allclose(sess.run(out, {ph: z})[0], a[0], atol=1e-4)


def test_batch_norm_updates_land_in_update_ops():
  with tf.Graph().as_default():
    _build(32)
    # Two moving averages for each of deconv1..deconv3.
    assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 6
