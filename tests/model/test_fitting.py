"""Code fitting (GLO's reconstructions): fresh codes fitted with the decoder frozen, the
loss falling, the stored-code projection, a reset that starts over, and initial codes at
the trained table's glorot scale."""
import numpy as np
import pytest

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import decoders
from glo_tf1.model import fitting


# The decoder's initial weights come from this graph seed: the same frozen decoder every run
# (unseeded, a rare draw fitted too slowly for the 5x loss drop below).
SEED = 0


@pytest.mark.parametrize('projection,stored', [('sphere', False), ('ball', True)])
def test_code_fitting_keeps_the_decoder_frozen(projection, stored):
  cfg = settings.resolve('demo', {'image_size': 16, 'latent_dims': 6, 'decoder_filters': [8, 4],
                                'batch_size': 4, 'codes_learning_rate': 0.05,
                                'learning_rate': 0.05, 'projection': projection,
                                'project_stored_codes': stored})
  rng = np.random.RandomState(1)
  with tf.Graph().as_default():
    tf.set_random_seed(SEED)  # the decoder's random weights: the same every run
    z = tf.placeholder(tf.float32, [4, 6])
    decoded = decoders.decode(codes_lib.project(z, projection), cfg, is_training=False)
    fit = fitting.build_code_fitting(cfg, 4)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      decoder_vars = tf.global_variables(decoders.SCOPE)
      before = sess.run(decoder_vars)
      target_codes = rng.randn(4, 6).astype(np.float32)
      target = sess.run(decoded, {z: target_codes})  # inference mode, as generation
      init = fitting.initial_codes(cfg, 10, target, rng)
      limit = np.sqrt(6. / (10 + 6))  # glorot of the trained (10, 6) table
      assert np.abs(init).max() <= limit and np.abs(init).max() > limit / 2
      sess.run(fit['reset'], {fit['init']: init, fit['images']: target})
      first = sess.run(fit['loss'])
      for _ in range(150):
        sess.run(fit['step'])
      last, codes = sess.run([fit['loss'], fit['codes']])
      assert last < 0.2 * first, (first, last)
      for a, b in zip(before, sess.run(decoder_vars)):
        np.testing.assert_array_equal(a, b)
      if stored:
        assert np.linalg.norm(codes, axis=1).max() <= 1 + 1e-6
      # A reset starts over: the initial codes and fresh optimizer slots.
      sess.run(fit['reset'], {fit['init']: init, fit['images']: target})
      np.testing.assert_array_equal(sess.run(fit['codes']), init)
      assert sess.run(fit['loss']) == pytest.approx(first, rel=1e-6)
