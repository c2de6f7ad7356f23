"""What a `blog` run writes during training, as the notebook's training cell did: the loss
and four 5 x 5 image grids in TensorBoard every 100 steps and at the last, the configuration as a text
summary at every start, and the same grids as JPEG files every SAVE_IMAGES_STEPS."""
import os

import numpy as np
import pytest
from PIL import Image

from conftest import run_main
from conftest import write_index_images

SIDE = 16
# The blog preset at a tiny size; every cadence stays the preset's except the JPEG dumps.
BLOG_TINY = ['--preset=blog', '--image_size=%d' % SIDE, '--latent_dims=8',
             '--decoder_filters=16,8', '--batch_size=30', '--shuffle_capacity=64',
             '--min_after_dequeue=8', '--num_reader_threads=1', '--save_images_steps=100']
# The notebook's `tf.summary.scalar('total', loss, family='losses')` at the top of its graph:
# TF1's summary_scope names the op `losses/total` and prefixes the family again.
NOTEBOOK_LOSS_TAG = 'losses/losses/total'
GRIDS = ('reconstruction_grid', 'sampled_unit_grid', 'sampled_fitted_grid',
         'interpolated_grid')


@pytest.fixture(scope='module')
def blog_run(tmp_path_factory):
  data = str(tmp_path_factory.mktemp('images'))
  write_index_images(data, 40, size=20)
  run = str(tmp_path_factory.mktemp('blog') / 'run')
  run_main('glo_tf1.cli.train', '--data_dir', data, '--run_dir', run, '--num_steps=201',
           *BLOG_TINY)
  # A resume writes the configuration again, at the step it starts from.
  run_main('glo_tf1.cli.train', '--data_dir', data, '--run_dir', run, '--num_steps=203',
           *BLOG_TINY)
  return run


@pytest.mark.e2e
def test_grids_every_100_steps_and_config_text_at_each_start(blog_run):
  from tensorboard.backend.event_processing import event_accumulator as ea  # pylint: disable=import-outside-toplevel
  acc = ea.EventAccumulator(blog_run, size_guidance={ea.IMAGES: 0, ea.TENSORS: 0,
                                                     ea.SCALARS: 0})
  acc.Reload()
  tags = acc.Tags()
  # (width, height): 5 rows of 5 original|reconstruction pairs; 5 x 5 samples. The samples'
  # family doubles in the tag, as the notebook's family='samples' did.
  expected = {'reconstruction': (10 * SIDE, 5 * SIDE),
              'samples/samples/sampled_unit': (5 * SIDE, 5 * SIDE),
              'samples/samples/sampled_fitted': (5 * SIDE, 5 * SIDE),
              'samples/samples/interpolated': (5 * SIDE, 5 * SIDE)}
  for name, (width, height) in expected.items():
    (tag,) = [t for t in tags['images'] if t.startswith(name + '/image')]
    events = acc.Images(tag)
    # 201: the first session's last step, on the grid, once; 202 and 203: the resumed
    # session's first step and its last.
    assert [e.step for e in events] == [1, 101, 201, 202, 203], tag
    assert all((e.width, e.height) == (width, height) for e in events), tag
  # The scalars also at each session's last step: 201 (on the grid, once) and 203.
  assert [e.step for e in acc.Scalars(NOTEBOOK_LOSS_TAG)] == [1, 101, 201, 202, 203]
  config = acc.Tensors('config')
  assert [e.step for e in config] == [0, 201]
  text = config[0].tensor_proto.string_val[0].decode()
  assert 'preset = blog' in text and 'image_summary_steps = 100' in text


@pytest.mark.e2e
def test_loss_scalar_has_the_notebooks_tag(blog_run):
  """The events files, read record by record, carry the loss under the notebook's tag and
  under no other: the towers' own losses and the learning rates besides."""
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  tags = set()
  for name in os.listdir(blog_run):
    if name.startswith('events.out.tfevents'):
      for event in tf.compat.v1.train.summary_iterator(os.path.join(blog_run, name)):
        tags.update(v.tag for v in event.summary.value if v.HasField('simple_value'))
  assert NOTEBOOK_LOSS_TAG in tags
  assert 'loss' not in tags and 'losses/total' not in tags
  assert 'loss_tower_0' in tags


