"""Checkpoints and the run directory.

A run directory holds everything a run is: TensorFlow checkpoints and event files, the
resolved config (`config.json`), the ordered file list (`manifest.tsv`, see files.py) and
`provenance.json` (versions, commit, devices, towers, precision, seed). Running the same
command again resumes from it (the post's timestamped directories never resumed, defect 4).
"""
import os
import platform
import subprocess
import time

from glo_tf1 import __version__
from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.compat import TF_VERSION
from glo_tf1.data import files
from glo_tf1.model import towers

CONFIG_NAME = 'config.json'
PROVENANCE_NAME = 'provenance.json'


class RunDirError(settings.UserError):
  """The run directory cannot be used as asked; the message says why."""


def read_config(run_dir):
  """The run's config.json as saved, or None for a new run directory."""
  return io.read_json(os.path.join(run_dir, CONFIG_NAME))


def make_writable_dir(run_dir):
  try:
    os.makedirs(run_dir, exist_ok=True)
  except OSError as e:
    raise RunDirError('cannot create run directory %s: %s' % (run_dir, e.strerror or e))
  if not os.access(run_dir, os.W_OK | os.X_OK):
    raise RunDirError('run directory %s is not writable' % run_dir)


def resolve_for_run(run_dir, preset, overrides):
  """The config of a new run, or of the run being resumed in `run_dir`.

  On resume, settings that define the model (config.MODEL_KEYS) must not change; anything
  else (steps, logging, checkpoint cadence, threads) may.
  Raises:
    RunDirError: listing every differing setting.
  """
  saved = read_config(run_dir)
  if saved is None:
    return settings.resolve(preset or 'blog', overrides), False
  defaults = settings.PRESETS.get(saved.get('preset'), settings.BLOG)
  missing = sorted(set(defaults) - set(saved))
  new_model_keys = [k for k in missing if k in settings.MODEL_KEYS]
  if new_model_keys:
    raise RunDirError('%s was written by an older glo-tf1 and lacks the model settings %s; '
                      'resume it with the version that created it'
                      % (os.path.join(run_dir, CONFIG_NAME), ', '.join(new_model_keys)))
  # A setting added since the run started that does not change the model (e.g. a new
  # input option) takes its preset default.
  saved = settings.with_new_settings(saved)
  if preset and preset != saved.get('preset'):
    wanted = settings.resolve(preset, overrides)
  else:
    wanted = dict(saved)
    wanted.update(overrides)
    wanted = settings.validate(wanted)
  diffs = settings.model_differences(saved, wanted)
  if diffs:
    raise RunDirError(
        'run directory %s was created with other settings; resuming would change what its '
        'checkpoint means. Differing settings (saved -> asked):\n%s\nUse a new --run_dir, '
        'or drop these flags to resume.' % (run_dir, '\n'.join(
            '  %s: %r -> %r' % d for d in diffs)))
  return wanted, True


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


def git_commit():
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    out = subprocess.run(['git', '-C', here, 'rev-parse', 'HEAD'], capture_output=True,
                         text=True, timeout=10, check=False)
    commit = out.stdout.strip() or None
    dirty = subprocess.run(['git', '-C', here, 'status', '--porcelain', '--untracked-files=no'],
                           capture_output=True, text=True, timeout=10, check=False)
    if commit and dirty.stdout.strip():
      commit += '-dirty'
    return commit
  except (OSError, subprocess.SubprocessError):
    return None


def provenance(cfg, data_dir, num_images):
  """What a number in a paper needs to be traced back to this run."""
  import numpy  # pylint: disable=import-outside-toplevel
  import tf_slim  # pylint: disable=import-outside-toplevel
  from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
  try:
    devices = [d.name + ' (' + d.device_type + ')' for d in device_lib.list_local_devices()]
  except Exception:  # pylint: disable=broad-except
    devices = []
  try:
    slim_version = tf_slim.__version__
  except AttributeError:
    slim_version = '1.1.0'
  return {
      'glo_tf1_version': __version__,
      'git_commit': git_commit(),
      'tensorflow_version': TF_VERSION,
      'tf_slim_version': slim_version,
      'numpy_version': numpy.__version__,
      'python_version': platform.python_version(),
      'platform': platform.platform(),
      'devices': devices,
      'towers': towers.describe_towers(cfg),
      'precision': cfg['precision'],
      'seed': cfg['seed'],
      'deterministic': cfg['deterministic'],
      'preset': cfg['preset'],
      'data_dir': os.path.abspath(data_dir),
      'num_images': num_images,
      'started': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
      'config': cfg,
  }


_RESUME_KEYS = ('started', 'git_commit', 'glo_tf1_version', 'tensorflow_version',
                'tf_slim_version', 'numpy_version', 'python_version', 'platform', 'devices',
                'towers', 'precision')


def record_provenance(run_dir, cfg, data_dir, num_images, resumed):
  """Writes provenance.json for a new run; a resume appends what it ran with to `resumes`
  (a run continued under another commit or TensorFlow says so)."""
  path = os.path.join(run_dir, PROVENANCE_NAME)
  now = provenance(cfg, data_dir, num_images)
  record = io.read_json(path) if resumed else None
  if record is not None:
    record.setdefault('resumes', []).append({k: now[k] for k in _RESUME_KEYS})
    now = record
  io.write_json(path, now)
  return now


def latest_checkpoint(run_dir, checkpoint=None):
  """Path of `checkpoint` (a path or a step number) or of the newest one in run_dir."""
  if checkpoint:
    if str(checkpoint).isdigit():
      path = os.path.join(run_dir, 'model.ckpt-%s' % checkpoint)
    else:
      path = checkpoint
    if not tf.train.checkpoint_exists(path):
      raise RunDirError('checkpoint %s does not exist' % path)
    return path
  path = tf.train.latest_checkpoint(run_dir)
  if path is None:
    raise RunDirError('run directory %s has no checkpoint' % run_dir)
  return path
