"""Held-out evaluation: the metrics against numpy, the
report of a tiny trained run (fields, provenance, learned-code numbers, seeding), and the
PCA baseline on a short demo run (numpy's PCA, and GLO beating it on training images)."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import run_main
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import report as evaluate
from glo_tf1.evaluation import runs
from glo_tf1.evaluation import trained


def test_metrics_against_numpy():
  rng = np.random.RandomState(0)
  x = rng.uniform(-1, 1, (5, 4, 4, 3))
  y = np.clip(x + rng.normal(0, 0.1, x.shape), -1, 1)
  mse_pm1, mse_01, psnr = metrics.image_metrics(x, y)
  x01, y01 = (x + 1) / 2, (y + 1) / 2  # the [0, 1] scale, computed directly
  want_01 = ((x01 - y01) ** 2).reshape(5, -1).mean(1)
  np.testing.assert_allclose(mse_01, want_01, rtol=1e-12)
  np.testing.assert_allclose(mse_pm1, ((x - y) ** 2).reshape(5, -1).mean(1), rtol=1e-12)
  np.testing.assert_allclose(psnr, 20 * np.log10(1.) - 10 * np.log10(want_01), rtol=1e-12)
  # By hand: an offset of 0.2 on [-1, 1] is 0.1 on [0, 1]: MSE 0.01, PSNR 20 dB.
  _, m, p = metrics.image_metrics(np.zeros((1, 2, 2, 3)), np.full((1, 2, 2, 3), 0.2))
  np.testing.assert_allclose([m[0], p[0]], [0.01, 20.])
  s = metrics.summarise(mse_pm1, mse_01, psnr)
  assert s['num_images'] == 5 and s['psnr_db'] == pytest.approx(psnr.mean())


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
  proc = run_main('glo_tf1.cli.evaluate', '--run_dir', tiny_run, '--data_dir', heldout,
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
  assert set(sections) == {'train_learned', 'train_learned_batch_stats', 'train', 'heldout',
                           'pca_train', 'pca_heldout'}
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
  assert 'training seed 0, evaluation seed 1,' in md  # the run's --seed and glo-evaluate's
  # The cost: the estimate printed first, and the measured seconds of the same parts.
  cost = report['cost']
  assert set(cost['measured']) - {'MSE and PSNR'} <= set(cost['estimated'])
  assert cost['estimated']['code fitting, held-out images'] > 0
  assert cost['estimated_total'] == pytest.approx(sum(cost['estimated'].values()), abs=0.1)
  assert proc.stdout.index('Estimated time') < proc.stdout.index('Evaluating')
  assert 'measured, ' in proc.stdout.splitlines()[-2]

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


@pytest.fixture(scope='module')
def demo_run(lfw_dir, tmp_path_factory):
  """The demo preset trained for 1,000 steps on the 180 faces demo.sh trains on (faces
  90-99 and their mirrors held out), checkpoints at 300 (the issue's short run), 600, 900
  and 1000; about a minute on 2 cores."""
  folder = tmp_path_factory.mktemp('demo')
  names = sorted(n for n in os.listdir(lfw_dir) if n.endswith('.jpg'))
  train = [n for n in names if not n.startswith('lfw_09')]
  heldout = [n for n in names if n.startswith('lfw_09')]
  assert (len(train), len(heldout)) == (180, 20)
  for name, subset in (('train.txt', train), ('heldout.txt', heldout)):
    (folder / name).write_text('\n'.join(subset) + '\n')
  run = str(folder / 'run')
  run_main('glo_tf1.cli.train', '--preset=demo', '--data_dir', lfw_dir, '--file_list',
           folder / 'train.txt', '--run_dir', run, '--num_steps=1000',
           '--save_checkpoint_steps=300', '--max_to_keep=5',  # 300 also: the BN check
           '--save_checkpoint_secs=86400')  # none by time (the demo's 60 s on a busy machine)
  return run, str(folder / 'heldout.txt')


@pytest.mark.e2e
def test_pca_baseline_matches_numpy_and_glo_beats_it_on_training_images(demo_run, lfw_dir,
                                                                         tmp_path):
  run, heldout_list = demo_run
  out = str(tmp_path / 'report')
  run_main('glo_tf1.cli.evaluate', '--run_dir', run, '--data_dir', lfw_dir, '--file_list',
           heldout_list, '--steps=20', '--max_images=32', '--out_dir', out, '--nofid')
  with open(os.path.join(out, 'evaluation.json')) as f:
    report = json.load(f)
  sections = report['sections']
  assert set(sections) == {'train_learned', 'train_learned_batch_stats', 'train', 'pca_train',
                           'heldout', 'pca_heldout'}
  assert report['pca']['fit_images'] == 180 and report['pca']['components'] == 32
  assert sections['pca_train']['num_images'] == sections['train']['num_images'] == 32
  assert sections['pca_heldout']['num_images'] == sections['heldout']['num_images'] == 20
  # A trained GLO reconstructs its training images better than the linear model of the
  # same code size (the GLO paper's comparison).
  assert sections['train_learned']['mse_pm1'] < sections['pca_train']['mse_pm1']
  assert sections['train_learned']['psnr_db'] > sections['pca_train']['psnr_db']
  with open(os.path.join(out, 'evaluation.md')) as f:
    md = f.read()
  rows = [l.split(' | ')[0][2:] for l in md.splitlines() if l.startswith('| ')][2:]
  labels = {s.name: s.label for s in evaluate.SECTIONS}
  assert rows == [labels[n] for n in
                  ('train_learned', 'train_learned_batch_stats', 'train', 'pca_train',
                   'heldout', 'pca_heldout')]
  assert '| training images, PCA (linear baseline) | 32 |' in md
  assert 'principal components of 180 training images' in md

  # numpy's PCA of the same preprocessed images: eigenvectors of the scatter matrix of
  # all 180 training images, applied to the 32 evaluated training images and the 20
  # held-out ones. They are found through the 180 x 180 Gram matrix: if G u = l u with
  # G = X X^T, then X^T u is an eigenvector of the scatter matrix X^T X with the same
  # eigenvalue (the 3072 x 3072 eigh took 10 to 100 s on 2 busy cores).
  from glo_tf1.data import pipelines  # pylint: disable=import-outside-toplevel
  train_paths = runs.read_run(run)['paths']
  with tf.Graph().as_default(), tf.Session() as sess:
    x = np.concatenate([b for _, b in pipelines.iterate_in_order(sess, train_paths, 90, 32)])
    heldout = [os.path.join(lfw_dir, n) for n in files.list_images(lfw_dir, heldout_list)]
    h = np.concatenate([b for _, b in pipelines.iterate_in_order(sess, heldout, 20, 32)])
  flat = x.reshape(180, -1).astype(np.float64)
  mean = flat.mean(0)
  centred = flat - mean
  _, gram_vecs = np.linalg.eigh(centred @ centred.T)
  v = centred.T @ gram_vecs[:, ::-1][:, :32]
  v /= np.linalg.norm(v, axis=0)

  def pca_mse(images):
    f = images.reshape(len(images), -1).astype(np.float64)
    return float(np.mean(((f - mean) @ v @ v.T + mean - f) ** 2))

  idx = files.seeded_subset(180, 32, np.random.RandomState([0, 2]))
  assert sections['pca_train']['mse_pm1'] == pytest.approx(pca_mse(x[idx]), rel=1e-4)
  assert sections['pca_heldout']['mse_pm1'] == pytest.approx(pca_mse(h), rel=1e-4)

  # --pca_max_images: a seeded subset of the training images.
  few = evaluate.evaluate(run, steps=0, max_images=8, pca_max_images=50)
  assert few['pca']['fit_images'] == 50 and few['sections']['pca_train']['num_images'] == 8
  assert 'pca' not in evaluate.evaluate(run, steps=0, max_images=8, pca_max_images=None)


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
  # Named refusals before any work (issue 22), not a traceback or a silent replacement.
  with pytest.raises(settings.ConfigError, match='--seed must be non-negative, got -1'):
    evaluate.evaluate(tiny_run, seed=-1)
  with pytest.raises(settings.ConfigError, match='--batch_size must be positive, got 0'):
    evaluate.evaluate(tiny_run, batch_size=0)
  with pytest.raises(settings.ConfigError, match=r'--batch_size 100000 is larger than the '
                     r'largest image set evaluated \(4 images\)'):
    evaluate.evaluate(tiny_run, max_images=4, batch_size=100000)
  a_file = tmp_path / 'report.txt'
  a_file.write_text('mine')
  proc = run_main('glo_tf1.cli.evaluate', '--run_dir', tiny_run, '--out_dir', a_file,
                  '--nofid', check=False)
  assert proc.returncode == 2 and 'is a file, not a folder' in proc.stderr, proc.stderr
  assert a_file.read_text() == 'mine'
  # A user's evaluation.md in --out_dir: refused before any work, named, kept (issue 31).
  mine = tmp_path / 'mine'
  mine.mkdir()
  (mine / 'evaluation.md').write_text('my draft')
  proc = run_main('glo_tf1.cli.evaluate', '--run_dir', tiny_run, '--out_dir', mine,
                  '--nofid', check=False)
  assert proc.returncode == 2, proc.stderr
  assert ('error: --out_dir: %s already exists and glo-tf1 did not write it'
          % (mine / 'evaluation.md')) in proc.stderr
  assert 'Traceback' not in proc.stderr and 'evaluation of' not in proc.stdout.lower()
  assert sorted(os.listdir(mine)) == ['evaluation.md']
  assert (mine / 'evaluation.md').read_text() == 'my draft'


def test_fid_caps_the_real_images_not_the_samples():
  """--fid_num_samples 50 with 6 available training images: 50 samples, 6 real images (the
  reference's own subset, whose learned reconstructions are measured)."""
  run = {'names': ['%d.png' % i for i in range(6)], 'paths': ['/d/%d.png' % i for i in range(6)],
         'data_dir': '/d', 'cfg': {'latent_dims': 4}}
  sets = evaluate._fid_image_sets(run, {'train': (None, {'num_images': 6})}, 0, 50)
  assert sets['samples'].size == 50 and sets['fid_train'].size == 6
  assert sorted(sets['fid_train'].indices) == list(range(6))
  noise = np.concatenate([b.noise for b in sets['samples'].batches(None)])
  assert noise.shape == (50, 4)
  # Without a sample count: as many samples as the reference's real images.
  assert evaluate._fid_image_sets(run, {'train': (None, {'num_images': 6})}, 0)[
      'samples'].size == 6
  # Its cost (36 images through Inception, 3 sample sets): test_estimate.py.


def _with_population_statistics(run_dir, out_dir, checkpoint):
  """A copy of run_dir whose checkpoint's moving batch-norm statistics are replaced by the
  population statistics of its learned codes (one training-mode pass over all of them,
  read from the fused batch-norm ops' batch outputs): what the moving averages converge
  to."""
  shutil.copytree(run_dir, out_dir)
  with trained.load(out_dir, checkpoint, batch_size=180) as run:
    ops = [op for op in run.graph_.get_operations()
           if op.type.startswith('FusedBatchNorm') and op.get_attr('is_training')]
    stats = run.session.run([(op.outputs[1], op.outputs[2]) for op in ops],
                            {run.ops['z']: run.codes()})
    prefix = run.checkpoint
  layers = [next(p for p in op.name.split('/') if p.startswith(('deconv', 'fc', 'dense')))
            for op in ops]
  reader = tf.train.load_checkpoint(prefix)
  values = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
  for layer, (mean, var) in zip(layers, stats):
    values['decoder/%s/BatchNorm/moving_mean' % layer] = mean
    values['decoder/%s/BatchNorm/moving_variance' % layer] = var
  with tf.Graph().as_default():
    variables = {n: tf.Variable(v, name=n.replace('/', '_')) for n, v in values.items()}
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver(variables).save(sess, prefix, write_meta_graph=False)
  return len(layers)


@pytest.mark.e2e
def test_lagging_moving_statistics_are_measured_and_warned_about(demo_run, tmp_path, capsys):
  """The issue's 300-step demo: 300 steps leave 0.99^300 = 4.9% of the moving averages'
  initial values, and the learned codes decode far worse in inference mode than with each
  batch's statistics; glo-evaluate and the API say so. With the population statistics
  written in, the two modes agree and nothing is said: the lag, not the weights, was the
  cause. At step 1000 (the same run) nothing is said either."""
  run_dir, _ = demo_run
  report = evaluate.evaluate(run_dir, checkpoint=300, steps=0, max_images=64, seed=0,
                             pca_max_images=None)
  s = report['sections']
  inference, batch = s['train_learned']['mse_pm1'], s['train_learned_batch_stats']['mse_pm1']
  assert inference > 2 * batch
  (warning,) = report['warnings']
  assert 'moving statistics' in warning and 'step 300' in warning and '4.9%' in warning
  assert 'warning: the learned codes decode' in capsys.readouterr().err
  assert '**Warning**: ' + warning in evaluate.markdown(report)
  fixed = str(tmp_path / 'fixed')
  assert _with_population_statistics(run_dir, fixed, 300) == 3
  report = evaluate.evaluate(fixed, checkpoint=300, steps=0, max_images=64, seed=0,
                             pca_max_images=None)
  s = report['sections']
  assert report['warnings'] == []
  assert s['train_learned']['mse_pm1'] < 2 * s['train_learned_batch_stats']['mse_pm1']
  assert s['train_learned']['mse_pm1'] < inference / 2
  with trained.load(fixed, 300) as run:
    mse_inference, mse_batch, note = run.batch_norm_check(max_images=64)
    assert note is None and mse_inference < 2 * mse_batch
  with trained.load(run_dir, 300) as run:
    assert run.batch_norm_check(max_images=64)[2] is not None
  assert evaluate.evaluate(run_dir, steps=0, max_images=64, pca_max_images=None)[
      'warnings'] == []


def test_an_exact_reconstruction_prints_exact_not_a_psnr():
  """PCA of a low-rank set reconstructs to float round-off: 'exact' in both tables, never
  a dB figure made of round-off; a partial one is counted."""
  from glo_tf1.evaluation import compare_render  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import pca  # pylint: disable=import-outside-toplevel
  rng = np.random.RandomState(0)
  x = (0.1 * rng.normal(size=(6, 2)) @ rng.normal(size=(2, 48))).reshape(6, 4, 4, 3)  # rank 2
  model = pca.fit(lambda: iter([x]), 6, 2)
  values = metrics.summarise(*metrics.image_metrics(x, pca.reconstruct(model, x)))
  assert values['exact_images'] == 6 and values['psnr_db'] == pytest.approx(120.)
  assert metrics.shown('psnr_db', values['psnr_db'], '%.2f') == 'exact'
  assert compare_render.cell([values['psnr_db']] * 3, 'psnr_db') == 'exact'
  noisy = x + rng.normal(0, 0.1, x.shape) * (np.arange(6) % 2)[:, None, None, None]
  half = metrics.summarise(*metrics.image_metrics(x, noisy))
  assert half['exact_images'] == 3 and metrics.shown('psnr_db', half['psnr_db'], '%.2f') != 'exact'


def test_evaluate_refuses_a_report_or_fid_cache_that_cannot_fit(tmp_path, monkeypatch):
  """glo-evaluate's room check, before any work: the report's folder, then FID's cache
  (two real-image statistics of 2048 x 2048 float64, 33.6 MB each, and a margin), which '' turns off."""
  from glo_tf1 import io  # pylint: disable=import-outside-toplevel
  from glo_tf1.cli import evaluate as cli_evaluate  # pylint: disable=import-outside-toplevel
  assert cli_evaluate.FID_STATS_BYTES > 2048 * 2048 * 8
  usage = shutil.disk_usage('.')
  free = io.ROOM_RESERVE + (2 << 20)  # room for the report only
  monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage._replace(free=free))
  out, cache = str(tmp_path / 'eval'), str(tmp_path / 'fid')
  cli_evaluate.check_room(out, cache, 0)
  cli_evaluate.check_room(out, '', 100)
  cli_evaluate.check_room(out, None, 100)  # glo-evaluate's default: no cache
  with pytest.raises(io.NoRoomError, match="^%s: .* for FID's cached statistics: it needs "
                     r"about 67\.3 MB" % cache):
    cli_evaluate.check_room(out, cache, 100)
  monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage._replace(free=0))
  with pytest.raises(io.NoRoomError, match='^%s: .* for the evaluation report' % out):
    cli_evaluate.check_room(out, cache, 0)