@pytest.mark.e2e
def test_jpeg_grids_are_dumped_at_the_notebooks_steps(blog_run):
  """Fetched with the step that starts at a multiple of 100, named by that step + 1."""
  names = sorted(os.listdir(os.path.join(blog_run, 'images')))
  assert names == sorted('%s_%d.jpg' % (g, s) for g in GRIDS for s in (101, 201))
  recon = np.asarray(Image.open(os.path.join(blog_run, 'images',
                                             'reconstruction_grid_201.jpg')))
  assert recon.shape == (5 * SIDE, 10 * SIDE, 3)
  # Not stretched: the index images are dark-red to blue constants, never full white.
  samples = np.asarray(Image.open(os.path.join(blog_run, 'images', 'sampled_unit_grid_101.jpg')))
  assert samples.shape == (5 * SIDE, 5 * SIDE, 3)


def _pil_jpeg(pixels, **options):
  import io  # pylint: disable=import-outside-toplevel
  buf = io.BytesIO()
  Image.fromarray(pixels).save(buf, format='JPEG', **options)
  buf.seek(0)
  return Image.open(buf)


@pytest.mark.parametrize('stretch', [False, True])
def test_jpeg_dumps_have_the_notebooks_quality_75(tmp_path, stretch):
  """scipy.misc.imsave saved through PIL at its default quality, 75: a dump's quantization
  tables and chroma subsampling are those PIL writes with no quality (the notebook's call)
  and with quality=75, and not quality 95's."""
  from PIL import JpegImagePlugin  # pylint: disable=import-outside-toplevel
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  from glo_tf1.training import hooks  # pylint: disable=import-outside-toplevel
  out = str(tmp_path / 'images')
  pixels = np.random.RandomState(0).uniform(-1, 1, (1, 40, 40, 3)).astype(np.float32)
  with tf.Graph().as_default():
    train_op = tf.assign_add(tf.train.get_or_create_global_step(), 1)
    hook = hooks.SaveImagesHook({'sampled_unit_grid': tf.constant(pixels)}, out, every=2,
                                stretch=stretch)
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
      for _ in range(3):  # the run that starts at step 2 dumps, named 3
        sess.run(train_op)
  dump = Image.open(os.path.join(out, 'sampled_unit_grid_3.jpg'))
  assert dump.format == 'JPEG' and dump.size == (40, 40)
  reference = np.zeros((40, 40, 3), np.uint8)
  for options in ({}, {'quality': 75}):
    ref = _pil_jpeg(reference, **options)
    assert dump.quantization == ref.quantization, options
    assert JpegImagePlugin.get_sampling(dump) == JpegImagePlugin.get_sampling(ref)
  assert dump.quantization != _pil_jpeg(reference, quality=95).quantization


def test_jpeg_dumps_follow_a_global_step_that_jumps(tmp_path):
  """On a cluster the chief's global step jumps with the other workers and may never land
  on a multiple of N: dumps still come, at most one per multiple crossed. The hook decides
  from the last step it saw (+1), so a dump can come one run after the crossing."""
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  from glo_tf1.training import hooks  # pylint: disable=import-outside-toplevel
  out = str(tmp_path / 'images')
  with tf.Graph().as_default():
    step = tf.train.get_or_create_global_step()
    train_op = tf.assign_add(step, 7)  # this worker's step plus six of the others'
    grid = {'sampled_unit_grid': tf.zeros([1, 4, 4, 3])}
    hook = hooks.SaveImagesHook(grid, out, every=10)
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
      for _ in range(7):  # runs that start at global steps 0, 7, 14, ..., 42
        sess.run(train_op)
  starts = sorted(int(n[:-4].rsplit('_', 1)[1]) - 1 for n in os.listdir(out))
  assert len(starts) >= 2 and all(s % 7 == 0 and s >= 10 for s in starts), starts
  assert len({s // 10 for s in starts}) == len(starts)  # never twice for one multiple


def test_jpeg_dump_names_are_exact_with_the_train_op(tmp_path):
  """One process: the step is read after the train op, so every dump is named by the step
  it started at + 1, whichever way the increment and a plain read would have raced."""
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  from glo_tf1.training import hooks  # pylint: disable=import-outside-toplevel
  out = str(tmp_path / 'images')
  with tf.Graph().as_default():
    train_op = tf.assign_add(tf.train.get_or_create_global_step(), 1)
    hook = hooks.SaveImagesHook({'g': tf.zeros([1, 4, 4, 3])}, out, every=5,
                                train_op=train_op)
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
      for _ in range(200):
        sess.run(train_op)
  assert sorted(os.listdir(out)) == sorted('g_%d.jpg' % s for s in range(6, 200, 5))
