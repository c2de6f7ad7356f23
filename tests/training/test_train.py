"""The training entry point: a short run learns, Ctrl-C/SIGTERM saves, resume continues,
and every bad input stops with an error that names it."""
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from conftest import TINY
from conftest import prepare_from_argv
from conftest import run_main
from conftest import run_module
from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.cli import train as cli_train
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.evaluation import curves
from glo_tf1.rundir import config as run_config
from glo_tf1.training import hooks


def _losses(stdout):
  return [float(x) for x in re.findall(r'loss ([0-9.]+)', stdout)]


def _codes(run_dir, step=None):
  path = (os.path.join(run_dir, 'model.ckpt-%d' % step) if step is not None
          else tf.train.latest_checkpoint(run_dir))
  reader = tf.train.load_checkpoint(path)
  return reader.get_tensor('codes'), reader.get_tensor('global_step')


@pytest.mark.e2e
def test_short_run_learns_and_leaves_a_complete_run_dir(lfw_dir, tmp_path):
  run = str(tmp_path / 'run')
  out = run_main('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run,
                 '--num_steps=150', *TINY).stdout
  losses = _losses(out)
  assert len(losses) == 16  # step 1, then every 10 steps
  assert np.mean(losses[-2:]) < 0.7 * losses[0], out
  for name in ('checkpoint', 'config.json', 'manifest.tsv', 'provenance.json',
               'model.ckpt-150.index'):
    assert os.path.exists(os.path.join(run, name)), name
  assert any(n.startswith('events.out.tfevents') for n in os.listdir(run))
  codes, step = _codes(run)
  assert step == 150 and codes.shape == (200, 8)
  manifest = files.read_manifest(os.path.join(run, 'manifest.tsv'))
  assert [m[1] for m in manifest] == sorted(os.listdir(lfw_dir))
  cfg = run_config.read_config(run)
  assert cfg['preset'] == 'demo' and cfg['image_size'] == 16 and cfg['latent_dims'] == 8


def _event_scalars(run_dir, tag):
  """[(step, value)] of `tag` in every event file of run_dir, as written (no TensorBoard
  rules applied)."""
  points = []
  for name in sorted(os.listdir(run_dir)):
    if name.startswith('events.out.tfevents'):
      for event in tf.compat.v1.train.summary_iterator(os.path.join(run_dir, name)):
        points += [(event.step, v.simple_value) for v in event.summary.value if v.tag == tag]
  return sorted(points)


def _triggered(timer, steps):
  """The steps a summary hook asking `timer` writes (it asks with the step the next run
  will be labelled with, and records each step it writes)."""
  written = []
  for step in steps:
    if timer.should_trigger_for_step(step):
      timer.update_last_triggered_step(step)
      written.append(step)
  return written


def test_scalar_summaries_trigger_every_n_steps_and_at_the_last():
  timer = hooks._EveryStepsAndLastTimer  # pylint: disable=protected-access
  assert _triggered(timer(5, 23), range(1, 24)) == [1, 6, 11, 16, 21, 23]
  assert _triggered(timer(5, 21), range(1, 22)) == [1, 6, 11, 16, 21]  # on the grid: once
  assert _triggered(timer(5, None), range(1, 31)) == [1, 6, 11, 16, 21, 26]
  # On a cluster the chief's step may jump past the last step: it still writes.
  assert _triggered(timer(5, 23), [1, 2, 3, 25]) == [1, 25]
  # The timer SummarySaverHook had: the last step only on the grid.
  assert _triggered(tf.train.SecondOrStepTimer(every_steps=5), range(1, 24)) == [
      1, 6, 11, 16, 21]


@pytest.mark.e2e
def test_a_repeated_sigterm_keeps_the_save_and_a_second_ctrl_c_gives_it_up():
  """A scheduler that signals every process (Slurm) and the script that passes its SIGTERM
  on (reproduce/children.sh) are one stop, not the 'second signal: give up' of Ctrl-C."""
  stopper = hooks.StopOnSignal()
  try:
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)  # no KeyboardInterrupt: the save goes on
    assert stopper.signal == signal.SIGTERM
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
  finally:
    stopper.restore()
  stopper = hooks.StopOnSignal()
  try:
    os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
  finally:
    stopper.restore()