def test_write_report_replaces_only_reports_it_wrote(tmp_path):
  """evaluation.json / .md: a user's file of either name is refused and kept; a report of
  an earlier glo-tf1 (the committed demo report, written before the record) is adopted
  and replaced; another method's hand-written report is not a glo-tf1 report."""
  from glo_tf1 import io  # pylint: disable=import-outside-toplevel
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  with open(os.path.join(root, 'figures', 'demo', 'evaluation.json')) as f:
    report = json.load(f)
  old = tmp_path / 'old'
  old.mkdir()
  for name in ('evaluation.json', 'evaluation.md'):
    shutil.copy(os.path.join(root, 'figures', 'demo', name), str(old / name))
    assert evaluate.is_own_report(str(old / name)), name
  report['step'] = 12345
  evaluate.write_report(report, str(old))
  assert json.loads((old / 'evaluation.json').read_text())['step'] == 12345
  assert io.read_json(str(old / io.WRITTEN)) == {'written': ['evaluation.json',
                                                             'evaluation.md']}
  theirs = tmp_path / 'theirs'
  theirs.mkdir()
  external = {'method': 'GLANN', 'sections': {'heldout': {'fid': 46.5}}}
  (theirs / 'evaluation.json').write_text(json.dumps(external))
  (theirs / 'evaluation.md').write_text('| evaluation | mine |')  # ours by its first bytes
  with pytest.raises(io.NotOursError) as e:
    evaluate.write_report(report, str(theirs))
  assert str(theirs / 'evaluation.json') in str(e.value)
  assert str(theirs / 'evaluation.md') not in str(e.value)
  assert json.loads((theirs / 'evaluation.json').read_text()) == external
  assert sorted(os.listdir(theirs)) == ['evaluation.json', 'evaluation.md']
