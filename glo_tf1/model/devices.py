"""Where the training graph runs: the one module that knows about hardware.

After slim's `deployment/model_deploy.DeploymentConfig`: it answers the towers' devices,
the variables' device, the input pipeline's device, the session config and GPU discovery.

Placement (`--variable_device`, not a model setting: a run resumes with any placement):
  auto  the notebook's: with the towers on GPUs, every variable (codes, decoder, optimizer
        slots, global step) on the first GPU, so the optimizer updates run there too and
        only the batch crosses from the host; with the towers on the CPU, on the CPU.
        The notebook made the codes on the default device (a GPU when there is one) and
        the decoder under `tf.device('/gpu:0')` (docs/reference/notebook-facts.md).
  gpu   the first GPU whatever the towers (soft placement falls back to the CPU when
        TensorFlow sees no GPU).
  cpu   slim's model_deploy choice: variables on `/cpu:0`, shared by the towers. With
        TF1 Adam's dense update of the codes (defect 5) the host then holds up every GPU
        step (figures/bench/placement.md).
On a cluster, replica_device_setter (training/cluster.py) puts the variables on the
parameter servers whatever this says. The input pipeline (queues, file reads, decoding)
always runs on the host: queues have CPU kernels only.
"""
import shutil
import subprocess

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import cache as cache_lib
from glo_tf1.model import precision as precision_lib

VARIABLE_OPS = ('Variable', 'VariableV2', 'VarHandleOp')
HOST = '/cpu:0'
INPUT_DEVICE = HOST  # model_deploy's inputs_device


class GpuSetupError(settings.ConfigError):
  """The machine has NVIDIA GPUs but TensorFlow cannot use them; says why and the fix."""


# ----------------------------------------------------------------------------- discovery


def visible_gpus():
  """Number of GPUs TensorFlow sees in this process."""
  return len(tf.config.experimental.list_physical_devices('GPU'))


def nvidia_smi_gpus():
  """The GPUs `nvidia-smi -L` lists (its 'GPU i: ...' lines); [] without the command."""
  exe = shutil.which('nvidia-smi')
  if exe is None:
    return []
  try:
    out = subprocess.run([exe, '-L'], capture_output=True, text=True, timeout=60,
                         check=False).stdout
  except (OSError, subprocess.SubprocessError):
    return []
  return [line.strip() for line in out.splitlines() if line.startswith('GPU ')]


def gpu_compute_capabilities():
  """(major, minor) of each GPU TensorFlow sees; None where TensorFlow does not say."""
  out = []
  for gpu in tf.config.experimental.list_physical_devices('GPU'):
    try:
      out.append(tf.config.experimental.get_device_details(gpu).get('compute_capability'))
    except (AttributeError, ValueError):
      out.append(None)
  return out


def why_no_gpu():
  """Why TensorFlow sees no GPU on a machine that has some, and how to fix it."""
  if not tf.test.is_built_with_cuda():
    return ('this TensorFlow is built without CUDA. Install the pinned stack: '
            '`source reproduce/env.sh` (requirements.txt; with GPUs it adds the CUDA '
            'libraries of requirements-cuda.txt)')
  return ('TensorFlow is built with CUDA, but the CUDA libraries were not found or do not '
          'work with the driver. Reinstall the stack with `source reproduce/env.sh` '
          '(requirements-cuda.txt brings the CUDA libraries as nvidia-* wheels), check the '
          'driver with nvidia-smi, and read TensorFlow\'s own reason with: '
          'TF_CPP_MIN_LOG_LEVEL=0 python -c "import tensorflow as tf; '
          'print(tf.config.list_physical_devices(\'GPU\'))"')


def check_gpus_usable(cfg):
  """Raises GpuSetupError when towers are asked on GPUs (tower_device gpu) and nvidia-smi
  lists GPUs, but TensorFlow sees none: the run would silently train on the CPU."""
  if cfg['tower_device'] != 'gpu' or cfg['num_gpus'] == 0 or visible_gpus() > 0:
    return
  listed = nvidia_smi_gpus()
  if listed:
    raise GpuSetupError(
        '--num_gpus=%s: nvidia-smi lists %d GPU(s) (%s) but TensorFlow sees none, so the '
        'towers would silently run on the CPU. Why: %s. To train on the CPU on purpose, '
        'pass --num_gpus 0 or --tower_device cpu.'
        % (cfg['num_gpus'], len(listed), listed[0], why_no_gpu()))


