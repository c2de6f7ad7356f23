"""Faults: signals and kill -9 at random moments, NaN losses, bad images found mid-run, an
unwritable or full disk, data changed between runs, bad flags. Each test fails if the
guarantee of README "Reliability" breaks."""
import contextlib
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import ROOT
from conftest import TINY
from conftest import prepare_from_argv
from conftest import run_main
from conftest import run_module
from conftest import write_index_images
from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.cli import train as cli_train
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.rundir import config as run_config
from glo_tf1.training import faults
from glo_tf1.training import hooks
from glo_tf1.training import remap


def _args(data, run, *extra):
  return ['--data_dir', data, '--run_dir', run] + TINY + [str(e) for e in extra]


_LIVE = []  # trainers still running when a test fails are killed by the fixture below


@pytest.fixture(autouse=True)
def _kill_leftover_trainers():
  yield
  while _LIVE:
    proc = _LIVE.pop()
    if proc.poll() is None:
      proc.kill()
      proc.wait(30)


class _Trainer:
  """`glo-train` (python -m glo_tf1.cli.train) in the background; its output is collected by a thread."""

  def __init__(self, args):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1', TF_CPP_MIN_LOG_LEVEL='2')
    self.started = time.time()
    self.proc = subprocess.Popen([sys.executable, '-m', 'glo_tf1.cli.train'] + args,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env=env, cwd=ROOT)
    _LIVE.append(self.proc)
    self.lines = []
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self):
    for line in self.proc.stdout:
      self.lines.append(line)

  def wait_for(self, pattern, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
      for line in list(self.lines):
        match = re.search(pattern, line)
        if match:
          return match
      if self.proc.poll() is not None and not self._reader.is_alive():
        break
      time.sleep(0.01)
    raise AssertionError('no %r in output:\n%s' % (pattern, self.output()))

  def finish(self, timeout=90):
    self.proc.wait(timeout)
    self._reader.join(10)
    return self.proc.returncode

  def output(self):
    return ''.join(self.lines)


def _snapshot(run):
  """{variable: value} of the newest checkpoint (reading every tensor), or None."""
  path = tf.train.latest_checkpoint(run)
  if path is None:
    return None
  reader = tf.train.load_checkpoint(path)
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}


def _same(a, b):
  return sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.e2e
def test_signals_and_kill9_at_random_moments_lose_nothing(tmp_path):
  """One run directory, interrupted again and again: Ctrl-C, SIGTERM and SIGHUP at random moments
  save the step they stopped at; kill -9 at random moments (one aimed at a checkpoint
  write in progress) leaves the newest complete checkpoint readable. Each restart must
  resume at exactly the newest checkpoint's step and re-save (at start) exactly its
  variables: codes, decoder, Adam's m, v and beta powers, batch-norm statistics."""
  data = str(tmp_path / 'data')
  write_index_images(data, 48)
  run = str(tmp_path / 'run')
  seed = random.randrange(10 ** 6)
  rng = random.Random(seed)
  args = _args(data, run, '--num_steps=1000000', '--save_checkpoint_steps=3',
               '--max_to_keep=1000')
  # SIGHUP: a dropped SSH session or closed terminal (issue 14: it killed the run unsaved).
  plan = [signal.SIGINT, 'kill-anywhere', signal.SIGTERM, signal.SIGHUP, 'kill-during-save',
          None]
  caught_in_save = False
  for what in plan:
    before = _snapshot(run)
    expected = int(before['global_step']) if before else 0
    last = ['--num_steps=%d' % max(expected, 1)] if what is None else []
    trainer = _Trainer(args + last)
    where = 'seed %d, %s, expected step %d' % (seed, what, expected)
    if what == 'kill-anywhere':  # from launch (start-up, restore) well into training
      time.sleep(rng.uniform(0.0, 8.0))
      trainer.proc.kill()
      assert trainer.finish() == -signal.SIGKILL
      continue
    start = int(trainer.wait_for(r'(?:Starting|Resuming) at step (\d+)|already at step (\d+)')
                .group(1) or expected)
    assert start == expected, where + '\n' + trainer.output()
    if before is not None:  # the restored state, saved again at start, is the checkpoint
      prefix = os.path.join(run, 'model.ckpt-%d' % expected)
      assert os.path.getmtime(prefix + '.index') >= trainer.started - 1, where
      reader = tf.train.load_checkpoint(prefix)
      assert _same(before, {k: reader.get_tensor(k) for k in before}), where
    if what is None:
      assert trainer.finish() == 0, trainer.output()
      break
    if what == 'kill-during-save':
      deadline = time.time() + 5
      while time.time() < deadline:
        if any('tempstate' in n for n in os.listdir(run)):
          trainer.proc.kill()
          caught_in_save = True
          break
      else:
        trainer.proc.kill()
      assert trainer.finish() == -signal.SIGKILL
      continue
    time.sleep(rng.uniform(0.0, 1.5))
    trainer.proc.send_signal(what)
    assert trainer.finish() == 0, where + '\n' + trainer.output()
    stopped = int(trainer.wait_for(r'Interrupted at step (\d+); checkpoint saved').group(1))
    assert int(_snapshot(run)['global_step']) == stopped >= start, where
  print('kill -9 landed inside a checkpoint write: %s' % caught_in_save)


