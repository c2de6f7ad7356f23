"""The post's decoder: its layer layout, filters per size, sizes it refuses, batch-norm updates
(what every decoder keeps, shapes, range, scope, reuse, inference mode: test_registries.py)."""
import numpy as np
import pytest

from glo_tf1 import settings
from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.model.decoders import geometry
from glo_tf1.model.decoders import post


def _build(size, filters=(256, 128, 64, 64, 32), batch=2, dims=100, is_training=True):
  z = tf.random_normal([batch, dims])
  with slim.arg_scope(post.decoder_arg_scope(is_training=is_training)):
    return post.decoder(z, image_size=size, num_filters=filters, kernel_size=5)


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
  assert geometry.filters_for_size(blog, 32) == [256, 128, 64]
  assert geometry.filters_for_size(blog, 128) == blog
  assert geometry.filters_for_size(blog, 256) == blog + [32]


@pytest.mark.parametrize('size', [0, 8, 48, 100, 2048])
def test_sizes_the_decoder_cannot_produce(size):
  with pytest.raises(settings.ConfigError, match='image_size'):
    geometry.num_upsampling_blocks(size)


def test_batch_norm_updates_land_in_update_ops():
  with tf.Graph().as_default():
    _build(32)
    # Two moving averages for each of deconv1..deconv3.
    assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 6
