"""RUN/provenance.json: what a number in a paper needs to be traced back to its run:
versions, commit, machine, devices, the GPUs with their driver and the CUDA stack, towers,
where the variables live, precision, seed and the config; a resume appends what it ran with."""
import os
import platform
import subprocess
import time

from glo_tf1 import io
from glo_tf1.compat import tf
from glo_tf1.compat import TF_VERSION
from glo_tf1.deploy import devices
from glo_tf1.rundir import config as run_config
from glo_tf1.rundir import PROVENANCE_NAME
from glo_tf1.version import __version__


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
  try:  # physical devices: listing them creates no TensorFlow device on any GPU
    local = [d.name + ' (' + d.device_type + ')'
             for d in tf.config.experimental.list_physical_devices()]
  except Exception:  # pylint: disable=broad-except
    local = []
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
      'devices': local,
      'gpus': devices.gpu_record(cfg),  # nvidia-smi's GPUs, driver, CUDA stack
      'towers': devices.describe_towers(cfg),
      'variables': devices.describe_variables(cfg),
      'precision': cfg['precision'],
      'seed': cfg['seed'],
      'deterministic': cfg['deterministic'],
      'preset': cfg['preset'],
      'data_dir': os.path.abspath(data_dir),
      'num_images': num_images,
      'started': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
      'config': run_config.saved_config(cfg),  # as config.json
  }


_RESUME_KEYS = ('started', 'git_commit', 'glo_tf1_version', 'tensorflow_version',
                'tf_slim_version', 'numpy_version', 'python_version', 'platform', 'devices',
                'gpus', 'towers', 'variables', 'precision')


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