@pytest.mark.e2e
def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
  data = str(tmp_path / 'data')
  write_index_images(data, 24)
  run = str(tmp_path / 'run')
  proc = run_main('glo_tf1.cli.train', *_args(data, run, '--num_steps=50',
                                          '--save_checkpoint_steps=1',
                                          '--learning_rate=1e30',
                                          '--codes_learning_rate=1e30'), check=False)
  assert proc.returncode == 3, proc.stdout + proc.stderr
  # The loss hook, or (an update that overflowed) the check before a save, names the step.
  step = int(re.search(r'(?:the loss became \S+|hold NaN or Inf) at step (\d+)',
                       proc.stderr).group(1))
  assert 'Traceback' not in proc.stderr
  last = _snapshot(run)
  assert int(last['global_step']) == step - 1  # every step before the fault was saved
  assert not any(n.startswith('model.ckpt-%d.' % step) for n in os.listdir(run))
  assert all(np.all(np.isfinite(v)) for v in last.values() if v.dtype.kind == 'f')
  assert 'model.ckpt-%d (step %d)' % (step - 1, step - 1) in proc.stderr


def test_no_checkpoint_with_nan_or_inf_variables_is_written(tmp_path):
  """An update that overflows shows in the loss one step later; the listener must keep
  that step's variables out of the rundir."""
  with tf.Graph().as_default():
    step = tf.train.get_or_create_global_step()
    weights = tf.Variable([1.0, 2.0], name='weights')
    corrupt = tf.group(weights.assign([1.0, np.inf]), step.assign_add(1))
    hook = hooks.saver_hook(str(tmp_path), tf.train.Saver(), save_steps=1,
                                  listeners=[faults.FiniteCheckpointListener()])
    with pytest.raises(faults.NonFiniteError, match=r'weights hold NaN or Inf at step 1'):
      with tf.train.MonitoredSession(hooks=[hook]) as sess:
        sess.run(corrupt)
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith('model.ckpt-0')
  assert _snapshot(str(tmp_path))['weights'].tolist() == [1.0, 2.0]


@pytest.mark.e2e
def test_corrupt_image_mid_training_is_named(tmp_path):
  data = str(tmp_path / 'data')
  write_index_images(data, 24)
  with open(os.path.join(data, 'img_00007.png'), 'r+b') as f:
    f.truncate(40)
  run = str(tmp_path / 'run')
  proc = run_main('glo_tf1.cli.train', *_args(data, run, '--num_steps=50',
                                          '--skip_data_check'), check=False)
  assert proc.returncode == 4, proc.stdout + proc.stderr
  assert 'failed to load during training' in proc.stderr
  assert os.path.join(data, 'img_00007.png') + ': truncated PNG' in proc.stderr
  assert 'img_00006.png' not in proc.stderr and 'Traceback' not in proc.stderr


@contextlib.contextmanager
def _tmpfs(path, size):
  """A tmpfs of `size` at `path` (yields False where this machine forbids mounting)."""
  os.makedirs(path, exist_ok=True)
  ok = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', path],
                      capture_output=True, check=False).returncode == 0 \
      if shutil.which('mount') else False
  try:
    yield ok
  finally:
    if ok:
      subprocess.run(['umount', '-l', path], capture_output=True, check=False)


def _make_read_only(path, mounted):
  if mounted:
    subprocess.run(['mount', '-o', 'remount,ro', path], check=True)
  else:
    os.chmod(path, 0o555)


@pytest.fixture
def flags_reset():
  yield
  cli_train.FLAGS.unparse_flags()


