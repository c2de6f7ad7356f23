"""A trained run, loaded for use: its config, file list, data and checkpoint variables."""
import os
import sys

from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.rundir import checkpoints as run_checkpoints
from glo_tf1.rundir import config as run_config


def read_run(run_dir, data_dir=None, verify=True, need_data=True):
  """What a trained run needs to be used again: its config, file list and data.

  Args:
    run_dir: a run directory written by glo-train.
    data_dir: the training images; default the `data_dir` recorded in provenance.json.
    verify: check that the files in data_dir are the ones of the manifest (size and
      content hash), so that code i is never shown beside another image than image i.
    need_data: without it, a run whose images cannot be found still loads, with paths
      and data_dir None (its decoder and codes need no images).
  Returns:
    dict with cfg, names (manifest order), manifest (its rows: index, name, size, hash),
    paths (absolute), data_dir, provenance.
  Raises:
    rundir.RunDirError: not a run directory, or its data cannot be found / differ.
  """
  if not os.path.isdir(run_dir):
    raise rundir.RunDirError('run directory %s %s; pass the --run_dir of a training run' % (
        run_dir, 'is not a directory' if os.path.exists(run_dir) else 'does not exist'))
  cfg = run_config.read_config(run_dir)
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
  if cfg is None or not os.path.exists(manifest_path):
    raise rundir.RunDirError(
        '%s is not a glo-tf1 run directory (no %s or %s); pass the --run_dir of a training '
        'run' % (run_dir, rundir.CONFIG_NAME, files.MANIFEST_NAME))
  provenance = io.read_json(os.path.join(run_dir, rundir.PROVENANCE_NAME), missing={})
  manifest = files.read_manifest(manifest_path)
  names = [n for _, n, _, _ in manifest]
  data_dir = data_dir or provenance.get('data_dir')
  found = data_dir and os.path.isdir(data_dir)
  missing = [n for n in names if not os.path.isfile(os.path.join(data_dir, n))] if found \
      else names
  if not need_data and missing:
    return {'cfg': cfg, 'names': names, 'manifest': manifest, 'paths': None,
            'data_dir': None, 'provenance': provenance}
  if not found:
    raise rundir.RunDirError(
        'the training images of %s are not at %r; pass --data_dir with the folder the run '
        'was trained on' % (run_dir, data_dir))
  if missing:
    raise rundir.RunDirError(
        '%s; pass --data_dir with the folder the run was trained on' % files.describe_missing(
            missing, len(names), 'training images of %s' % run_dir, data_dir))
  if verify:
    diffs = files.manifest_differences(manifest, files.build_manifest(data_dir, names))
    if diffs:
      raise rundir.RunDirError(
          'the images in %s differ from those run %s was trained on:\n  %s'
          % (data_dir, run_dir, '\n  '.join(diffs)))
  paths = [os.path.abspath(os.path.join(data_dir, n)) for n in names]
  return {'cfg': cfg, 'names': names, 'manifest': manifest, 'paths': paths,
          'data_dir': os.path.abspath(data_dir), 'provenance': provenance}


def restore_variables(sess, run_dir, var_list, checkpoint=None, tries=3):
  """Restores `var_list` (by their names in the training graph) from `checkpoint` (a step
  or a path) or the newest checkpoint of run_dir (run_checkpoints.latest_checkpoint: a torn
  one is refused); returns the path restored.

  Readers run beside a trainer, whose Saver prunes old checkpoints: one pruned between
  choosing and reading it is replaced by the then newest (up to `tries` times).
  Raises:
    rundir.RunDirError: the checkpoint does not fit the run's model (another preset's
      checkpoint), or kept vanishing.
  """
  saver = tf.train.Saver(var_list=var_list)
  shapes = run_checkpoints.variable_shapes(var_list)
  for attempt in range(tries):
    path = run_checkpoints.latest_checkpoint(run_dir, checkpoint)
    try:
      run_checkpoints.check_fits(path, shapes, os.path.join(run_dir, rundir.CONFIG_NAME))
      saver.restore(sess, path)
      return path
    except (rundir.RunDirError, tf.errors.NotFoundError, tf.errors.DataLossError,
            ValueError) as e:
      if checkpoint is not None or attempt == tries - 1 or tf.train.checkpoint_exists(path):
        if isinstance(e, rundir.RunDirError):
          raise
        raise rundir.RunDirError('checkpoint %s could not be read (%s)' % (
            path, (str(e).strip().splitlines() or [type(e).__name__])[0])) from None
      print('note: checkpoint %s vanished while being read (pruned by a running trainer?); '
            'using the newest one.' % path, file=sys.stderr, flush=True)
  raise AssertionError('unreachable')
