"""Held-out evaluation: the metrics against numpy, code fitting with a frozen decoder, and
the report of a tiny trained run (fields, provenance, learned-code numbers, seeding)."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import run_module
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import report as evaluate
from glo_tf1.evaluation import runs


def test_metrics_against_numpy():
  rng = np.random.RandomState(0)
  x = rng.uniform(-1, 1, (5, 4, 4, 3))
  y = np.clip(x + rng.normal(0, 0.1, x.shape), -1, 1)
  mse_pm1, mse_01, psnr = evaluate.image_metrics(x, y)
  x01, y01 = (x + 1) / 2, (y + 1) / 2  # the [0, 1] scale, computed directly
  want_01 = ((x01 - y01) ** 2).reshape(5, -1).mean(1)
  np.testing.assert_allclose(mse_01, want_01, rtol=1e-12)
  np.testing.assert_allclose(mse_pm1, ((x - y) ** 2).reshape(5, -1).mean(1), rtol=1e-12)
  np.testing.assert_allclose(psnr, 20 * np.log10(1.) - 10 * np.log10(want_01), rtol=1e-12)
  # By hand: an offset of 0.2 on [-1, 1] is 0.1 on [0, 1]: MSE 0.01, PSNR 20 dB.
  _, m, p = evaluate.image_metrics(np.zeros((1, 2, 2, 3)), np.full((1, 2, 2, 3), 0.2))
  np.testing.assert_allclose([m[0], p[0]], [0.01, 20.])
  s = evaluate.summarise(mse_pm1, mse_01, psnr)
  assert s['num_images'] == 5 and s['psnr_db'] == pytest.approx(psnr.mean())


@pytest.mark.parametrize('projection,stored', [('sphere', False), ('ball', True)])
def test_code_fitting_keeps_the_decoder_frozen(projection, stored):
  cfg = settings.resolve('demo', {'image_size': 16, 'latent_dims': 6, 'decoder_filters': [8, 4],
                                'batch_size': 4, 'codes_learning_rate': 0.05,
                                'learning_rate': 0.05, 'projection': projection,
                                'project_stored_codes': stored})
  rng = np.random.RandomState(1)
  with tf.Graph().as_default():
    gen = generation.build_generation_graph(cfg, 10, batch_size=4)
    fit = evaluate.build_code_fitting(cfg, 4)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      decoder_vars = tf.global_variables('decoder')
      before = sess.run(decoder_vars)
      target_codes = rng.randn(4, 6).astype(np.float32)
      target = generation.decode_codes(sess, gen, target_codes)
      init = evaluate.initial_codes(cfg, 10, target, rng)
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


def _heldout(lfw_dir, folder):
  """Six faces flipped upside down (never trained on) and one exact copy of a training
  file (which the report must flag)."""
  os.makedirs(folder)
  names = sorted(os.listdir(lfw_dir))
  for name in names[:6]:
    im = Image.open(os.path.join(lfw_dir, name))
    im.transpose(Image.FLIP_TOP_BOTTOM).save(os.path.join(folder, name[:-4] + '_flip.png'))
  shutil.copy(os.path.join(lfw_dir, names[10]), folder)


@pytest.mark.e2e
def test_report_of_a_tiny_run(tiny_run, lfw_dir, tmp_path):
  heldout = str(tmp_path / 'heldout')
  _heldout(lfw_dir, heldout)
  out = str(tmp_path / 'report')
  proc = run_module('glo_tf1.cli.evaluate', '--run_dir', tiny_run, '--data_dir', heldout,
                    '--steps=20', '--max_images=10', '--seed=1', '--out_dir', out, '--nofid')
  assert '1 of the 7 held-out images are byte-identical to training images' in proc.stderr
  with open(os.path.join(out, 'evaluation.json')) as f:
    report = json.load(f)
  with open(os.path.join(tiny_run, 'provenance.json')) as f:
    assert report['provenance'] == json.load(f)
  with open(os.path.join(tiny_run, 'config.json')) as f:
    assert report['config'] == json.load(f)
  assert report['step'] == 30 and report['seed'] == 1
  assert report['protocol']['steps'] == 20 and report['protocol']['codes_optimizer'] == 'adam'
  sections = report['sections']
  assert set(sections) == {'train_learned', 'train', 'heldout'}
  assert sections['train_learned']['num_images'] == 10
  assert sections['train']['num_images'] == 10 and sections['train']['steps'] == 20
  assert sections['heldout']['num_images'] == 7
  assert sections['heldout']['identical_to_training'] == 1
  for s in sections.values():
    assert s['mse_01'] == pytest.approx(s['mse_pm1'] / 4)
    # Mean of per-image PSNR >= PSNR of the mean MSE (Jensen), both near each other.
    assert s['psnr_db'] >= 10 * np.log10(1 / s['mse_01']) - 1e-9
  with open(os.path.join(out, 'evaluation.md')) as f:
    md = f.read()
  assert '| held-out images, codes optimised | 7 | 20 |' in md
  assert '%.5f' % sections['heldout']['mse_pm1'] in md

  # The learned-code numbers, recomputed from the checkpoint with numpy metrics.
  run = runs.read_run(tiny_run)
  idx = files.seeded_subset(200, 10, np.random.RandomState([1, 2]))
  with tf.Graph().as_default():
    gen = generation.build_generation_graph(run['cfg'], 200, batch_size=8)
    with tf.Session() as sess:
      runs.restore_variables(sess, tiny_run, gen['restore_vars'])
      x, y = generation.reconstructions(sess, gen, run['paths'], idx)
  mse = ((x.astype(np.float64) - y) ** 2).reshape(10, -1).mean(1)
  assert sections['train_learned']['mse_pm1'] == pytest.approx(mse.mean(), rel=1e-5)

  # In process with the same seed: the same numbers.
  again = evaluate.evaluate(tiny_run, heldout, steps=20, max_images=10, seed=1)
  for name, s in sections.items():
    for key in ('mse_pm1', 'psnr_db', 'num_images'):
      assert again['sections'][name][key] == pytest.approx(s[key], rel=1e-5), (name, key)


@pytest.mark.e2e
def test_evaluate_errors(tiny_run, tmp_path):
  with pytest.raises(settings.ConfigError, match='--file_list needs --data_dir'):
    evaluate.evaluate(tiny_run, file_list='x.txt')
  with pytest.raises(settings.ConfigError, match='--steps'):
    evaluate.evaluate(tiny_run, steps=-1)
  bad = tmp_path / 'bad'
  bad.mkdir()
  (bad / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
  with pytest.raises(files.DataError, match='broken.jpg'):
    evaluate.evaluate(tiny_run, str(bad), steps=1)