def test_loss_scalar_is_written_at_the_last_step(lfw_dir, tmp_path):
  """23 steps, scalars every 5 (TINY): the loss curve ends at step 23, with the loss the
  progress line prints for step 23 (the same step's loss); a resume to 30 ends at 30."""
  run = str(tmp_path / 'run')
  out = run_main('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run,
                 '--num_steps=23', *TINY).stdout
  assert '--save_summaries_steps=5' in TINY
  points = _event_scalars(run, curves.LOSS_TAG)
  assert [p[0] for p in points] == [1, 6, 11, 16, 21, 23], points
  (printed,) = re.findall(r'step 23/23 +loss ([0-9.]+)', out)
  assert abs(points[-1][1] - float(printed)) < 1e-4
  out = run_main('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run,
                 '--num_steps=30', *TINY).stdout
  assert [p[0] for p in _event_scalars(run, curves.LOSS_TAG)] == [1, 6, 11, 16, 21, 23, 24, 29, 30]
  steps, _ = curves.read_scalars(run, curves.LOSS_TAG)  # what loss.png draws
  assert list(steps) == [1, 6, 11, 16, 21, 23, 24, 29, 30]


@pytest.mark.e2e
def test_sigterm_saves_and_resume_continues_with_the_same_codes(lfw_dir, tmp_path):
  """SGD on the codes leaves rows outside a batch untouched, so after resuming for one
  step almost every row must equal the saved checkpoint bit for bit: the codes were
  restored, not re-initialised."""
  run = str(tmp_path / 'run')
  args = ['--data_dir', lfw_dir, '--run_dir', run, '--codes_optimizer=sgd',
          '--codes_learning_rate=0.5'] + TINY
  env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1')
  proc = subprocess.Popen([sys.executable, '-m', 'glo_tf1.cli.train', '--num_steps=100000'] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, cwd=ROOT)
  lines = []
  for line in proc.stdout:
    lines.append(line)
    if line.startswith('step 30'):
      proc.send_signal(signal.SIGTERM)
      break
  rest, _ = proc.communicate(timeout=120)
  out = ''.join(lines) + rest
  assert proc.returncode == 0, out
  stopped = int(re.search(r'Interrupted at step (\d+); checkpoint saved', out).group(1))
  saved, step = _codes(run)
  assert step == stopped >= 30
  assert tf.train.latest_checkpoint(run).endswith('model.ckpt-%d' % stopped)

  again = run_main('glo_tf1.cli.train', '--num_steps=%d' % stopped, *args).stdout
  assert 'already at step %d' % stopped in again
  resumed = run_main('glo_tf1.cli.train', '--num_steps=%d' % (stopped + 1), *args).stdout
  assert 'Resuming at step %d' % stopped in resumed
  after, step = _codes(run)
  assert step == stopped + 1
  same = np.all(after == saved, axis=1)
  assert 200 - 8 <= same.sum() < 200  # one batch of 8 moved, everything else restored


@pytest.mark.e2e
def test_resume_against_another_file_list_is_refused(tiny_run, lfw_dir, tmp_path):
  """A copy of the shared run (trained on every embedded face) resumed on a copy of the
  faces without one of them."""
  data = str(tmp_path / 'data')
  shutil.copytree(lfw_dir, data)
  run = str(tmp_path / 'run')
  shutil.copytree(tiny_run, run)
  os.remove(os.path.join(data, 'lfw_007.jpg'))
  proc = run_main('glo_tf1.cli.train', '--data_dir', data, '--run_dir', run, '--num_steps=34',
                  *TINY, check=False)
  assert proc.returncode == 2
  assert 'removed: lfw_007.jpg (index 14)' in proc.stderr
  assert 'model.ckpt-34.index' not in os.listdir(run)


@pytest.mark.e2e
def test_resume_with_other_model_settings_is_refused(tiny_run, lfw_dir, tmp_path):
  run = str(tmp_path / 'run')
  shutil.copytree(tiny_run, run)
  proc = run_main('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run,
                  *(TINY + ['--image_size=32', '--loss=pairwise']), check=False)
  assert proc.returncode == 2
  assert "image_size: 16 -> 32" in proc.stderr and "loss: 'mse' -> 'pairwise'" in proc.stderr


