"""DCGAN's generator: projected code [B, dims] -> image [B, S, S, C] in [-1, 1] (C: 3 or 1).

The GLO paper (Bojanowski et al.) trained DCGAN's generator (Radford, Metz, Chintala 2016)
at 64 x 64, not the post's decoder (post.py). We follow the TensorFlow DCGAN code
(carpedm20/DCGAN-tensorflow, `generator` with gf_dim 64), written in slim in the style of
post.py:
  reshape to [B, 1, 1, dims]
  project   4x4 transpose conv, stride 1, VALID, batch norm, ReLU -> [B, 4, 4, filters[0]]
            (DCGAN's linear layer and reshape: the same map, as the PyTorch example writes it)
  deconv2.. k x k transpose conv, stride 2, SAME, batch norm, ReLU, one block per doubling
            (512, 256, 128, 64 filters at 64 px: the paper64 preset's --decoder_filters)
  deconv_out k x k transpose conv, stride 2, SAME, tanh, no batch norm -> [B, S, S, C]
Kernel k = 5 as in that code and in the authors' Theano code; the PyTorch example
(pytorch/examples dcgan) uses 4 (--kernel_size 4). Weights are drawn from N(0, 0.02)
(DCGAN paper, section 4); batch norm has a scale, epsilon 1e-5 and decay
--batch_norm_decay (0.9 in that code, paper64's). The number of blocks follows the image
size as the post's decoder's does (geometry.num_upsampling_blocks), and so do the filters
(geometry.filters_for_size).
"""
from glo_tf1.compat import BATCH_NORM_UPDATES
from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.model.decoders import geometry

WEIGHTS_STDDEV = 0.02
BATCH_NORM_EPSILON = 1e-5
FILTERS = (512, 256, 128, 64)


def dcgan_arg_scope(is_training=True, normalizer='batch_norm', batch_norm_decay=0.9):
  """Defaults of every generator layer: N(0, 0.02) weights, ReLU, batch norm with scale.

  `is_training=False` normalises with the moving statistics (generation, evaluation).
  """
  normalizer_fn = slim.batch_norm if normalizer == 'batch_norm' else None
  normalizer_params = {
      'decay': batch_norm_decay,
      'epsilon': BATCH_NORM_EPSILON,
      'scale': True,
      'is_training': is_training,
      'updates_collections': BATCH_NORM_UPDATES,
  } if normalizer_fn else None
  with slim.arg_scope([slim.conv2d_transpose], stride=2, padding='SAME',
                      weights_initializer=tf.random_normal_initializer(stddev=WEIGHTS_STDDEV),
                      activation_fn=tf.nn.relu,
                      normalizer_fn=normalizer_fn,
                      normalizer_params=normalizer_params) as sc:
    return sc


def latent_to_4x4(latent_z, num_filters, scope, network):
  """The first layer both decoders share (DCGAN's projection, the post's deconv1): codes
  [B, dims] -> [B, 1, 1, dims] -> a 4x4 transpose convolution, stride 1, VALID ->
  [B, 4, 4, num_filters], under the caller's arg scope.

  Raises:
    ValueError: latent_z is not [B, dims] with a static shape (`network` names the caller).
  """
  shape = latent_z.get_shape().as_list()
  if len(shape) != 2 or shape[0] is None or shape[1] is None:
    raise ValueError('%s input must be [batch, dims] with a static shape, got %s'
                     % (network, shape))
  net = tf.reshape(latent_z, (shape[0], 1, 1, shape[1]))
  return slim.conv2d_transpose(net, num_filters, [4, 4], stride=1, padding='VALID',
                               scope=scope)


def generator(latent_z, image_size=64, num_filters=FILTERS, kernel_size=5, reuse=None,
              scope='decoder', channels=3):
  """DCGAN's generator; call it inside `dcgan_arg_scope`.

  Args:
    latent_z: float32 [B, dims] with a static batch size and dims.
    image_size: output side; one of settings.supported_image_sizes().
    num_filters: filters of the 4x4 layer and of each stride-2 block, adapted to the size
      by geometry.filters_for_size.
    kernel_size: kernel of every stride-2 layer, the output layer included.
    reuse: reuse the variables of an earlier call (towers, generation).
    scope: variable scope (decoders.SCOPE, as the post's, so checkpoints, restoring and
      the frozen decoder of evaluation work alike).
    channels: output channels, 3 (RGB) or 1 (DCGAN's MNIST generator has c_dim 1).
  Returns:
    float32 [B, image_size, image_size, channels] in [-1, 1].
  Raises:
    ValueError: latent_z is not [B, dims] with static shape.
    settings.ConfigError: image_size cannot be produced.
  """
  filters = geometry.filters_for_size(num_filters, image_size)
  k = [kernel_size, kernel_size]
  with tf.variable_scope(scope, reuse=reuse):
    net = latent_to_4x4(latent_z, filters[0], 'project', 'generator')
    for i, num_filter in enumerate(filters[1:]):
      net = slim.conv2d_transpose(net, num_filter, k, scope='deconv%d' % (i + 2))
    net = slim.conv2d_transpose(net, channels, k, activation_fn=tf.nn.tanh, normalizer_fn=None,
                                biases_initializer=tf.zeros_initializer(),
                                scope='deconv_out')
  return net
