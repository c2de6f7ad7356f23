"""Decoders: projected code [B, dims] -> image [B, S, S, C] in [-1, 1], one module each
(after slim's nets/nets_factory.py), chosen by --decoder:
  post   the blog post's decoder (post.py)
  dcgan  DCGAN's generator, the one the GLO paper trained (dcgan.py)
geometry.py says how many stride-2 blocks fit an image size and which filters they get.
A new decoder is its module plus one DECODERS line (and its name in
settings.CHOICES['decoder']); tests/test_extension_points.py adds a toy one that way.
"""
from glo_tf1.compat import slim
from glo_tf1.model.decoders import dcgan
from glo_tf1.model.decoders import post

SCOPE = 'decoder'  # every decoder's variables: towers.py trains tf.trainable_variables(SCOPE)

# --decoder: name -> (arg scope, network). The contract (tests/model/test_registries.py):
# arg_scope(is_training, normalizer, batch_norm_decay) returns a slim arg scope;
# network(latent_z [B, dims], image_size, num_filters, kernel_size, reuse=None, channels=3)
# returns [B, image_size, image_size, channels] in [-1, 1] for every
# settings.supported_image_sizes() and channels in settings.CHOICES['channels'],
# builds its variables under the variable scope SCOPE and reuses them with reuse=True.
DECODERS = {
    'post': (post.decoder_arg_scope, post.decoder),
    'dcgan': (dcgan.dcgan_arg_scope, dcgan.generator),
}


def decode(latent_z, cfg, is_training, reuse=None):
  """The network DECODERS[cfg['decoder']] with its arg scope and the sizes of a resolved
  config."""
  # No op seed: the graph seed of --deterministic (loop.build_training) gives each layer's
  # initializer its own; one explicit seed would give every layer the same random stream.
  arg_scope, network = DECODERS[cfg['decoder']]
  with slim.arg_scope(arg_scope(is_training, cfg['normalizer'], cfg['batch_norm_decay'])):
    return network(latent_z, cfg['image_size'], cfg['decoder_filters'], cfg['kernel_size'],
                   reuse=reuse, channels=cfg['channels'])
