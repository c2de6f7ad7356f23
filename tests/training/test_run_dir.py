"""The run directory as a whole (issue 14): copied, moved or shared, it stays one run.
Checkpoint bookkeeping is relative and repaired, one trainer writes at a time, readers
beside a trainer survive its pruning, and config.json is validated as a file."""
import builtins
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from conftest import TINY
from conftest import run_main
from conftest import run_module
from conftest import write_index_images
from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.evaluation import runs
from glo_tf1.training import faults
from glo_tf1.training import remap
from glo_tf1.training import run_dir as rundir


def _args(data, run, *extra):
  return ['--data_dir', data, '--run_dir', run] + TINY + [str(e) for e in extra]


def _ckpt_files(run):
  return {n: os.path.getmtime(os.path.join(run, n)) for n in os.listdir(run)
          if n.startswith('model.ckpt-')}


def _state(run):
  with open(os.path.join(run, rundir.CHECKPOINT_STATE)) as f:
    return f.read()


def _step(run):
  path = rundir.latest_checkpoint(run)
  return int(tf.train.load_checkpoint(path).get_tensor('global_step'))


@pytest.mark.e2e
def test_copied_and_moved_runs_use_their_own_checkpoints(tmp_path):
  """Issue 14, problem 1: resuming a copy restored from, then pruned, the original's
  checkpoints (absolute paths in RUN/checkpoint). An original written with absolute
  paths, as TensorFlow's default and older glo-tf1 did, is copied and resumed: the
  original is untouched; the copy, then moved, resumes, evaluates and refuses an edited
  config.json by name."""
  data = str(tmp_path / 'data')
  write_index_images(data, 16)
  a = str(tmp_path / 'A')
  run_main('glo_tf1.cli.train', *_args(data, a, '--num_steps=10', '--save_checkpoint_steps=5'))
  assert '/' not in _state(a)  # new runs: relative paths
  # Make A an old-style run directory: absolute paths, as TensorFlow writes by default.
  names = sorted({n.split('.', 2)[1] for n in _ckpt_files(a)}, key=lambda s: int(s[5:]))
  paths = [os.path.join(a, 'model.' + n) for n in names]
  tf.train.update_checkpoint_state(a, paths[-1], all_model_checkpoint_paths=paths)
  assert a in _state(a)
  before = _ckpt_files(a)
  b = str(tmp_path / 'B')
  shutil.copytree(a, b)
  proc = run_main('glo_tf1.cli.train', *_args(data, b, '--num_steps=20',
                                              '--save_checkpoint_steps=5'))
  assert 'Resuming at step 10' in proc.stdout and 'copied or moved run' in proc.stdout
  assert _ckpt_files(a) == before  # nothing of A deleted or rewritten
  assert _step(b) == 20 and a not in _state(b) and '/' not in _state(b)
  moved = str(tmp_path / 'moved')
  os.rename(b, moved)
  assert rundir.latest_checkpoint(moved) == os.path.join(moved, 'model.ckpt-20')
  proc = run_main('glo_tf1.cli.train', *_args(data, moved, '--num_steps=25'))
  assert 'Resuming at step 20' in proc.stdout and _step(moved) == 25
  # A hand-edited config.json that changes the model: refused naming the file.
  cfg = io.read_json(os.path.join(moved, rundir.CONFIG_NAME))
  io.write_json(os.path.join(moved, rundir.CONFIG_NAME), dict(cfg, latent_dims=16))
  proc = run_main('glo_tf1.cli.train', '--data_dir', data, '--run_dir', moved,
                  '--num_steps=30', check=False)  # no --latent_dims: config.json's
  assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr
  assert 'config.json' in proc.stderr and 'codes: [16, 8] -> [16, 16]' in proc.stderr


def test_a_lock_removed_by_its_holder_is_never_held_twice(tmp_path, monkeypatch):
  """A failed start removes its lock file; a trainer that opened that file just before
  locks a file no longer at RUN/lock, so it must notice and lock the new one, or two
  trainers would each hold 'the' lock."""
  run = str(tmp_path / 'run')
  os.makedirs(run)
  path = os.path.join(run, rundir.LOCK_NAME)
  stale = open(path, 'a+')  # opened, then its holder ended and removed it
  os.unlink(path)
  real_open = open
  monkeypatch.setattr(builtins, 'open', lambda name, *a, **k: stale if (
      name == path and not stale.closed) else real_open(name, *a, **k))
  with rundir.exclusive(run):
    assert stale.closed and os.path.exists(path)  # dropped once seen not to be RUN/lock
    with pytest.raises(rundir.RunDirError, match='in use by pid %d' % os.getpid()):
      rundir._lock(run, path)  # pylint: disable=protected-access


