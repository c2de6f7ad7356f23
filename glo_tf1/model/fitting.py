"""Code fitting: GLO's reconstruction of an image that was not trained on. The decoder is
frozen (its variables reused, never trained here) and a fresh code per image is optimised
against the run's loss, with the run's projection and codes optimizer, as training
optimised the codes (docs/evaluation.md). Graph construction only: evaluation/trained.py's
fit_codes runs it for glo_tf1.load and the held-out evaluation.
"""
from glo_tf1.compat import tf
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import decoders
from glo_tf1.model import losses
from glo_tf1.model import optimizers


def initial_codes(cfg, num_train, images, rng):
  """Fresh codes for a batch, initialised as training initialised its codes.

  glorot: uniform(+-sqrt(6 / (N_train + dims))), the scale of the trained `codes`
  variable (so the optimizer moves the codes at the training's relative speed);
  gaussian: N(0, 1); pca: principal components of the batch's images (codes.pca_codes).
  """
  if cfg['codes_init'] == 'pca':
    return codes_lib.pca_codes(images, cfg['latent_dims'], seed=rng.randint(2 ** 31))
  return codes_lib.fresh_codes(rng, len(images), num_train, cfg['latent_dims'],
                               cfg['codes_init'])


def build_code_fitting(cfg, batch_size):
  """Fits fresh codes to a batch of images with the decoder frozen (reuses its variables).

  Returns dict: images, init (placeholders), reset (stores `images`, initialises the codes
  from `init` and resets the optimizer's slots), step (one optimizer step, then the
  stored-code projection when the run used it; no feed, the batch is stored), codes,
  reconstructions (inference mode), loss.
  """
  dims, size, c = cfg['latent_dims'], cfg['image_size'], cfg['channels']
  images = tf.placeholder(tf.float32, [batch_size, size, size, c], name='eval_images')
  init = tf.placeholder(tf.float32, [batch_size, dims], name='eval_init')
  with tf.variable_scope('eval'):
    codes = tf.get_variable('codes', [batch_size, dims], tf.float32, trainable=False)
    stored = tf.get_variable('images', [batch_size, size, size, c], tf.float32,
                             trainable=False)
  recon = decoders.decode(codes_lib.project(codes, cfg['projection']), cfg,
                             is_training=False, reuse=True)
  loss = losses.reconstruction_loss(stored, recon, cfg)
  with tf.variable_scope('eval'):
    opt = optimizers.make_optimizer(cfg['codes_optimizer'], cfg['codes_learning_rate'])
    step = opt.minimize(loss, var_list=[codes])
  if cfg['project_stored_codes']:
    with tf.control_dependencies([step]):
      step = codes.assign(codes_lib.project(codes, cfg['projection'])).op
  with tf.control_dependencies([tf.variables_initializer(opt.variables())]):
    reset = tf.group(codes.assign(init), stored.assign(images))
  return {'images': images, 'init': init, 'reset': reset, 'step': step, 'codes': codes,
          'reconstructions': recon, 'loss': loss}
