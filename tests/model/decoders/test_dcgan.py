"""DCGAN's generator (the paper's, --decoder dcgan): the layers and ops of the paper64 preset
at 64 px, its N(0, 0.02) initial weights, its batch-norm decay, the sizes it refuses, and
old configs meaning the post decoder (its contract as a decoder: test_registries.py)."""
import numpy as np
import pytest

from glo_tf1 import settings
from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.model import decoders
from glo_tf1.model.decoders import dcgan

LAYERS = ['project', 'deconv2', 'deconv3', 'deconv4', 'deconv_out']


def _build(size, filters=dcgan.FILTERS, batch=2, dims=100, kernel=5, is_training=True):
  z = tf.random_normal([batch, dims])
  with slim.arg_scope(dcgan.dcgan_arg_scope(is_training=is_training)):
    return dcgan.generator(z, image_size=size, num_filters=filters, kernel_size=kernel)


def _ops(graph, prefix, op_type):
  return [op for op in graph.get_operations()
          if op.name.startswith(prefix) and op.type == op_type]


@pytest.mark.parametrize('kernel', [5, 4])
def test_paper64_layers_strides_and_ops(kernel):
  """512, 256, 128, 64 filters from 4x4 to 32x32, then 3 channels at 64x64; every layer
  after the first doubles with stride 2, SAME padding and a k x k kernel (the output layer
  too); batch norm then ReLU everywhere but the output, which is tanh of a biased conv."""
  cfg = settings.resolve('paper64', {'kernel_size': kernel, 'batch_size': 4})
  assert (cfg['decoder'], cfg['image_size']) == ('dcgan', 64)
  with tf.Graph().as_default() as graph:
    out = decoders.decode(tf.zeros([4, 100]), cfg, is_training=True)
    shapes = {v.op.name: v.get_shape().as_list() for v in tf.global_variables()}
  # conv2d_transpose kernels are [k, k, out, in].
  k = kernel
  want = {'project': ([4, 4, 512, 100], 4), 'deconv2': ([k, k, 256, 512], 8),
          'deconv3': ([k, k, 128, 256], 16), 'deconv4': ([k, k, 64, 128], 32),
          'deconv_out': ([k, k, 3, 64], 64)}
  assert sorted(n for n in shapes if n.endswith('/weights')) == sorted(
      'decoder/%s/weights' % l for l in LAYERS)
  for layer, (kernel_shape, side) in want.items():
    assert shapes['decoder/%s/weights' % layer] == kernel_shape, layer
    (conv,) = _ops(graph, 'decoder/%s/' % layer, 'Conv2DBackpropInput')
    first = layer == 'project'
    assert conv.get_attr('strides') == ([1, 1, 1, 1] if first else [1, 2, 2, 1])
    assert conv.get_attr('padding') == (b'VALID' if first else b'SAME')
    assert conv.outputs[0].get_shape().as_list() == [4, side, side, kernel_shape[2]]
  for layer in LAYERS[:-1]:
    (relu,) = _ops(graph, 'decoder/%s/' % layer, 'Relu')
    bn = relu.inputs[0].op
    assert bn.type == 'FusedBatchNormV3' and bn.inputs[0].op.type == 'Conv2DBackpropInput'
    assert bn.get_attr('epsilon') == pytest.approx(1e-5)
    assert shapes['decoder/%s/BatchNorm/gamma' % layer] == [want[layer][0][2]]
    assert 'decoder/%s/biases' % layer not in shapes  # batch norm's beta instead
  (tanh,) = _ops(graph, 'decoder/deconv_out/', 'Tanh')
  assert tanh.outputs[0] is out and tanh.inputs[0].op.type == 'BiasAdd'
  assert not _ops(graph, 'decoder/deconv_out/', 'FusedBatchNormV3')
  assert not _ops(graph, 'decoder/deconv_out/', 'Relu')


def test_weights_are_normal_with_stddev_002():
  cfg = settings.resolve('paper64', {'batch_size': 2})
  with tf.Graph().as_default(), tf.Session() as sess:
    decoders.decode(tf.zeros([2, 100]), cfg, is_training=True)
    sess.run(tf.global_variables_initializer())
    values = sess.run({v.op.name: v for v in tf.global_variables()})
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
  for layer in LAYERS:
    w = values['decoder/%s/weights' % layer].ravel()
    # N(0, 0.02): the sample std and mean within a few standard errors, and normal
    # tails (a uniform of the same variance never exceeds 1.73 sigma).
    assert w.std() == pytest.approx(0.02, rel=0.05 + 3 / np.sqrt(2 * w.size)), layer
    assert abs(w.mean()) < 4 * 0.02 / np.sqrt(w.size), layer
    assert np.abs(w).max() > 2.5 * 0.02, layer
  assert np.all(values['decoder/deconv_out/biases'] == 0)
  # Two moving averages for each batch-normalised layer.
  assert len(update_ops) == 2 * (len(LAYERS) - 1)


def test_moving_averages_use_the_configured_decay():
  """One training step from zero moving mean: the mean becomes (1 - decay) * batch mean."""
  cfg = settings.resolve('paper64', {'image_size': 16, 'decoder_filters': [8, 4],
                                     'batch_size': 4, 'latent_dims': 6})
  z = np.random.RandomState(0).randn(4, 6).astype(np.float32)
  with tf.Graph().as_default() as graph, tf.Session() as sess:
    decoders.decode(tf.constant(z), cfg, is_training=True)
    (bn,) = _ops(graph, 'decoder/project/', 'FusedBatchNormV3')
    mean = [v for v in tf.global_variables()
            if v.op.name == 'decoder/project/BatchNorm/moving_mean'][0]
    sess.run(tf.global_variables_initializer())
    batch_mean, _ = sess.run([bn.outputs[1], tf.get_collection(tf.GraphKeys.UPDATE_OPS)])
    np.testing.assert_allclose(sess.run(mean), (1 - 0.9) * batch_mean, rtol=1e-4, atol=1e-7)


def test_rejects_sizes_it_cannot_produce():
  with tf.Graph().as_default():
    with pytest.raises(settings.ConfigError, match='image_size'):
      dcgan.generator(tf.zeros([2, 10]), image_size=48)


def test_the_post_decoder_is_the_default_and_old_configs_mean_it():
  assert all(settings.PRESETS[p]['decoder'] == 'post' for p in ('blog', 'paper', 'demo'))
  old = dict(settings.resolve('demo'))
  del old['decoder']  # a config.json written before --decoder existed
  assert settings.migrate(old)['decoder'] == 'post'  # config_version 1
  assert settings.migrate(settings.resolve('paper64'))['decoder'] == 'dcgan'
  with pytest.raises(settings.ConfigError, match='--decoder'):
    settings.resolve('blog', {'decoder': 'vae'})
