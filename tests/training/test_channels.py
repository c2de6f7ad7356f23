"""--channels 1: grayscale images train, evaluate, sample and draw on one channel; FID sees
them tiled to three (GLANN's protocol for MNIST)."""
import os

import numpy as np
from PIL import Image
import pytest

from conftest import TINY
from conftest import run_main
import glo_tf1
from glo_tf1 import rundir
from glo_tf1.compat import tf
from glo_tf1.data import images as images_lib
from glo_tf1.evaluation import export
from glo_tf1.evaluation import fid
from glo_tf1.evaluation import figures
from glo_tf1.rundir import config as run_config


def _decode(paths, size, channels):
  with tf.Graph().as_default(), tf.Session() as sess:
    return sess.run(images_lib.decode_files(tf.constant(paths), size, False, channels))


def test_one_channel_is_the_luma_and_keeps_a_gray_image(lfw_dir, tmp_path):
  """A grayscale file decodes to the same values on one channel as on each of three; a
  colour file to its BT.601 luma (PIL's convert('L') as the independent reference, which
  rounds to integers: within one level)."""
  gray = [os.path.join(lfw_dir, n) for n in sorted(os.listdir(lfw_dir))[:3]]
  one, three = _decode(gray, 16, 1), _decode(gray, 16, 3)
  assert one.shape == (3, 16, 16, 1) and three.shape == (3, 16, 16, 3)
  np.testing.assert_allclose(np.repeat(one, 3, axis=-1), three, atol=1e-6)
  rng = np.random.RandomState(0)
  colour = str(tmp_path / 'colour.png')
  pixels = rng.randint(0, 256, (16, 16, 3)).astype(np.uint8)
  Image.fromarray(pixels).save(colour)
  luma = np.asarray(Image.open(colour).convert('L'), np.float64) / 127.5 - 1.
  got = _decode([colour], 16, 1)[0, ..., 0]
  assert np.abs(got - luma).max() <= 1.01 / 127.5
  assert np.abs(got - (pixels[..., 0] / 127.5 - 1.)).max() > 0.1  # not one of the channels


def test_fid_inputs_of_one_channel_are_the_tiled_image():
  x = np.random.RandomState(1).uniform(-1, 1, (2, 9, 9, 1)).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    ph = tf.placeholder(tf.float32, [None, None, None, None])
    inputs = fid.to_inception_inputs(ph)
    assert inputs.get_shape().as_list()[-1] == 3
    one, tiled = (sess.run(inputs, {ph: v}) for v in (x, np.repeat(x, 3, axis=-1)))
  np.testing.assert_array_equal(one, tiled)


@pytest.mark.e2e
def test_a_grayscale_run_trains_evaluates_samples_and_draws(lfw_dir, tmp_path):
  run = str(tmp_path / 'run')
  out = run_main('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run,
                 '--num_steps=40', '--channels=1', '--input_cache=auto', *TINY).stdout
  assert '200 images checked' in out and '0 bad; 200 grayscale, 0 colour.' in out
  assert run_config.read_config(run)['channels'] == 1
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(run))
  assert reader.get_tensor('decoder/deconv_out/weights').shape == (3, 3, 1, 8)
  cache = os.path.join(run, 'input_cache', 'images_16px_gray.u8')
  assert os.path.getsize(cache) == 200 * 16 * 16  # one byte a pixel
  with pytest.raises(rundir.RunDirError, match='channels: 1 -> 3'):  # the output layer
    run_config.resolve_for_run(run, None, {'channels': 3})

  with glo_tf1.load(run) as loaded:
    samples = loaded.sample(4, kind='full', seed=0)
    assert samples.shape == (4, 16, 16, 1) and np.abs(samples).max() <= 1
    images = loaded.load_images([os.path.join(lfw_dir, 'lfw_000.jpg')])
    assert images.shape == (1, 16, 16, 1)
    with pytest.raises(ValueError, match=r'\[n, 16, 16, 1\]'):
      loaded.reconstruct(np.zeros((1, 16, 16, 3), np.float32), steps=1)
    out = str(tmp_path / 'samples')
    export.export_samples(loaded, out, 3)
  pngs = [n for n in sorted(os.listdir(out)) if n.endswith('.png')]
  png = Image.open(os.path.join(out, pngs[0]))
  assert len(pngs) == 3 and png.mode == 'L' and png.size == (16, 16)  # an 8-bit gray PNG

  figs = str(tmp_path / 'figures')
  figures.write_figures(run, figs, num_reconstructions=4, num_samples=4, num_interpolations=1,
                        interp_steps=4, interpolation='nlerp', fit_projected=False,
                        num_queries=1, neighbours=2, query_sampler='fitted', batch_size=64,
                        nn_from_saved_grid=False, nn_max_images=0)
  for name in ('reconstructions.png', 'samples.png', 'interpolation.png',
               'nearest_neighbours.png'):
    assert Image.open(os.path.join(figs, name)).size[0] > 50, name

  try:
    fid.load_network()
  except fid.FidUnavailable:
    pytest.skip('FID weights not installed')
  from glo_tf1.evaluation import report as evaluate  # pylint: disable=import-outside-toplevel
  report = evaluate.evaluate(run, None, steps=2, max_images=4, seed=0, fid_num_images=4)
  sections = report['sections']
  assert np.isfinite(sections['train_learned']['mse_pm1'])
  assert np.isfinite(sections['fid_samples_full']['fid_train'])
  assert report['fid']['references']['train']['channels'] == 1