def test_unwritable_run_dir_is_a_clear_error(tmp_path, flags_reset):  # pylint: disable=unused-argument
  """A read-only file system where mounting is allowed (root ignores permissions),
  otherwise a directory without write permission."""
  data = str(tmp_path / 'data')
  write_index_images(data, 16)
  disk = str(tmp_path / 'disk')
  with _tmpfs(disk, '4m') as mounted:
    if not mounted and os.geteuid() == 0:
      pytest.skip('cannot mount here, and root writes through permissions')
    run = os.path.join(disk, 'run')
    os.makedirs(run)
    _make_read_only(disk, mounted)
    for target in (run, os.path.join(disk, 'new_run')):
      with pytest.raises(rundir.RunDirError, match=re.escape(target)):
        prepare_from_argv(_args(data, target))
    if not mounted:
      os.chmod(disk, 0o755)


@pytest.mark.e2e
def test_disk_full_during_a_checkpoint_keeps_the_previous_one(tmp_path):
  """Training on a small tmpfs (or a run directory made read-only mid-run where mounting
  is not allowed) until the disk fills: a clear error, and the checkpoint before it reads
  back completely."""
  data = str(tmp_path / 'data')
  write_index_images(data, 24)
  disk = str(tmp_path / 'disk')
  with _tmpfs(disk, '6m') as mounted:
    if not mounted and os.geteuid() == 0:
      pytest.skip('cannot mount here, and root writes through permissions')
    run = os.path.join(disk, 'run')
    args = _args(data, run, '--save_checkpoint_steps=20')
    trainer = _Trainer(args + ['--num_steps=1000000'])
    trainer.wait_for(r'Starting at step 0')  # model.ckpt-0 is written before this line
    if mounted:
      fd = os.open(os.path.join(disk, 'filler'), os.O_WRONLY | os.O_CREAT)
      with pytest.raises(OSError):
        while True:
          os.write(fd, b'\0' * 65536)
      os.close(fd)
    else:
      os.chmod(run, 0o555)
    assert trainer.finish() == 4, trainer.output()
    out = trainer.output()
    assert ('No space left on device' if mounted else 'Permission denied') in out, out
    assert 'newest complete checkpoint is %s' % os.path.join(run, 'model.ckpt-0') in out
    assert 'Traceback' not in out
    kept = _snapshot(run)  # restorable: every tensor reads back (the signal test resumes)
    assert int(kept['global_step']) == 0 and kept['codes'].shape == (24, 8)
    if not mounted:
      os.chmod(run, 0o755)


def _write_checkpoint(run, names, dims=3, step=7):
  """A run directory with a manifest of `names` and a checkpoint whose code row i and
  slot rows hold i (so every row says which file it belonged to)."""
  os.makedirs(run, exist_ok=True)
  rows = np.arange(len(names), dtype=np.float32)[:, None] + np.zeros((1, dims), np.float32)
  values = {'codes': rows, 'codes/Adam': rows + 0.25, 'codes/Adam_1': rows + 0.5,
            'decoder/weights': np.arange(6, dtype=np.float32).reshape(2, 3),
            'beta1_power': np.float32(0.5), 'global_step': np.int64(step)}
  path = remap.write_checkpoint(values, os.path.join(run, 'model.ckpt-%d' % step))
  tf.train.update_checkpoint_state(run, path)
  manifest = [(i, n, 100 + i, 'h%d' % i) for i, n in enumerate(names)]
  files.write_manifest(os.path.join(run, files.MANIFEST_NAME), manifest)
  return values, manifest


def test_remap_keeps_codes_by_file_name(tmp_path):
  run = str(tmp_path / 'run')
  old_names = ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg']
  old, manifest = _write_checkpoint(run, old_names)
  # b removed, d modified (new hash), e renamed to f, new file 0 sorts first.
  new_manifest = [(i, n, s, h) for i, (n, s, h) in enumerate([
      ('0.jpg', 50, 'x'), ('a.jpg', 100, 'h0'), ('c.jpg', 102, 'h2'), ('d.jpg', 103, 'zz'),
      ('f.jpg', 104, 'h4')])]
  cfg = settings.resolve('demo', {'latent_dims': 3})
  summary = remap.remap_run(run, cfg, new_manifest)
  assert (summary['kept'], summary['fresh'], summary['dropped']) == (2, 3, 3)
  new = _snapshot(run)
  assert int(new['global_step']) == 7 and new['codes'].shape == (5, 3)
  kept = {1: 0, 2: 2}  # new row -> old row (a and c)
  for r in range(5):
    if r in kept:
      for key in ('codes', 'codes/Adam', 'codes/Adam_1'):
        np.testing.assert_array_equal(new[key][r], old[key][kept[r]])
    else:  # fresh: glorot uniform for a (5, 3) table, zero Adam slots
      assert np.all(np.abs(new['codes'][r]) <= math.sqrt(6. / 8)) and \
          not np.any(np.isin(new['codes'][r], old['codes']))
      assert not new['codes/Adam'][r].any() and not new['codes/Adam_1'][r].any()
  for key in ('decoder/weights', 'beta1_power'):
    np.testing.assert_array_equal(new[key], old[key])
  assert files.read_manifest(os.path.join(run, files.MANIFEST_NAME)) == new_manifest
  assert not os.path.exists(os.path.join(run, remap.JOURNAL_NAME))
  before = os.path.join(run, 'remap-7', 'before')
  assert 'model.ckpt-7.index' in os.listdir(before)  # the replaced checkpoint is kept
  assert not any(n.startswith('model.ckpt-') for n in os.listdir(run))
  # Same data again: a second remap at the same step never writes over the live one.
  with open(os.path.join(run, 'model.ckpt-7.notes'), 'w') as f:  # issue 31: not a
    f.write('mine')                                                # checkpoint file: stays
  summary = remap.remap_run(run, cfg, new_manifest[:4])
  assert summary['checkpoint'].startswith(os.path.join(run, 'remap-7-2'))
  with open(os.path.join(run, 'model.ckpt-7.notes')) as f:
    assert f.read() == 'mine'
  np.testing.assert_array_equal(_snapshot(run)['codes'], new['codes'][:4])


