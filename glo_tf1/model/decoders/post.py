"""Decoder: projected code [B, dims] -> image [B, S, S, C] in [-1, 1] (the post's network).

C is 3 (the post's RGB) or 1 (--channels 1, grayscale data such as MNIST: ours).

Layout (the post, "Architecture"; docs/reference/notebook-facts.md):
  reshape to [B, 1, 1, dims]
  deconv1   4x4 transpose conv, stride 1, VALID       -> [B, 4, 4, filters[0]]
  deconv2.. k x k transpose conv, stride 2, SAME, ReLU, batch norm, one block per doubling
  deconv_out 3x3 transpose conv, stride 2, tanh, no batch norm -> [B, S, S, C]
The number of stride-2 blocks follows the image size (geometry.num_upsampling_blocks).
`--decoder post`: decoders/__init__.py registers it beside DCGAN's generator (dcgan.py).
"""
from glo_tf1.compat import BATCH_NORM_UPDATES
from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.model.decoders import dcgan
from glo_tf1.model.decoders import geometry


def decoder_arg_scope(is_training=True, normalizer='batch_norm', batch_norm_decay=0.99):
  """Defaults of every decoder layer: Xavier init, ReLU, batch norm (decay 0.99, scale).

  `is_training=False` normalises with the moving statistics (the post's generation).
  """
  normalizer_fn = slim.batch_norm if normalizer == 'batch_norm' else None
  normalizer_params = {
      'decay': batch_norm_decay,
      'scale': True,
      'is_training': is_training,
      'updates_collections': BATCH_NORM_UPDATES,
  } if normalizer_fn else None
  with slim.arg_scope([slim.conv2d_transpose], stride=2, padding='SAME',
                      weights_initializer=slim.xavier_initializer(),
                      activation_fn=tf.nn.relu,
                      normalizer_fn=normalizer_fn,
                      normalizer_params=normalizer_params) as sc:
    return sc


def decoder(latent_z, image_size=128, num_filters=(256, 128, 64, 64, 32), kernel_size=5,
            reuse=None, scope='decoder', channels=3):
  """The decoder network; call it inside `decoder_arg_scope`.

  Args:
    latent_z: float32 [B, dims] with a static batch size and dims.
    image_size: output side; one of settings.supported_image_sizes().
    num_filters: filters of deconv1 and of each stride-2 block, adapted to the size by
      geometry.filters_for_size.
    kernel_size: kernel of the stride-2 blocks (5 in the notebook; the post's text says 3).
    reuse: reuse the variables of an earlier call (towers, generation).
    scope: variable scope (decoders.SCOPE, the registry's contract).
    channels: output channels, 3 (RGB) or 1.
  Returns:
    float32 [B, image_size, image_size, channels] in [-1, 1].
  Raises:
    ValueError: latent_z is not [B, dims] with static shape.
    settings.ConfigError: image_size cannot be produced.
  """
  filters = geometry.filters_for_size(num_filters, image_size)
  with tf.variable_scope(scope, reuse=reuse):
    net = dcgan.latent_to_4x4(latent_z, filters[0], 'deconv1', 'decoder')
    for i, num_filter in enumerate(filters[1:]):
      net = slim.conv2d_transpose(net, num_filter, [kernel_size, kernel_size],
                                  scope='deconv%d' % (i + 2))
    net = slim.conv2d_transpose(net, channels, [3, 3], stride=2, activation_fn=tf.nn.tanh,
                                normalizer_fn=None, scope='deconv_out')
  return net
