"""One training process from start to end, as a library call: `run(...)`.

What a program (cli/train.py), a scheduler's wrapper or a notebook needs to train: SIGTERM
and SIGHUP save and stop like Ctrl-C, a parameter server serves, the chief holds the run
directory's lock, the run is prepared (settings, files, data check, run directory),
checked against the cluster, made deterministic when asked (TensorFlow's op determinism is
process-wide), trained, and every way it can end is an `Outcome` with the message to show.
"""
import collections
import os
import signal

from glo_tf1 import compat
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.deploy import devices
from glo_tf1.training import distribute
from glo_tf1.training import faults
from glo_tf1.training import loop

# How a run ended: 'done' (reached num_steps, or stopped by a signal after saving),
# 'nonfinite' (a NaN or Inf loss: nothing saved after it), 'fault' (an input or disk
# failure, described with the file named), 'interrupted' (before training began, or a
# second Ctrl-C). `step` is the last global step (None when training never started).
Outcome = collections.namedtuple('Outcome', ['status', 'step', 'message'])


def _interrupt(signum, frame):  # pylint: disable=unused-argument
  raise KeyboardInterrupt  # until training starts (then hooks.StopOnSignal takes over)


def run(run_dir, data_dir=None, cluster=None, cache_dir=None, handle_signals=True,
        **prepare):
  """Trains (or resumes) the run in `run_dir`; returns an Outcome.

  Args:
    run_dir, data_dir: as loop.prepare_run.
    cluster: a cluster.Cluster (cluster.parse, resolvers.resolve), or None for
      one process (distribute.for_cluster picks the strategy). A parameter server serves
      here and never returns. A worker first checks that the parameter servers were
      given the same cluster, and exits the process (cluster.EXIT_LOST_SERVER) when
      one of them stays away.
    cache_dir: the --input_cache=auto folder (default RUN/input_cache).
    handle_signals: SIGTERM and SIGHUP act as Ctrl-C (the checkpoint is saved once
      training runs); False leaves the caller's handlers alone. A parameter server
      keeps the handlers it started with (cluster.run_ps).
    **prepare: loop.prepare_run's other keyword arguments (file_list, preset, overrides,
      skip_data_check, skip_bad_images, allow_changed_data, max_pixels).
  Raises:
    settings.UserError: a setting, the data or the run directory is not usable (the
      message names the flag or file); nothing was trained.
  """
  strategy = distribute.for_cluster(cluster)
  previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
  if handle_signals and strategy.handles_signals:
    for sig in previous:
      signal.signal(sig, _interrupt)
  try:
    return _run(run_dir, data_dir, strategy, cache_dir, prepare)
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)


def _run(run_dir, data_dir, strategy, cache_dir, prepare):
  paths = []
  try:
    strategy.serve()  # a parameter server serves here until killed: it needs no run_dir
    if not run_dir:  # the one check of it, for glo-train and library callers alike
      raise settings.ConfigError('--run_dir is required (got %r): the run directory to '
                                 'train in, new or to resume' % (run_dir,))
    with strategy.running(run_dir):  # the lock, the same cluster, the servers watched
      cfg, paths, _ = loop.prepare_run(run_dir, data_dir, chief=strategy.is_chief,
                                       **prepare)
      strategy.check(cfg, data_dir, paths)
      if cfg['deterministic']:
        compat.enable_op_determinism(devices.unique_scatter_rows(cfg))
      cache, pca = loop.initial_inputs(cfg, paths, run_dir, cache_dir, strategy.is_chief)
      step = loop.train(cfg, paths, run_dir, strategy, cache, pca)
  except tf.train.NanLossDuringTrainingError as e:
    return Outcome('nonfinite', None, '%s; training stopped. Nothing was saved after the '
                   'fault; the newest checkpoint is %s.'
                   % (e, faults.surviving_checkpoint(run_dir)))
  except (tf.errors.OpError, OSError) as e:
    root = os.path.abspath(data_dir or '.')
    names = [os.path.relpath(p, root) for p in paths]
    message = faults.describe_training_error(e, root, names, run_dir)
    if message is None:
      raise
    return Outcome('fault', None, message)
  except KeyboardInterrupt:  # before training started, or a second Ctrl-C
    return Outcome('interrupted', None, 'Interrupted; the newest checkpoint is %s.'
                   % faults.surviving_checkpoint(run_dir))
  return Outcome('done', step, 'Done at step %d. Run directory: %s  (TensorBoard: '
                 'tensorboard --logdir %s)' % (step, os.path.abspath(run_dir),
                                              os.path.abspath(run_dir)))