def _prepare(argv):
  return prepare_from_argv(argv)


@pytest.fixture
def flags_reset():
  yield
  cli_train.FLAGS.unparse_flags()


def test_bad_data_directories(tmp_path, flags_reset):  # pylint: disable=unused-argument
  run = str(tmp_path / 'run')
  with pytest.raises(files.DataError, match='does not exist'):
    _prepare(['--data_dir', tmp_path / 'nope', '--run_dir', run])
  (tmp_path / 'empty').mkdir()
  with pytest.raises(files.DataError, match='empty'):
    _prepare(['--data_dir', tmp_path / 'empty', '--run_dir', run])
  (tmp_path / 'text').mkdir()
  (tmp_path / 'text' / 'notes.txt').write_text('hello')
  with pytest.raises(files.DataError, match='has no images'):
    _prepare(['--data_dir', tmp_path / 'text', '--run_dir', run])
  with pytest.raises(files.DataError, match='--data_dir is required'):
    _prepare(['--run_dir', run])


def test_corrupt_image_is_named(lfw_dir, tmp_path, flags_reset):  # pylint: disable=unused-argument
  data = str(tmp_path / 'data')
  shutil.copytree(lfw_dir, data)
  with open(os.path.join(data, 'lfw_003.jpg'), 'r+b') as f:
    f.truncate(200)
  with open(os.path.join(data, 'lfw_050_mirror.jpg'), 'wb') as f:
    f.write(b'not an image at all')
  with pytest.raises(files.DataError) as e:
    _prepare(['--data_dir', data, '--run_dir', str(tmp_path / 'run')] + TINY)
  assert 'lfw_003.jpg' in str(e.value) and 'lfw_050_mirror.jpg' in str(e.value)
  assert 'lfw_004.jpg' not in str(e.value)


@pytest.mark.parametrize('flag,value,match', [
    ('image_size', 48, '--image_size: must be one of 16, 32, 64'),
    ('image_size', 8, '--image_size: must be one of 16, 32, 64'),
    ('batch_size', 0, '--batch_size: must be a positive integer'),
    ('learning_rate', -1.0, '--learning_rate: must be a positive number'),
    ('min_after_dequeue', 5000, '--min_after_dequeue'),
    ('decoder_filters', 'a,b', '--decoder_filters'),
])
def test_bad_flag_values(lfw_dir, tmp_path, flags_reset, flag, value, match):  # pylint: disable=unused-argument
  with pytest.raises(settings.ConfigError, match=re.escape(match)):
    _prepare(['--data_dir', lfw_dir, '--run_dir', str(tmp_path / 'run'), '--preset=demo',
              '--%s=%s' % (flag, value)])
  assert not os.path.exists(str(tmp_path / 'run' / 'config.json'))


@pytest.mark.e2e
def test_cli_reports_errors_without_a_traceback(tmp_path):
  proc = run_main('glo_tf1.cli.train', '--data_dir', tmp_path / 'missing', '--run_dir',
                  tmp_path / 'run', check=False)
  assert proc.returncode == 2
  assert 'error: data directory' in proc.stderr and 'Traceback' not in proc.stderr
  proc = run_module('glo_tf1.cli.train', '--loss=l3', check=False)
  assert proc.returncode != 0 and '--loss' in proc.stderr and 'pairwise' in proc.stderr


