"""A trained run, loaded for use: its config, file list, data and checkpoint variables."""
import os

from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.training import run_dir as rundir


def read_run(run_dir, data_dir=None, verify=True):
  """What a trained run needs to be used again: its config, file list and data.

  Args:
    run_dir: a run directory written by glo-train.
    data_dir: the training images; default the `data_dir` recorded in provenance.json.
    verify: check that the files in data_dir are the ones of the manifest (size and
      content hash), so that code i is never shown beside another image than image i.
  Returns:
    dict with cfg, names (manifest order), paths (absolute), data_dir, provenance.
  Raises:
    rundir.RunDirError: not a run directory, or its data cannot be found / differ.
  """
  cfg = rundir.read_config(run_dir)
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
  if cfg is None or not os.path.exists(manifest_path):
    raise rundir.RunDirError(
        '%s is not a glo-tf1 run directory (no %s or %s); pass the --run_dir of a training '
        'run' % (run_dir, rundir.CONFIG_NAME, files.MANIFEST_NAME))
  cfg = settings.validate(settings.with_new_settings(cfg))  # an older run: new defaults
  provenance = io.read_json(os.path.join(run_dir, rundir.PROVENANCE_NAME), missing={})
  manifest = files.read_manifest(manifest_path)
  names = [n for _, n, _, _ in manifest]
  data_dir = data_dir or provenance.get('data_dir')
  if not data_dir or not os.path.isdir(data_dir):
    raise rundir.RunDirError(
        'the training images of %s are not at %r; pass --data_dir with the folder the run '
        'was trained on' % (run_dir, data_dir))
  missing = [n for n in names if not os.path.isfile(os.path.join(data_dir, n))]
  if missing:
    raise rundir.RunDirError(
        '%d of the %d training images of %s are missing from %s (first: %s); pass '
        '--data_dir with the folder the run was trained on'
        % (len(missing), len(names), run_dir, data_dir, missing[0]))
  if verify:
    diffs = files.manifest_differences(manifest, files.build_manifest(data_dir, names))
    if diffs:
      raise rundir.RunDirError(
          'the images in %s differ from those run %s was trained on:\n  %s'
          % (data_dir, run_dir, '\n  '.join(diffs)))
  paths = [os.path.abspath(os.path.join(data_dir, n)) for n in names]
  return {'cfg': cfg, 'names': names, 'paths': paths, 'data_dir': os.path.abspath(data_dir),
          'provenance': provenance}


def restore_variables(sess, checkpoint_path, var_list):
  """Restores `var_list` (by their names in the training graph) from a checkpoint."""
  tf.train.Saver(var_list=var_list).restore(sess, checkpoint_path)


def checkpoint_step(checkpoint_path):
  """The global step a checkpoint was written at (from its `model.ckpt-STEP` name)."""
  tail = checkpoint_path.rsplit('-', 1)[-1]
  return int(tail) if tail.isdigit() else None
