"""Faults during training: stop before they reach a checkpoint, and say what happened.

* A NaN or Inf loss stops training at once, naming the step (`NonFiniteLossHook`, which
  runs before the checkpoint hook of the same step), and no checkpoint holding a NaN or
  Inf value is ever written (`FiniteCheckpointListener` checks every float variable before
  each save), so the last good checkpoint is never replaced by a broken one.
* A TensorFlow error raised mid-training is turned into a message naming its cause
  (`describe_training_error`): an image that does not decode (found by running the data
  check over the file list, since TensorFlow's error does not say which file it was), or a
  checkpoint that could not be written (full disk, read-only or unwritable run directory),
  with the checkpoint that survived.
"""
import os
import re

import numpy as np

from glo_tf1 import rundir
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.rundir import checkpoints as run_checkpoints
from glo_tf1.training import hooks

_OS_REASONS = ('No space left on device', 'Disk quota exceeded', 'Read-only file system',
               'Permission denied', 'Input/output error')


class NonFiniteError(tf.train.NanLossDuringTrainingError):
  """The loss or a variable became NaN or Inf. The message names the step."""

  def __init__(self, message):
    super().__init__()
    self.message = message

  def __str__(self):
    return self.message


class NonFiniteLossHook(hooks.StepLossHook):
  """Raises NonFiniteError, naming the step, as soon as the loss is NaN or Inf.

  Place it before the checkpoint hook: hooks run in order, so the step whose loss failed is
  never saved (and MonitoredSession does not run end(), so no final save either).
  """

  def on_step(self, step, loss):
    if not np.isfinite(loss):
      raise NonFiniteError('the loss became %s at step %d' % (loss, step))


class FiniteCheckpointListener(tf.train.CheckpointSaverListener):
  """Refuses to save a checkpoint in which any float variable holds NaN or Inf.

  The loss of a step is computed before its update, so an update that overflows shows in
  the loss only one step later; this check keeps that step out of the checkpoints too.
  It reads every variable once per save (milliseconds for 200k codes).
  """

  def __init__(self):
    self._variables = self._finite = None

  def begin(self):
    self._variables = [v for v in tf.global_variables() if v.dtype.base_dtype.is_floating]
    with tf.name_scope('finite_check'):
      self._finite = [tf.reduce_all(tf.is_finite(v)) for v in self._variables]

  def before_save(self, session, global_step_value):
    finite = session.run(self._finite)
    if not all(finite):
      names = [v.op.name for v, ok in zip(self._variables, finite) if not ok]
      raise NonFiniteError('variables %s hold NaN or Inf at step %d'
                           % (', '.join(names[:5]), global_step_value))


def _failed_node(error):
  if getattr(error, 'op', None) is not None:
    return error.op.name
  match = re.search(r'\{\{node ([^}]+)\}\}', str(error))
  return match.group(1) if match else ''


def _cause_line(text):
  """The line of a TensorFlow error message that says what failed (the one before the
  failed node's name; TF 2.x wraps it in 'Graph execution error' and a call stack)."""
  lines = [l.strip() for l in text.splitlines() if l.strip()]
  for i, line in enumerate(lines):
    if line.startswith('[[{{node') and i > 0:
      return lines[i - 1]
  return lines[0] if lines else text


def _os_reason(text):
  for reason in _OS_REASONS:
    if reason in text:
      return reason
  return None


def surviving_checkpoint(run_dir):
  """'PATH (step N)' of the newest checkpoint that reads back completely, or 'none'."""
  if not run_dir or not os.path.isdir(run_dir):
    return 'none'
  try:
    path, torn = run_checkpoints.newest_intact(run_dir)
  except rundir.RunDirError as e:
    return 'unknown (%s)' % e
  out = 'none' if path is None else '%s (step %s)' % (
      path, run_checkpoints.checkpoint_step(path))
  if torn:
    out += '; the newer %s does NOT read back (%s)' % (torn[0][0], torn[0][1])
  return out


def describe_training_error(error, data_dir, names, run_dir):
  """A message naming the cause of `error` (raised by training), or None if unknown.

  Args:
    error: a tf.errors.OpError or OSError.
    data_dir, names: the training files (relative names), to find a bad image.
    run_dir: the run directory, to name the checkpoint that survived.
  """
  if isinstance(error, OSError):
    return ('%s: %s. Newest complete checkpoint: %s'
            % (error.filename or 'a file', error.strerror or error,
               surviving_checkpoint(run_dir)))
  text = str(error)
  node = _failed_node(error)
  reason = _os_reason(text)
  reads_images = node.startswith('inputs') or 'Decode' in node or 'ReadFile' in node
  if 'Restore' in node or 'Restoring from checkpoint failed' in text:
    return ('reading the checkpoint to resume from in %s failed: %s. The newest checkpoint '
            'that reads back is %s.' % (run_dir, reason or _cause_line(text),
                                        surviving_checkpoint(run_dir)))
  if node.startswith('save') or (reason and not reads_images):
    return ('writing to the run directory %s failed: %s. Training stopped; the newest '
            'complete checkpoint is %s. Free space or fix the directory and run the same '
            'command again to resume from it.'
            % (run_dir, reason or _cause_line(text), surviving_checkpoint(run_dir)))
  if reads_images and names:
    first = _cause_line(text)
    print('An image failed to load during training (%s); looking for it...' % first,
          flush=True)
    bad = data_check.check_files(data_dir, names)
    how = 'header check'
    if not bad:
      bad = data_check.check_files(data_dir, names, decode=True)
      how = 'full decode'
    if not bad:
      return ('an image failed to load during training (%s), but neither a header check '
              'nor a full decode of the %d files finds a bad one now (was a file changed '
              'while training?). Newest checkpoint: %s'
              % (first, len(names), surviving_checkpoint(run_dir)))
    return ('an image failed to load during training (TensorFlow: %s). Bad file(s), '
            'found by a %s of the training files:\n%s\nFix or remove them: removing a '
            'file changes the data set, so resume with --allow_changed_data. Newest '
            'checkpoint: %s' % (first, how, data_check.format_problems(bad, data_dir, 20),
                                surviving_checkpoint(run_dir)))
  return None