@pytest.mark.e2e
def test_paper_preset_pca_init_sgd_lap1_and_stored_projection(lfw_dir, tmp_path):
  """The paper preset end to end on a tiny scale: PCA-initialised codes (checkpoint 0),
  then SGD steps with the Laplacian loss that keep every stored code inside the ball."""
  run = str(tmp_path / 'run')
  tiny = [a for a in TINY if not a.startswith('--preset')]
  run_main('glo_tf1.cli.train', '--preset=paper', '--data_dir', lfw_dir, '--run_dir', run,
           '--num_steps=5', '--save_checkpoint_steps=1000', '--max_to_keep=10', *tiny)
  cfg = run_config.read_config(run)
  assert (cfg['loss'], cfg['optimizer'], cfg['codes_init'], cfg['projection']) == \
      ('lap1', 'sgd', 'pca', 'ball')
  init, step = _codes(run, 0)
  assert step == 0
  # Independent PCA of the same 16 px images: numpy eigenvectors of the covariance.
  from glo_tf1.data import pipelines  # pylint: disable=import-outside-toplevel
  names = [m[1] for m in files.read_manifest(os.path.join(run, 'manifest.tsv'))]
  with tf.Graph().as_default(), tf.Session() as sess:
    images = np.concatenate([b for _, b in pipelines.iterate_in_order(
        sess, [os.path.join(lfw_dir, n) for n in names], 100, 16)])
  x = images.reshape(len(images), -1).astype(np.float64)
  x -= x.mean(0)
  _, vecs = np.linalg.eigh(x.T @ x)
  proj = x @ vecs[:, ::-1][:, :8]
  proj /= np.linalg.norm(proj, axis=1, keepdims=True)
  np.testing.assert_allclose(np.abs(init), np.abs(proj), atol=2e-3)
  final, step = _codes(run)
  assert step == 5
  assert np.all(np.linalg.norm(final, axis=1) <= 1 + 1e-5)
  assert not np.array_equal(final, init)


@pytest.mark.e2e
def test_paper64_trains_dcgans_generator_and_a_run_without_decoder_resumes(lfw_dir, tmp_path):
  """paper64 end to end on a tiny scale: DCGAN's generator (stride-2 k x k output layer, no
  deconv1) learns with the paper's SGD and Lap1 loss; a config.json from before --decoder
  existed resumes as the post's decoder."""
  run = str(tmp_path / 'run')
  tiny = [a for a in TINY if not a.startswith('--preset')]
  out = run_module('glo_tf1.cli.train', '--preset=paper64', '--data_dir', lfw_dir,
                   '--run_dir', run, '--num_steps=120', '--kernel_size=4', '--deterministic',
                   *tiny).stdout
  cfg = run_config.read_config(run)
  assert (cfg['preset'], cfg['decoder'], cfg['kernel_size']) == ('paper64', 'dcgan', 4)
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(run))
  assert reader.get_tensor('decoder/deconv_out/weights').shape == (4, 4, 3, 8)
  assert reader.get_tensor('decoder/project/weights').shape == (4, 4, 16, 8)
  assert not reader.has_tensor('decoder/deconv1/weights')
  # Single batches of 8 are noisy (the last two of a 60-step run ranged 0.36 to 0.47 against
  # a first loss of 0.50 to 0.58): --deterministic fixes the batches, and the mean of the last
  # six printed losses (steps 70 to 120) is compared, not one batch.
  losses = _losses(out)
  assert np.mean(losses[-6:]) < 0.8 * losses[0], out
  old = io.read_json(os.path.join(run, 'config.json'))
  old.update(decoder='post')
  io.write_json(os.path.join(run, 'config.json'), old)
  with pytest.raises(rundir.RunDirError, match="decoder: 'post' -> 'dcgan'"):
    run_config.resolve_for_run(run, None, {'decoder': 'dcgan'})
  del old['decoder'], old['config_version']  # format 1, from before --decoder existed
  io.write_json(os.path.join(run, 'config.json'), old)
  cfg, resumed = run_config.resolve_for_run(run, None, {})
  assert resumed and cfg['decoder'] == 'post'


def test_resume_fills_settings_added_since_the_run_started(tmp_path):
  run = tmp_path / 'run'
  run.mkdir()
  old = dict(settings.resolve('demo'))
  del old['input_cache']  # a run directory from before that setting existed
  io.write_json(str(run / 'config.json'), old)
  cfg, resumed = run_config.resolve_for_run(str(run), None, {})
  assert resumed and cfg['input_cache'] == settings.DEMO['input_cache']
  del old['loss']
  io.write_json(str(run / 'config.json'), old)
  with pytest.raises(rundir.RunDirError, match='lacks the model settings loss'):
    run_config.resolve_for_run(str(run), None, {})


def test_keep_only_equals_a_manifest_of_the_kept_files(lfw_dir):
  names = sorted(os.listdir(lfw_dir))
  kept = names[3:40:3]
  assert files.keep_only(files.build_manifest(lfw_dir, names), kept) == \
      files.build_manifest(lfw_dir, kept)
