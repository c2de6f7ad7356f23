"""Session hooks of a training run: progress, image summaries, checkpoints, signals.

MonitoredTrainingSession gets no summary or checkpoint cadence of its own; these hooks
(with faults.py's NaN checks) are the whole schedule, built by loop.build_training.
"""
import os
import signal
import sys
import time

from glo_tf1 import io
from glo_tf1 import progress as progress_lib
from glo_tf1.compat import tf
from glo_tf1.data import images


def step_read(train_op=None):
  """The global step to fetch beside the train op: with `train_op`, read after it has run
  (exact); without it, a plain read, which may race the increment in the same run."""
  step = tf.train.get_global_step()
  if train_op is None:
    return step
  with tf.control_dependencies([train_op]):
    return tf.identity(step, name='step_after_train')


class StepLossHook(tf.train.SessionRunHook):
  """Base of the hooks that watch each step's loss: fetches the global step and the loss
  with the train op and calls `on_step(step, loss)`, `step` counting the step just run.

  With `train_op` (one process), the step is read after the train op has run, so it is
  exact; without it (a cluster worker, whose step also moves with the others), the step
  is the value read during the run + 1, which can be off by one when the read races the
  increment.
  """

  def __init__(self, loss, train_op=None):
    self._loss, self._train_op = loss, train_op
    self._global_step = None

  def begin(self):
    self._global_step = step_read(self._train_op)

  def before_run(self, run_context):
    return tf.train.SessionRunArgs([self._global_step, self._loss])

  def after_run(self, run_context, run_values):
    step, loss = run_values.results
    self.on_step(step if self._train_op is not None else step + 1, loss)

  def on_step(self, step, loss):
    raise NotImplementedError



class ProgressHook(StepLossHook):
  """Prints step, loss, images/s and ETA every N steps; writes images/s to TensorBoard."""

  def __init__(self, loss, images_per_step, every, last_step, run_dir, train_op=None):
    super().__init__(loss, train_op)
    self._ips, self._every = images_per_step, every
    self._last_step, self._run_dir = last_step, run_dir
    self._progress = None
    self.step = None

  def on_step(self, step, loss):
    self.step = step
    if self._progress is None:  # first step of this session: no rate yet
      self._progress = progress_lib.Progress('step', self._last_step, unit='', every_secs=0,
                                             start=step)
      print('step %d  loss %.4f' % (step, loss), flush=True)
      return
    # A line whenever the step reaches a multiple of N (on a cluster the global step
    # also moves with the other workers, so it may jump past the multiple itself).
    if (step // self._every == self._progress.start // self._every and
        step != self._last_step):
      return
    rate = self._progress.rate(step) * self._ips
    print(self._progress.line(step, 'loss %.4f' % loss, scale=self._ips, rate_unit='img'),
          flush=True)
    if self._run_dir:  # None on a cluster's non-chief workers: only the chief writes
      writer = tf.summary.FileWriterCache.get(self._run_dir)
      writer.add_summary(tf.Summary(value=[
          tf.Summary.Value(tag='perf/images_per_sec', simple_value=rate)]), step)
    self._progress = progress_lib.Progress('step', self._last_step, unit='', every_secs=0,
                                           start=step)


class _NoSessionLog:
  """A summary writer that drops session logs and passes everything else through."""

  def __init__(self, writer):
    self._writer = writer

  def add_session_log(self, *args, **kwargs):
    pass

  def __getattr__(self, name):
    return getattr(self._writer, name)


class ImageSummaryHook(tf.train.SummarySaverHook):
  """A SummarySaverHook that logs no session START of its own, and logs at `last_step`.

  Every SummarySaverHook logs START at its first step, and TensorBoard treats a START as a
  restart that discards what was logged at that step or later: a second hook would make
  it drop the first step's scalars. The scalar hook's START is the one a session needs.
  With `last_step` (num_steps), the grids are also computed in the run's last step and
  labelled with it, as the scalars (scalar_summary_hook): a 3,000-step run summarised
  every 500 steps ends its grids at 3,000, not 2,501; once only when 3,000 is on the grid,
  and never in a resume already at num_steps, which runs no step.
  """

  def __init__(self, last_step=None, **kwargs):
    super().__init__(**kwargs)
    self._timer = _EveryStepsAndLastTimer(kwargs['save_steps'], last_step)

  def begin(self):
    super().begin()
    self._summary_writer = _NoSessionLog(self._summary_writer)


class SaveImagesHook(tf.train.SessionRunHook):
  """Writes the four grids as JPEG files RUN/images/<grid>_<step>.jpg, as the notebook's
  training loop did every SAVE_IMAGES_STEPS steps.

  The notebook fetched the grids with the train op when the global step before the step
  was a positive multiple of N, and named the files by that step + 1 (the post's
  `interpolated_grid_960001.jpg`); so do we: the reconstruction grid shows that very
  training step's batch and outputs. `stretch`: min-max each grid as scipy.misc.imsave
  did; default: the fixed map of [-1, 1] to [0, 255]. With `train_op` (one process) the
  step is read after it, so the name is exact; a cluster worker's plain read may race the
  increment in the same run and name a dump one step late.
  """

  def __init__(self, grids, out_dir, every, stretch=False, train_op=None):
    self._names = sorted(grids)
    self._grids = [grids[n] for n in self._names]
    self._out_dir, self._every, self._stretch = out_dir, every, stretch
    self._train_op = train_op
    self._step = self._last = self._global_step = None

  def begin(self):
    self._global_step = step_read(self._train_op)

  def after_create_session(self, session, coord):  # pylint: disable=unused-argument
    # The plain variable: reading step_after_train would run a training step.
    self._step = self._last = int(session.run(tf.train.get_global_step()))

  def before_run(self, run_context):  # pylint: disable=unused-argument
    fetches = {'step': self._global_step}
    # A step that starts at a new multiple of N (on a cluster the global step also moves
    # with the other workers, so the chief may jump past the multiple itself).
    if self._step // self._every > self._last // self._every:
      fetches['grids'] = self._grids
    return tf.train.SessionRunArgs(fetches)

  def after_run(self, run_context, run_values):
    results = run_values.results
    # The step this run started at: exact after the train op, else the racy read.
    start = int(results['step']) - (self._train_op is not None)
    if 'grids' in results:
      self._last = start
      os.makedirs(self._out_dir, exist_ok=True)
      for name, grid in zip(self._names, results['grids']):
        path = os.path.join(self._out_dir, '%s_%d.jpg' % (name, start + 1))
        with io.atomic_open(path, 'wb') as f:
          f.write(images.grid_jpeg(grid[0], self._stretch))
    self._step = start + 1


