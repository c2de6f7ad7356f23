"""One training process from start to end, as a library call: `run(...)`.

What a program (cli/train.py), a scheduler's wrapper or a notebook needs to train: SIGTERM
and SIGHUP save and stop like Ctrl-C, a parameter server serves, the chief holds the run
directory's lock, the run is prepared (settings, files, data check, run directory),
checked against the cluster, made deterministic when asked (TensorFlow's op determinism is
process-wide), trained, and every way it can end is an `Outcome` with the message to show.
"""
import collections
import contextlib
import os
import signal

from glo_tf1 import compat
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.deploy import devices
from glo_tf1.training import cluster as cluster_lib
from glo_tf1.training import faults
from glo_tf1.training import loop
from glo_tf1.training import run_dir as rundir

# How a run ended: 'done' (reached num_steps, or stopped by a signal after saving),
# 'nonfinite' (a NaN or Inf loss: nothing saved after it), 'fault' (an input or disk
# failure, described with the file named), 'interrupted' (before training began, or a
# second Ctrl-C). `step` is the last global step (None when training never started).
Outcome = collections.namedtuple('Outcome', ['status', 'step', 'message'])


def _interrupt(signum, frame):  # pylint: disable=unused-argument
  raise KeyboardInterrupt  # until training starts (then hooks.StopOnSignal takes over)


def run(run_dir, data_dir=None, file_list=None, preset=None, overrides=None, cluster=None,
        skip_data_check=False, skip_bad_images=False, allow_changed_data=False,
        max_pixels=data_check.DEFAULT_MAX_PIXELS, cache_dir=None, handle_signals=True):
  """Trains (or resumes) the run in `run_dir`; returns an Outcome.

  Args:
    run_dir, data_dir, file_list, preset, overrides, skip_data_check, skip_bad_images,
      allow_changed_data, max_pixels: as loop.prepare_run.
    cluster: a cluster_lib.Cluster (cluster_lib.parse, resolvers.resolve), or None for
      one process. A parameter server serves here and never returns. A worker first
      checks that the parameter servers were given the same cluster, and exits the
      process (cluster_lib.EXIT_LOST_SERVER) when one of them stays away.
    cache_dir: the --input_cache=auto folder (default RUN/input_cache).
    handle_signals: SIGTERM and SIGHUP act as Ctrl-C (the checkpoint is saved once
      training runs); False leaves the caller's handlers alone. A parameter server
      keeps the handlers it started with (cluster.run_ps).
  Raises:
    settings.UserError: a setting, the data or the run directory is not usable (the
      message names the flag or file); nothing was trained.
  """
  previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
  if handle_signals and not (cluster is not None and cluster.job_name == 'ps'):
    for sig in previous:
      signal.signal(sig, _interrupt)
  try:
    return _run(run_dir, data_dir, file_list, preset, overrides, cluster, skip_data_check,
                skip_bad_images, allow_changed_data, max_pixels, cache_dir)
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)


def _run(run_dir, data_dir, file_list, preset, overrides, cluster, skip_data_check,
         skip_bad_images, allow_changed_data, max_pixels, cache_dir):
  paths = []
  try:
    if cluster is not None and cluster.job_name == 'ps':
      cluster_lib.run_ps(cluster)  # serves until killed
    chief = cluster is None or cluster.is_chief
    if not run_dir:
      raise settings.ConfigError('--run_dir is required')
    if cluster is not None:  # before anything else: the same cluster as the servers'
      cluster_lib.check_same_cluster(cluster)
    # One writer per run directory: the chief holds RUN/lock until it exits. A worker
    # stops when a parameter server stays away (ServerWatch).
    with rundir.exclusive(run_dir) if chief else contextlib.nullcontext(), \
        cluster_lib.ServerWatch(cluster) if cluster else contextlib.nullcontext():
      cfg, paths, _ = loop.prepare_run(
          run_dir, data_dir, file_list, preset, overrides, chief=chief,
          skip_data_check=skip_data_check, skip_bad_images=skip_bad_images,
          allow_changed_data=allow_changed_data, max_pixels=max_pixels)
      if cluster is not None:
        cluster_lib.check_config(cfg, cluster, len(paths))
        if cfg['deterministic']:
          print('note: --deterministic on a cluster: each worker reads its images in a '
                'fixed order, but the updates reach the parameter servers in arrival '
                'order, so reruns are not bit for bit (docs/gpus.md).', flush=True)
      if cfg['deterministic']:
        compat.enable_op_determinism(devices.unique_scatter_rows(cfg))
      # A non-chief worker's images are compared with the chief's once it is ready.
      manifest = None if chief else files.build_manifest(
          data_dir, [os.path.relpath(p, os.path.abspath(data_dir)) for p in paths])
      step = loop.train(cfg, paths, run_dir, cluster, cache_dir, worker_manifest=manifest)
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
