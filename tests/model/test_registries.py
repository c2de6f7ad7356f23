"""The registries of model/: each one's keys are the flag's choices (settings.CHOICES), and
every entry keeps its registry's contract (one test per registry, over every entry)."""
import numpy as np
import pytest

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.deploy import precision
from glo_tf1.model import decoders
from glo_tf1.model.decoders import geometry
from glo_tf1.model import losses
from glo_tf1.model import optimizers
from glo_tf1.model import samplers


def test_registry_keys_are_the_choices_of_their_flags():
  assert tuple(decoders.DECODERS) == settings.CHOICES['decoder']
  assert tuple(losses.LOSSES) == settings.CHOICES['loss']
  assert tuple(optimizers.OPTIMIZERS) == settings.CHOICES['codes_optimizer']
  assert set(settings.CHOICES['optimizer']) <= set(optimizers.OPTIMIZERS)
  assert tuple(samplers.SAMPLER_FNS) == settings.SAMPLERS
  assert precision.PRECISIONS is settings.CHOICES['precision']


@pytest.mark.parametrize('name', list(decoders.DECODERS))
@pytest.mark.parametrize('size,channels', [(s, 3) for s in settings.supported_image_sizes()]
                         + [(16, 1), (64, 1)])
def test_every_decoder_at_every_size_keeps_the_contract(name, size, channels):
  """[B, dims] -> [B, S, S, C] for every supported size (and one channel at two), variables
  under decoders.SCOPE, reuse builds no new ones; run at the small sizes: values in [-1, 1],
  not constant."""
  assert channels in settings.CHOICES['channels']
  cfg = settings.resolve('blog', {'decoder': name, 'image_size': size, 'latent_dims': 7,
                                  'decoder_filters': [8, 4], 'kernel_size': 3,
                                  'channels': channels})
  with tf.Graph().as_default():
    z = tf.random_normal([2, 7], seed=1)
    out = decoders.decode(z, cfg, is_training=True)
    assert out.get_shape().as_list() == [2, size, size, channels]
    names = [v.op.name for v in tf.global_variables()]
    assert names and all(n.startswith(decoders.SCOPE + '/') for n in names), names
    # config.json's decoder_filters_used are the model's layers: one batch norm of that
    # many channels each (the 4x4 layer, then every stride-2 block).
    widths = [v.get_shape().as_list()[0] for v in tf.global_variables()
              if v.op.name.endswith('BatchNorm/beta')]
    assert widths == settings.to_saved(cfg, geometry.filters_used(cfg))['decoder_filters_used'], widths
    again = decoders.decode(z, cfg, is_training=False, reuse=True)
    assert [v.op.name for v in tf.global_variables()] == names
    if size <= 64:
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([out, again])
      assert np.abs(a).max() <= 1 and np.abs(b).max() <= 1 and a.std() > 0


@pytest.mark.parametrize('name', list(decoders.DECODERS))
def test_every_decoder_in_inference_mode_is_independent_of_the_batch(name):
  """With batch norm, is_training=False uses the moving statistics: an image's output does
  not depend on the rest of its batch; in training mode it does. A code batch of unknown
  size is refused (the layers need a static shape)."""
  cfg = settings.resolve('blog', {'decoder': name, 'image_size': 16, 'latent_dims': 8,
                                  'decoder_filters': [8, 8], 'kernel_size': 3})
  rng = np.random.RandomState(0)
  z = rng.randn(4, 8).astype(np.float32)
  other = np.concatenate([z[:1], rng.randn(3, 8).astype(np.float32)])
  for is_training in (False, True):
    with tf.Graph().as_default(), tf.Session() as sess:
      ph = tf.placeholder(tf.float32, [4, 8])
      out = decoders.decode(ph, cfg, is_training=is_training)
      sess.run(tf.global_variables_initializer())
      a, b = sess.run(out, {ph: z}), sess.run(out, {ph: other})
      assert np.allclose(a[0], b[0], atol=1e-6) == (not is_training)
  with tf.Graph().as_default(), pytest.raises(ValueError, match='static'):
    decoders.decode(tf.placeholder(tf.float32, [None, 8]), cfg, is_training=True)


@pytest.mark.parametrize('name', list(losses.LOSSES))
def test_every_loss_is_zero_on_equal_images_and_grows_with_the_error(name):
  cfg = settings.resolve('blog', {'loss': name})
  rng = np.random.RandomState(0)
  x = rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
  noise = rng.normal(0, 1, x.shape).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    values = sess.run([losses.reconstruction_loss(tf.constant(x), tf.constant(x + e * noise),
                                                  cfg) for e in (0., 0.05, 0.2)])
  assert all(np.shape(v) == () for v in values)
  assert values[0] == pytest.approx(0, abs=1e-6) and 0 < values[1] < values[2]


@pytest.mark.parametrize('name', list(optimizers.OPTIMIZERS))
@pytest.mark.parametrize('unique_rows', [False, True])
def test_every_optimizer_updates_only_the_batch_rows_from_a_sparse_gradient(name,
                                                                             unique_rows):
  """A gradient of two gathered rows (one index twice) moves those rows only (lazy rows
  stay; TF1 Adam decays every row's slots but leaves zero-gradient rows in place on its
  first step) and builds no dense (N, dims) gradient; with unique_rows every row-adding
  scatter takes unique indices."""
  with tf.Graph().as_default() as graph:
    table = tf.get_variable('table', initializer=np.arange(12., dtype=np.float32).reshape(6, 2))
    rows = tf.gather(table, [1, 4, 4])
    opt = optimizers.make_optimizer(name, 0.1, unique_rows)
    step = opt.minimize(tf.reduce_sum(tf.square(rows)))
    dense = [op for op in graph.get_operations() if op.type == 'UnsortedSegmentSum'
             and op.outputs[0].shape.as_list() == [6, 2]]
    assert not dense
    if unique_rows:
      from glo_tf1.deploy import placement  # pylint: disable=import-outside-toplevel
      assert not [p for p in placement.determinism_problems(graph)
                  if p[2] == 'duplicate indices would race']
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      before = sess.run(table)
      sess.run(step)
      after = sess.run(table)
  moved = np.where(np.any(after != before, axis=1))[0].tolist()
  assert moved == [1, 4]