def test_remap_interrupted_after_its_commit_is_finished_on_the_next_start(tmp_path,
                                                                         monkeypatch):
  run = str(tmp_path / 'run')
  _, manifest = _write_checkpoint(run, ['a.jpg', 'b.jpg'])
  new_manifest = [(0, 'b.jpg', 101, 'h1'), (1, 'c.jpg', 5, 'new')]
  calls = []

  def crash(run_dir):
    calls.append(run_dir)
    raise KeyboardInterrupt  # the process dies right after the journal is committed
  real = remap.finish_pending
  monkeypatch.setattr(remap, 'finish_pending', crash)
  with pytest.raises(KeyboardInterrupt):
    remap.remap_run(run, settings.resolve('demo', {'latent_dims': 3}), new_manifest)
  assert calls and files.read_manifest(os.path.join(run, files.MANIFEST_NAME)) == manifest
  assert real(run) and not real(run)  # finished once; nothing pending afterwards
  assert files.read_manifest(os.path.join(run, files.MANIFEST_NAME)) == new_manifest
  np.testing.assert_array_equal(_snapshot(run)['codes'][0], [1, 1, 1])  # b's row


@pytest.mark.e2e
def test_changed_data_is_refused_then_continued_with_the_flag(tmp_path, flags_reset):  # pylint: disable=unused-argument
  data = str(tmp_path / 'data')
  names = write_index_images(data, 20)
  run = str(tmp_path / 'run')
  run_main('glo_tf1.cli.train', *_args(data, run, '--num_steps=4'))
  old = _snapshot(run)
  os.remove(os.path.join(data, names[3]))                                  # removed
  os.rename(os.path.join(data, names[5]), os.path.join(data, 'zz_renamed.png'))  # renamed
  shutil.copy(os.path.join(data, names[0]), os.path.join(data, 'aa_new.png'))  # added
  shutil.copy(os.path.join(data, names[10]), os.path.join(data, names[9]))  # modified
  with pytest.raises(rundir.RunDirError) as e:
    prepare_from_argv(_args(data, run, '--num_steps=6'))
  for line in ('removed: %s' % names[3], 'removed: %s' % names[5], 'added: aa_new.png',
               'added: zz_renamed.png', 'modified: %s' % names[9], '--allow_changed_data'):
    assert line in str(e.value), line
  assert _same(_snapshot(run), old)
  proc = run_main('glo_tf1.cli.train', *_args(data, run, '--num_steps=4',
                                          '--allow_changed_data'))
  assert 'Resuming' not in proc.stdout and 'already at step 4' in proc.stdout
  assert '17 kept, 3 new (fresh codes), 3 dropped' in proc.stdout
  new = _snapshot(run)
  new_names = [m[1] for m in files.read_manifest(os.path.join(run, files.MANIFEST_NAME))]
  assert new_names == sorted(os.listdir(data))
  for row, name in enumerate(new_names):
    if name in names and name != names[9]:
      np.testing.assert_array_equal(new['codes'][row], old['codes'][names.index(name)])
    else:
      assert not np.any(np.isin(new['codes'][row], old['codes'])), name