class TextSummaryHook(tf.train.SessionRunHook):
  """Writes a text summary (the run's configuration, as the notebook's `config` summary)
  once when each session starts: at step 0 and at every resume."""

  def __init__(self, summary_op, output_dir):
    self._op, self._output_dir = summary_op, output_dir

  def after_create_session(self, session, coord):  # pylint: disable=unused-argument
    summary, step = session.run([self._op, tf.train.get_global_step()])
    writer = tf.summary.FileWriterCache.get(self._output_dir)
    writer.add_summary(summary, step)
    writer.flush()

# The signals that end a session: Ctrl-C, kill / a scheduler's stop, a closed terminal or
# dropped SSH connection.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Quiet:
  """A console stream whose writes fail silently: after SIGHUP the terminal is gone, and a
  progress line must not turn the final save into an error."""

  def __init__(self, stream):
    self._stream = stream

  def write(self, text):
    try:
      return self._stream.write(text)
    except (OSError, ValueError):
      return len(text)

  def flush(self):
    try:
      self._stream.flush()
    except (OSError, ValueError):
      pass

  def __getattr__(self, name):
    return getattr(self._stream, name)


class StopOnSignal:
  """Turns the first SIGINT, SIGTERM or SIGHUP into a clean stop (checkpoint, then exit)
  until `restore()` puts back the handlers it found. A second signal gives up the save at
  once, except a repeated SIGTERM: a scheduler that signals every process of a job (Slurm)
  and the script around the trainer (reproduce/children.sh) each pass the same stop on."""

  def __init__(self):
    self.signal = None
    self._previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
      signal.signal(sig, self._handle)

  def restore(self):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    if self.signal == signal.SIGTERM == signum:
      return
    if self.signal is not None:  # second signal: give up at once
      raise KeyboardInterrupt
    self.signal = signum
    if signum == signal.SIGHUP:
      sys.stdout, sys.stderr = _Quiet(sys.stdout), _Quiet(sys.stderr)
    print('\n%s received: saving a checkpoint and stopping...'
          % signal.Signals(signum).name, flush=True)


class _SecsOrStepsTimer(tf.train.SecondOrStepTimer):
  """Triggers when either `every_secs` or `every_steps` has passed since the last time."""

  def __init__(self, every_secs=None, every_steps=None):
    super().__init__(every_steps=1)  # the base class insists on one; we decide below
    self._secs, self._steps = every_secs, every_steps

  def should_trigger_for_step(self, step):
    if self._last_triggered_step is None:
      return True
    if self._last_triggered_step == step:
      return False
    if self._secs and time.time() >= self._last_triggered_time + self._secs:
      return True
    return bool(self._steps and step >= self._last_triggered_step + self._steps)


class _EveryStepsAndLastTimer(tf.train.SecondOrStepTimer):
  """Triggers every `every_steps` steps, as SecondOrStepTimer, and also at every step from
  `last_step` on (the run's last: without it a run of 23 steps summarised every 5 would
  end its curve at step 21)."""

  def __init__(self, every_steps, last_step=None):
    super().__init__(every_steps=every_steps)
    self._last_step = last_step

  def should_trigger_for_step(self, step):
    if (self._last_step and step >= self._last_step and
        step != self._last_triggered_step):
      return True
    return super().should_trigger_for_step(step)


def scalar_summary_hook(run_dir, scaffold, save_steps, last_step=None):
  """The SummarySaverHook of the scalars (the scaffold's summary op: the default
  collection) every `save_steps` steps and at `last_step` (num_steps; None: no last step).

  SummarySaverHook labels a summary with the global step after the step that computed it
  (1, 1 + N, 1 + 2N, ...), so with N alone the run's last step is written only when it
  falls on that grid; the timer adds it, computed in that very step as every other point.
  """
  hook = tf.train.SummarySaverHook(save_steps=save_steps, output_dir=run_dir,
                                   scaffold=scaffold)
  hook._timer = _EveryStepsAndLastTimer(save_steps, last_step)  # pylint: disable=protected-access
  return hook


def saver_hook(run_dir, saver, save_secs=None, save_steps=None, listeners=None):
  """A CheckpointSaverHook that saves every `save_secs` or every `save_steps`, whichever
  comes first, and at the end of the run (including after Ctrl-C / SIGTERM).
  `listeners`: CheckpointSaverListeners (e.g. faults.FiniteCheckpointListener)."""
  hook = tf.train.CheckpointSaverHook(run_dir, save_steps=save_steps or 10 ** 12,
                                      saver=saver, listeners=listeners)
  hook._timer = _SecsOrStepsTimer(save_secs, save_steps)  # pylint: disable=protected-access
  return hook