@pytest.mark.e2e
def test_second_trainer_stops_at_once_naming_the_first(tmp_path):
  """Issue 14, problem 2: two trainers in one run directory both ran. The lock is held
  while a trainer runs (here: this process), and released by the kernel on kill -9."""
  data = str(tmp_path / 'data')
  write_index_images(data, 8)
  run = str(tmp_path / 'run')
  with rundir.exclusive(run):
    started = time.time()
    proc = run_module('glo_tf1.cli.train', *_args(data, run, '--num_steps=2'), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'in use by pid %d' % os.getpid() in proc.stderr
    assert time.time() - started < 60
    assert not os.path.exists(os.path.join(run, 'manifest.tsv'))  # wrote nothing
  # A holder killed with -9 leaves no stale lock.
  code = ('import sys, time; sys.path.insert(0, %r)\n'
          'from glo_tf1.training import run_dir\n'
          'with run_dir.exclusive(%r):\n  print("held", flush=True); time.sleep(60)\n'
          % (ROOT, run))
  holder = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    with pytest.raises(rundir.RunDirError, match='in use by pid %d' % holder.pid):
      with rundir.exclusive(run):
        pass
  finally:
    holder.kill()
    holder.wait(30)
  with rundir.exclusive(run):
    pass


def _write_checkpoints(run, steps, dims=2, state=True):
  """Checkpoints of `steps` whose variable `codes` holds the step (and global_step)."""
  os.makedirs(run, exist_ok=True)
  for step in steps:
    remap.write_checkpoint({'codes': np.full((3, dims), step, np.float32),
                            'global_step': np.int64(step)},
                           os.path.join(run, 'model.ckpt-%d' % step))
  if state:
    rels = ['model.ckpt-%d' % s for s in steps]
    tf.train.update_checkpoint_state(run, rels[-1], all_model_checkpoint_paths=rels)


def _truncate(path, size):
  with open(path, 'r+b') as f:
    f.truncate(size)


def test_missing_checkpoint_index_is_rebuilt_not_started_over(tmp_path, capsys):
  run = str(tmp_path / 'run')
  _write_checkpoints(run, [5, 10], state=False)
  assert rundir.latest_checkpoint(run).endswith('model.ckpt-10')  # readers too
  assert rundir.repair_checkpoints(run) == os.path.join(run, 'model.ckpt-10')
  assert 'checkpoint is missing; rebuilt from the 2 checkpoint(s)' in capsys.readouterr().out
  state = tf.train.get_checkpoint_state(run)
  assert state.model_checkpoint_path == os.path.join(run, 'model.ckpt-10')
  assert list(state.all_model_checkpoint_paths) == [os.path.join(run, 'model.ckpt-5'),
                                                    os.path.join(run, 'model.ckpt-10')]


@pytest.mark.parametrize('part', ['data-00000-of-00001', 'index'])
def test_torn_newest_checkpoint_falls_back_to_the_previous_intact_one(tmp_path, capsys,
                                                                      part):
  run = str(tmp_path / 'run')
  _write_checkpoints(run, [5, 10])
  _truncate(os.path.join(run, 'model.ckpt-10.' + part), 20)
  # Issue 31: a user's file of the same stem stays; an earlier damaged copy is not replaced.
  with open(os.path.join(run, 'model.ckpt-10.notes'), 'w') as f:
    f.write('mine')
  os.makedirs(os.path.join(run, rundir.DAMAGED_NAME))
  with open(os.path.join(run, rundir.DAMAGED_NAME, 'model.ckpt-10.index'), 'w') as f:
    f.write('moved here by an earlier repair')
  # The error handler names the survivor (it crashed with an IndexError).
  survivor = faults.surviving_checkpoint(run)
  assert survivor.startswith('%s (step 5); the newer %s does NOT read back'
                             % (os.path.join(run, 'model.ckpt-5'),
                                os.path.join(run, 'model.ckpt-10'))), survivor
  assert rundir.repair_checkpoints(run) == os.path.join(run, 'model.ckpt-5')
  out = capsys.readouterr().out
  assert 'model.ckpt-10 does not read back' in out and 'Resuming from model.ckpt-5' in out
  assert tf.train.latest_checkpoint(run) == os.path.join(run, 'model.ckpt-5')
  moved = os.path.join(run, rundir.DAMAGED_NAME, 'model.ckpt-10-1')
  assert sorted(os.listdir(moved)) == ['model.ckpt-10.data-00000-of-00001',
                                       'model.ckpt-10.index'] and 'moved to %s' % moved in out
  with open(os.path.join(run, rundir.DAMAGED_NAME, 'model.ckpt-10.index')) as f:
    assert f.read() == 'moved here by an earlier repair'
  with open(os.path.join(run, 'model.ckpt-10.notes')) as f:
    assert f.read() == 'mine'
  _truncate(os.path.join(run, 'model.ckpt-5.' + part), 20)
  with pytest.raises(rundir.RunDirError, match='no checkpoint in .* reads back'):
    rundir.repair_checkpoints(run)


@pytest.mark.parametrize('part', ['data-00000-of-00001', 'index'])
def test_readers_refuse_a_torn_checkpoint_naming_it_and_the_newest_intact_one(tmp_path,
                                                                             part):
  """Issue 22: glo-evaluate --checkpoint N of a torn checkpoint ended in OutOfRangeError,
  and without --checkpoint a torn newest one was silently replaced by an older step."""
  run = str(tmp_path / 'run')
  _write_checkpoints(run, [5, 10])
  _truncate(os.path.join(run, 'model.ckpt-10.' + part), 20)
  torn = os.path.join(run, 'model.ckpt-10')
  with pytest.raises(rundir.RunDirError) as e:
    rundir.latest_checkpoint(run)
  assert 'newest checkpoint of %s, %s (step 10), does not read back' % (run, torn) in str(
      e.value) and 'the newest intact one: step 5' in str(e.value), e.value
  with pytest.raises(rundir.RunDirError, match='checkpoint %s does not read back .*step 5'
                     % re.escape(torn)):
    rundir.latest_checkpoint(run, '10')
  assert rundir.latest_checkpoint(run, '5') == os.path.join(run, 'model.ckpt-5')  # asked
  rundir.repair_checkpoints(run)  # a resume moves the torn one aside: readers take step 5
  assert rundir.latest_checkpoint(run) == os.path.join(run, 'model.ckpt-5')


def test_a_checkpoint_named_but_absent_is_refused_never_looked_for_outside(tmp_path):
  other = str(tmp_path / 'other')
  _write_checkpoints(other, [5])
  run = str(tmp_path / 'run')
  os.makedirs(run)
  shutil.copy(os.path.join(other, rundir.CHECKPOINT_STATE), run)
  tf.train.update_checkpoint_state(run, os.path.join(other, 'model.ckpt-5'))
  with pytest.raises(rundir.RunDirError, match='names .*model.ckpt-5 as the newest '
                                               'checkpoint, but it is not in'):
    rundir.repair_checkpoints(run)


def test_restore_failure_is_reported_as_a_read_failure(tmp_path):
  run = str(tmp_path / 'run')
  _write_checkpoints(run, [5])
  error = tf.errors.DataLossError(None, None, 'Restoring from checkpoint failed. Unable to '
                                  'read: truncated record\n\t [[{{node save/RestoreV2}}]]')
  message = faults.describe_training_error(error, '', [], run)
  assert message.startswith('reading the checkpoint to resume from in %s failed' % run)
  assert 'Free space' not in message and 'model.ckpt-5 (step 5)' in message


def test_reader_retries_a_checkpoint_pruned_under_it(tmp_path, monkeypatch):
  """evaluate/figures chose a checkpoint that a running trainer then pruned: the newest is
  restored instead (it was a traceback)."""
  run = str(tmp_path / 'run')
  _write_checkpoints(run, [5])
  real = rundir.latest_checkpoint
  calls = []

  def chosen_then_pruned(run_dir, checkpoint=None):
    path = real(run_dir, checkpoint)
    if not calls:  # the trainer saves step 10 and prunes step 5 right after the choice
      _write_checkpoints(run, [10])
      for name in os.listdir(run):
        if name.startswith('model.ckpt-5.'):
          os.remove(os.path.join(run, name))
    calls.append(path)
    return path
  monkeypatch.setattr(rundir, 'latest_checkpoint', chosen_then_pruned)
  with tf.Graph().as_default():
    codes = tf.Variable(np.zeros((3, 2), np.float32), name='codes')
    with tf.Session() as sess:
      path = runs.restore_variables(sess, run, [codes])
      assert path == os.path.join(run, 'model.ckpt-10')
      assert sess.run(codes).tolist() == [[10, 10]] * 3
  assert calls[0].endswith('model.ckpt-5')


def test_checkpoint_of_another_model_is_refused_listing_shapes(tmp_path):
  """evaluate --checkpoint from another preset gave a shape traceback."""
  run = str(tmp_path / 'run')
  _write_checkpoints(run, [5], dims=4)
  with tf.Graph().as_default():
    codes = tf.Variable(np.zeros((3, 2), np.float32), name='codes')
    with tf.Session() as sess:
      with pytest.raises(rundir.RunDirError, match=r'codes: \[3, 4\] -> \[3, 2\]'):
        runs.restore_variables(sess, run, [codes], checkpoint=os.path.join(
            run, 'model.ckpt-5'))


def test_hand_edited_config_is_validated_naming_the_file(tmp_path):
  run = str(tmp_path / 'run')
  os.makedirs(run)
  path = os.path.join(run, rundir.CONFIG_NAME)
  with open(path, 'w') as f:
    json.dump([1, 2], f)
  with pytest.raises(io.FileFormatError, match='%s should hold a JSON object' % path):
    rundir.resolve_for_run(run, None, {})
  io.write_json(path, dict(settings.resolve('demo', {}), latent_dims='eight'))
  for overrides in ({}, {'num_steps': 5}):
    with pytest.raises(rundir.RunDirError) as e:
      rundir.resolve_for_run(run, None, overrides)
    assert str(e.value).startswith(path) and 'latent_dims' in str(e.value)
    assert '--' not in str(e.value)  # no flag blamed: the user gave none


def test_a_lap1_run_of_an_older_version_is_refused_naming_the_loss_change(tmp_path):
  """Lap1 changed in 0.2.0: an older lap1 run must not resume (or be evaluated) on the new
  loss; other losses, and lap1 runs of this version, go on."""
  from glo_tf1 import io as io_lib  # pylint: disable=import-outside-toplevel
  from glo_tf1 import settings as settings_lib  # pylint: disable=import-outside-toplevel
  run = str(tmp_path / 'run')
  os.makedirs(run)
  for loss, version, refused in (('lap1', '0.1.0', True), ('lap1', '0.2.0', False),
                                 ('mse', '0.1.0', False)):
    cfg = settings_lib.resolve('paper', {'loss': loss})
    io_lib.write_json(os.path.join(run, rundir.CONFIG_NAME), cfg)
    io_lib.write_json(os.path.join(run, rundir.PROVENANCE_NAME), {'glo_tf1_version': version})
    if refused:
      with pytest.raises(rundir.RunDirError, match='2\\^-2j'):
        rundir.resolve_for_run(run, None, {})
    else:
      assert rundir.resolve_for_run(run, None, {})[1]  # resumed


def _config_of_version(version, **changes):
  """A config.json as glo-tf1 wrote it in format `version` (settings.CONFIG_VERSION's
  history): 1 had no config_version and may lack settings added later."""
  from glo_tf1 import settings as settings_lib  # pylint: disable=import-outside-toplevel
  cfg = dict(settings_lib.resolve('demo', {'image_size': 16}))  # a plain, editable dict
  if version >= 2:
    cfg['config_version'] = version
  for k, v in changes.items():
    if v is None:
      del cfg[k]
    else:
      cfg[k] = v
  return cfg


@pytest.mark.parametrize('version', [1, 2, 3])
def test_every_past_config_format_resumes(tmp_path, version):
  from glo_tf1 import io as io_lib  # pylint: disable=import-outside-toplevel
  from glo_tf1 import settings as settings_lib  # pylint: disable=import-outside-toplevel
  run = str(tmp_path / 'run')
  os.makedirs(run)
  missing = {1: {'decoder': None, 'precision': None, 'variable_device': None,
                 'channels': None},
             2: {'channels': None}, 3: {}}[version]
  io_lib.write_json(os.path.join(run, rundir.CONFIG_NAME),
                    _config_of_version(version, **missing))
  cfg, resumed = rundir.resolve_for_run(run, None, {})
  assert resumed and 'config_version' not in cfg
  assert cfg['decoder'] == 'post' and cfg['precision'] == 'fp32'  # what v1 runs had
  assert cfg['channels'] == 3  # every run before format 3 was RGB
  assert cfg['variable_device'] == 'auto' and cfg['image_size'] == 16
  rundir.write_config(run, cfg)  # written back in today's format, read back the same
  assert (io_lib.read_json(os.path.join(run, rundir.CONFIG_NAME))['config_version'] ==
          settings_lib.CONFIG_VERSION == 3)
  assert rundir.read_config(run) == cfg
  if version == 3:  # today's format must name channels: a 1-channel run is not an RGB one
    io_lib.write_json(os.path.join(run, rundir.CONFIG_NAME),
                      _config_of_version(3, channels=None))
    with pytest.raises(rundir.RunDirError, match='lacks the model settings channels'):
      rundir.resolve_for_run(run, None, {})


def test_a_newer_config_format_and_a_v1_config_without_a_fixed_setting_are_refused(tmp_path):
  from glo_tf1 import io as io_lib  # pylint: disable=import-outside-toplevel
  run = str(tmp_path / 'run')
  os.makedirs(run)
  path = os.path.join(run, rundir.CONFIG_NAME)
  io_lib.write_json(path, _config_of_version(4))
  with pytest.raises(rundir.RunDirError, match='config_version 4 was written by a newer'):
    rundir.read_config(run)
  io_lib.write_json(path, _config_of_version(1, latent_dims=None))
  with pytest.raises(rundir.RunDirError, match='config.json: .*lacks the model settings '
                     'latent_dims'):
    rundir.resolve_for_run(run, None, {})