def test_manifest_sees_same_size_edits_renames_and_moves(tmp_path):
  data = str(tmp_path)
  names = write_index_images(data, 4)
  before = files.build_manifest(data, names)
  path = os.path.join(data, names[2])
  with open(path, 'r+b') as f:
    f.seek(-20, os.SEEK_END)
    f.write(b'\x00')
  assert files.manifest_differences(before, files.build_manifest(data, names)) == \
      ['modified: %s (size %d -> %d)' % (names[2], before[2][2], before[2][2])]


# One bad value per setting: validation must name the flag. Settings added later get a
# bad value of their type's kind (test_every_setting_has_a_bad_value_case).
BAD_VALUES = {
    'image_size': 100, 'tight_crop': 'yes', 'latent_dims': 0, 'batch_size': -4,
    'decoder_filters': [64, 0], 'kernel_size': 0, 'normalizer': 'group_norm',
    'batch_norm_decay': 1.0, 'projection': 'cube', 'project_stored_codes': 1,
    'codes_init': 'zeros', 'loss': 'l3', 'lap1_levels': 0, 'optimizer': 'rmsprop',
    'codes_optimizer': 'adagrad', 'learning_rate': 0.0, 'codes_learning_rate': float('nan'),
    'num_steps': 0, 'num_gpus': -1, 'tower_device': 'tpu', 'input_pipeline': 'tfdata',
    'num_samples': -1, 'num_reader_threads': 0, 'shuffle_capacity': 0,
    'min_after_dequeue': -1, 'save_summaries_steps': 0, 'image_summary_steps': -1,
    'save_checkpoint_secs': 0, 'save_checkpoint_steps': -10, 'max_to_keep': 0,
    'log_every_steps': 0, 'seed': -1, 'deterministic': 'maybe', 'precision': 'fp8',
}


def _bad_value(key):
  if key in BAD_VALUES:
    return BAD_VALUES[key]
  default = settings.BLOG[key]
  if isinstance(default, bool):
    return 'maybe'
  if isinstance(default, str):
    return 'no-such-value'
  if isinstance(default, float):
    return float('nan')
  if isinstance(default, list):
    return [-1]
  return -1


@pytest.mark.parametrize('key', sorted(k for k in settings.BLOG if k != 'preset'))
def test_every_setting_is_validated_naming_the_flag(key):
  with pytest.raises(settings.ConfigError) as e:
    settings.resolve('demo', {key: _bad_value(key)})
  assert str(e.value).startswith('--%s' % key), str(e.value)
  if key in settings.CHOICES:  # an enum: the accepted values are listed
    assert all(str(choice) in str(e.value) for choice in settings.CHOICES[key]), str(e.value)


@pytest.mark.e2e
def test_other_flags_are_validated(tmp_path, flags_reset):  # pylint: disable=unused-argument
  data = str(tmp_path / 'data')
  write_index_images(data, 4)
  # The one check of --run_dir is launch.run's (a parameter server needs none): glo-train's.
  proc = run_main('glo_tf1.cli.train', '--data_dir', data, check=False)
  assert proc.returncode == 2 and 'error: --run_dir is required' in proc.stderr, proc.stderr
  cases = [
      (['--run_dir', str(tmp_path / 'r')], files.DataError, '--data_dir is required'),
      (['--data_dir', data, '--run_dir', str(tmp_path / 'r'), '--file_list',
        str(tmp_path / 'missing.txt')], files.DataError, 'file list %s does not exist'
       % (tmp_path / 'missing.txt')),
      (['--data_dir', data, '--run_dir', str(tmp_path / 'r'), '--decoder_filters=8,x'],
       settings.ConfigError, '--decoder_filters'),
  ]
  for argv, error, words in cases:
    with pytest.raises(error, match=re.escape(words)):
      prepare_from_argv(argv)
  proc = run_module('glo_tf1.cli.check_data', '--data_dir', data, '--num_workers=-2', check=False)
  assert proc.returncode == 2 and '--num_workers' in proc.stderr


def test_resume_with_another_preset_or_image_size_lists_the_differences(tmp_path):
  run = str(tmp_path / 'run')
  os.makedirs(run)
  demo = settings.resolve('demo', {'image_size': 16})
  io.write_json(os.path.join(run, rundir.CONFIG_NAME), demo)
  assert run_config.resolve_for_run(run, None, {'num_steps': 10})[0]['num_steps'] == 10
  with pytest.raises(rundir.RunDirError) as e:
    run_config.resolve_for_run(run, 'blog', {})
  for line in ("preset: 'demo' -> 'blog'", 'image_size: 16 -> 128', 'latent_dims: 32 -> 100'):
    assert line in str(e.value), str(e.value)
  with pytest.raises(rundir.RunDirError, match=r'image_size: 16 -> 64'):
    run_config.resolve_for_run(run, None, {'image_size': 64})