def resolve_num_gpus(cfg):
  """cfg with the towers decided: `num_gpus: 'auto'` becomes the number of visible GPUs (1
  when none: one tower, which soft placement runs on the CPU), 0 one tower on the CPU.

  Raises:
    GpuSetupError: see check_gpus_usable.
  """
  if cfg['num_gpus'] == 0:
    return cfg.replace(num_gpus=1, tower_device='cpu')
  check_gpus_usable(cfg)
  if cfg['num_gpus'] != 'auto':
    return cfg
  return cfg.replace(num_gpus=max(1, visible_gpus()))


# ----------------------------------------------------------------------------- placement


def tower_devices(cfg):
  """['/gpu:0', '/gpu:1', ...] (or '/cpu:i'), one per tower."""
  kind = cfg['tower_device']
  return ['/%s:%d' % (kind, i) for i in range(cfg['num_gpus'])]


def variable_device(cfg):
  """The device of every variable (codes, decoder, slots, global step); see the module
  docstring. Decided from the graph's request, not from the GPUs visible here, so the
  graph built on a CPU machine is the one a GPU machine runs."""
  choice = cfg['variable_device']
  if choice == 'gpu' or (choice == 'auto' and cfg['tower_device'] == 'gpu'):
    return '/gpu:0'
  return HOST


def device_fn(op_device, var_device):
  """A tf.device function: variable ops on `var_device`, every other op on `op_device`."""
  def fn(op):
    return var_device if op.type in VARIABLE_OPS else op_device
  return fn


def towers_on_gpu(cfg, num_visible=None):
  """Whether the towers really run on GPUs (tower_device gpu and a GPU visible)."""
  n = visible_gpus() if num_visible is None else num_visible
  return cfg['tower_device'] == 'gpu' and n > 0


def describe_towers(cfg, num_visible=None):
  """Where the towers run, for the start line: '2 towers on /gpu:0, /gpu:1', '1 tower on
  /cpu:0'. A /gpu:i tower that TensorFlow cannot see runs where soft placement puts it."""
  n = visible_gpus() if num_visible is None else num_visible
  devices = tower_devices(cfg)
  k = len(devices)
  if cfg['tower_device'] == 'gpu' and n == 0:
    return '%d tower%s on /cpu:0 (no GPU visible)' % (k, '' if k == 1 else 's')
  missing = [d for i, d in enumerate(devices) if cfg['tower_device'] == 'gpu' and i >= n]
  return '%d tower%s on %s%s' % (k, '' if k == 1 else 's', ', '.join(devices),
                                 ' (%s not visible: soft placement)' % ', '.join(missing)
                                 if missing else '')


def describe_variables(cfg, num_visible=None, cluster=False):
  """Where the variables live, for the start line and provenance.json."""
  if cluster:
    return 'variables on the parameter servers'
  device = variable_device(cfg)
  n = visible_gpus() if num_visible is None else num_visible
  if device != HOST and n == 0:
    return 'variables on /cpu:0 (--variable_device %s, no GPU visible)' % cfg['variable_device']
  return 'variables on %s' % device


# ----------------------------------------------------------------------------- sessions


def check_precision(cfg):
  """Stops (precision.PrecisionError) when the towers' devices cannot run cfg's precision
  fast: never a silently slower run."""
  on_gpu = towers_on_gpu(cfg)
  precision_lib.check(cfg['precision'], on_gpu,
                      gpu_capabilities=gpu_compute_capabilities() if on_gpu else ())


def session_config(cfg):
  """Soft placement, one CPU device per CPU tower, the input cache's and the precision's
  options (precision.configure_session)."""
  n_cpu = cfg['num_gpus'] if cfg['tower_device'] == 'cpu' else 1
  conf = tf.ConfigProto(allow_soft_placement=True, device_count={'CPU': max(1, n_cpu)})
  if cfg['input_cache'] != 'off':
    cache_lib.configure_session(conf)
  precision_lib.configure_session(conf, cfg['precision'], towers_on_gpu(cfg))
  return conf
