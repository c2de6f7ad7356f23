"""RUN/manifest.tsv: the ordered file list a run's codes belong to (format: data/files.py).
A resume, and every cluster worker, must see the same images."""
import os

from glo_tf1.data import files
from glo_tf1.rundir import RunDirError


def check_manifest(run_dir, manifest):
  """Writes the manifest of a new run, or refuses a resume against another file list."""
  path = os.path.join(run_dir, files.MANIFEST_NAME)
  if not os.path.exists(path):
    files.write_manifest(path, manifest)
    return
  saved = files.read_manifest(path)
  diffs = files.manifest_differences(saved, manifest)
  if diffs:
    raise RunDirError(
        'the images differ from those this run was trained on (%s: %d files, now %d); '
        'resuming would attach codes to the wrong images. First differences:\n  %s\n'
        'To continue with the new set (codes stay with their files by name, new files get '
        'fresh codes), pass --allow_changed_data.'
        % (path, len(saved), len(manifest), '\n  '.join(diffs)))


def check_same_images(run_dir, manifest):
  """Refuses a cluster worker whose images differ from the chief's: same names with
  other contents would train the chief's codes against the wrong images.

  Raises:
    RunDirError: RUN/manifest.tsv is not visible here (the run directory is not shared)
      or differs from `manifest` (the chief's -> this worker's).
  """
  path = os.path.join(run_dir, files.MANIFEST_NAME)
  if not os.path.exists(path):
    raise RunDirError('%s: not found, though the chief has written it: --run_dir must be '
                      'one folder that every worker shares (docs/scaling.md)' % path)
  saved = files.read_manifest(path)
  diffs = files.manifest_differences(saved, manifest)
  if diffs:
    raise RunDirError('--data_dir: this worker\'s images differ from the chief\'s (%s: %d '
                      'files, here %d); every worker needs the same files. First '
                      'differences (the chief\'s -> this worker\'s):\n  %s'
                      % (path, len(saved), len(manifest), '\n  '.join(diffs)))
