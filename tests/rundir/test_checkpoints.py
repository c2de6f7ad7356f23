"""The run directory's checkpoints (issue 14): copied or moved, a run uses its own;
checkpoint bookkeeping is relative and repaired, a torn newest checkpoint is moved aside
for a resume and refused to readers, and readers beside a trainer survive its pruning.
The lock and config.json: test_lock.py, test_config.py."""
import os
import re
import shutil

import numpy as np
import pytest

from conftest import TINY
from conftest import run_main
from conftest import write_index_images
from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1.compat import tf
from glo_tf1.evaluation import runs
from glo_tf1.rundir import checkpoints as run_checkpoints
from glo_tf1.training import faults
from glo_tf1.training import remap


def _args(data, run, *extra):
  return ['--data_dir', data, '--run_dir', run] + TINY + [str(e) for e in extra]


def _ckpt_files(run):
  return {n: os.path.getmtime(os.path.join(run, n)) for n in os.listdir(run)
          if n.startswith('model.ckpt-')}


def _state(run):
  with open(os.path.join(run, rundir.CHECKPOINT_STATE)) as f:
    return f.read()


def _step(run):
  path = run_checkpoints.latest_checkpoint(run)
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
  assert run_checkpoints.latest_checkpoint(moved) == os.path.join(moved, 'model.ckpt-20')
  proc = run_main('glo_tf1.cli.train', *_args(data, moved, '--num_steps=25'))
  assert 'Resuming at step 20' in proc.stdout and _step(moved) == 25
  # A hand-edited config.json that changes the model: refused naming the file.
  cfg = io.read_json(os.path.join(moved, rundir.CONFIG_NAME))
  io.write_json(os.path.join(moved, rundir.CONFIG_NAME), dict(cfg, latent_dims=16))
  proc = run_main('glo_tf1.cli.train', '--data_dir', data, '--run_dir', moved,
                  '--num_steps=30', check=False)  # no --latent_dims: config.json's
  assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr
  assert 'config.json' in proc.stderr and 'codes: [16, 8] -> [16, 16]' in proc.stderr


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
  assert run_checkpoints.latest_checkpoint(run).endswith('model.ckpt-10')  # readers too
  assert run_checkpoints.repair_checkpoints(run) == os.path.join(run, 'model.ckpt-10')
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
  assert run_checkpoints.repair_checkpoints(run) == os.path.join(run, 'model.ckpt-5')
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
    run_checkpoints.repair_checkpoints(run)


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
    run_checkpoints.latest_checkpoint(run)
  assert 'newest checkpoint of %s, %s (step 10), does not read back' % (run, torn) in str(
      e.value) and 'the newest intact one: step 5' in str(e.value), e.value
  with pytest.raises(rundir.RunDirError, match='checkpoint %s does not read back .*step 5'
                     % re.escape(torn)):
    run_checkpoints.latest_checkpoint(run, '10')
  asked = run_checkpoints.latest_checkpoint(run, '5')
  assert asked == os.path.join(run, 'model.ckpt-5')
  run_checkpoints.repair_checkpoints(run)  # a resume moves the torn one aside: readers take 5
  assert run_checkpoints.latest_checkpoint(run) == os.path.join(run, 'model.ckpt-5')


def test_a_checkpoint_named_but_absent_is_refused_never_looked_for_outside(tmp_path):
  other = str(tmp_path / 'other')
  _write_checkpoints(other, [5])
  run = str(tmp_path / 'run')
  os.makedirs(run)
  shutil.copy(os.path.join(other, rundir.CHECKPOINT_STATE), run)
  tf.train.update_checkpoint_state(run, os.path.join(other, 'model.ckpt-5'))
  with pytest.raises(rundir.RunDirError, match='names .*model.ckpt-5 as the newest '
                                               'checkpoint, but it is not in'):
    run_checkpoints.repair_checkpoints(run)


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
  real = run_checkpoints.latest_checkpoint
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
  monkeypatch.setattr(run_checkpoints, 'latest_checkpoint', chosen_then_pruned)
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


