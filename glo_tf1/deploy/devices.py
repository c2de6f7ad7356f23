"""Where the training graph runs: the one module that knows about hardware.

After slim's `deployment/model_deploy.DeploymentConfig`: it answers the towers' devices,
the variables' device, the input pipeline's device, the session config and GPU discovery.
`deployment(cfg)` is what training passes to the model (towers.build_training_graph), which
never asks where it runs.

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
import collections
import importlib.metadata
import os
import shutil
import subprocess

from glo_tf1 import settings
from glo_tf1 import compat
from glo_tf1.compat import tf
from glo_tf1.compat import TF_VERSION
from glo_tf1.data import cache as cache_lib
from glo_tf1.deploy import precision as precision_lib

VARIABLE_OPS = ('Variable', 'VariableV2', 'VarHandleOp')
HOST = '/cpu:0'
INPUT_DEVICE = HOST  # model_deploy's inputs_device


class GpuSetupError(settings.ConfigError):
  """The machine has NVIDIA GPUs but TensorFlow cannot use them; says why and the fix."""


class DriverTooOldError(GpuSetupError):
  """The NVIDIA driver is older than the pinned wheel's CUDA needs on the run's GPUs."""


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
            'libraries of requirements-gpu.txt)')
  return ('TensorFlow is built with CUDA, but the CUDA libraries were not found or do not '
          'work with the driver. Reinstall the stack with `source reproduce/env.sh` '
          '(requirements-gpu.txt brings the CUDA libraries as nvidia-* wheels), check the '
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


def unique_scatter_rows(cfg):
  """Whether every scatter of the training graph must write each row once: under
  --deterministic with the variables on a GPU (optimizers.UniqueRowsGradientDescentOptimizer;
  compat.enable_op_determinism then keeps the scatters on the GPU)."""
  return cfg['deterministic'] and variable_device(cfg) != HOST


# What the model's functions are told about where they run (towers.build_training_graph),
# as slim's DeploymentConfig tells its clones: one tf.device function per tower (variable
# ops on the variables' device, every other op on the tower's), the variables' device, and
# whether every scatter writes each row once.
Deployment = collections.namedtuple('Deployment', ['towers', 'variables', 'unique_rows'])


def deployment(cfg):
  """The Deployment of a resolved config (resolve_num_gpus first: one tower per GPU)."""
  var_device = variable_device(cfg)
  return Deployment([device_fn(d, var_device) for d in tower_devices(cfg)], var_device,
                    unique_scatter_rows(cfg))


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
  """Soft placement, one CPU device per CPU tower, only the GPUs the run uses
  (`visible_device_list`; none: no GPU device) with `--gpu_memory` (grow: allow_growth),
  the input cache's and the precision's options (precision.configure_session)."""
  n_cpu = cfg['num_gpus'] if cfg['tower_device'] == 'cpu' else 1
  conf = tf.ConfigProto(allow_soft_placement=True, device_count={'CPU': max(1, n_cpu)})
  used = used_gpu_ordinals(cfg)
  if used:
    conf.gpu_options.visible_device_list = ','.join(str(i) for i in used)
    conf.gpu_options.allow_growth = cfg['gpu_memory'] == 'grow'
  else:
    conf.device_count['GPU'] = 0
  if cfg['input_cache'] != 'off':
    cache_lib.configure_session(conf)
  precision_lib.configure_session(conf, cfg['precision'], towers_on_gpu(cfg))
  return conf


# ----------------------------------------------------------------------------- a run's GPUs

# The driver a GPU needs under the pinned wheel (tensorflow 2.21.0, built with CUDA 12.5.1
# and cuDNN 9: tf.sysconfig.get_build_info()). Sources: docs/gpus.md, "Before your first
# GPU run". With machine code (SASS) for the GPU in the wheel, CUDA 12's minor-version
# compatibility needs >= 525.60.13 (Linux); without it the driver JIT-compiles the wheel's
# PTX, which needs a driver that reads the PTX ISA of CUDA 12.5, the driver of CUDA 12.5.
MIN_DRIVER = '525.60.13'
MIN_DRIVER_PTX = '555.42.02'
GPU_QUERY = 'index,name,driver_version,memory.total,compute_cap'
# Libraries that, found on LD_LIBRARY_PATH, the loader takes before the nvidia-* wheels
# (TensorFlow finds those through its RUNPATH, searched after LD_LIBRARY_PATH).
CUDA_LIBRARIES = ('libcudart', 'libcudnn', 'libcublas', 'libcufft', 'libcurand',
                  'libcusolver', 'libcusparse', 'libnccl', 'libnvrtc', 'libnvjitlink',
                  'libcupti', 'libnvinfer')


def _run_nvidia_smi(args):
  """nvidia-smi's output for `args`, or None (no command, an error, a field it lacks)."""
  exe = shutil.which('nvidia-smi')
  if exe is None:
    return None
  try:
    out = subprocess.run([exe] + args, capture_output=True, text=True, timeout=60,
                         check=False)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout if out.returncode == 0 else None


def _capability(text):
  try:
    major, minor = str(text).strip().split('.')
    return int(major), int(minor)
  except ValueError:  # '[N/A]', None: an nvidia-smi older than the compute_cap field
    return None


def query_gpus():
  """[{'index', 'name', 'driver', 'memory', 'capability'}] of each GPU nvidia-smi lists
  (`nvidia-smi --query-gpu`); capability (major, minor), None from an nvidia-smi without
  the compute_cap field (then asked again without it). [] without nvidia-smi."""
  fields = GPU_QUERY.split(',')
  out = _run_nvidia_smi(['--query-gpu=' + GPU_QUERY, '--format=csv,noheader'])
  if out is None:
    fields = fields[:-1]
    out = _run_nvidia_smi(['--query-gpu=' + ','.join(fields), '--format=csv,noheader'])
  gpus = []
  for line in (out or '').splitlines():
    values = [v.strip() for v in line.split(',')]
    if len(values) != len(fields):
      continue
    row = dict(zip(fields, values))
    gpus.append({'index': int(row['index']) if row['index'].isdigit() else row['index'],
                 'name': row['name'], 'driver': row['driver_version'],
                 'memory': row['memory.total'],
                 'capability': _capability(row.get('compute_cap'))})
  return gpus


def build_info():
  """The wheel's build facts (cuda_version, cudnn_version, cuda_compute_capabilities)."""
  try:
    return dict(tf.sysconfig.get_build_info())
  except Exception:  # pylint: disable=broad-except
    return {}


def wheel_machine_code(info=None):
  """[(major, minor)] of the wheel's SASS (its `sm_XY` entries; `compute_XY` is PTX)."""
  caps = (info if info is not None else build_info()).get('cuda_compute_capabilities') or []
  return [(int(c[3:-1]), int(c[-1])) for c in caps if c.startswith('sm_') and c[3:].isdigit()]


def has_machine_code(capability, sass):
  """Whether SASS of the wheel runs on `capability`: sm_XY code runs on X.Z for Z >= Y
  (NVIDIA's binary compatibility within a major version)."""
  return any(m == capability[0] and n <= capability[1] for m, n in sass)


def _version(text):
  return tuple(int(x) if x.isdigit() else 0 for x in str(text).split('.'))


def min_driver(capability, sass):
  """The minimum driver for a GPU of `capability` (None: unknown) under the wheel."""
  if capability is not None and not has_machine_code(capability, sass):
    return MIN_DRIVER_PTX
  return MIN_DRIVER


def used_gpu_ordinals(cfg, num_visible=None):
  """The CUDA ordinals (TensorFlow's /gpu:i) the run puts work on: the towers' when they
  run on GPUs, /gpu:0 for variables on a GPU; [] when it uses none."""
  n = visible_gpus() if num_visible is None else num_visible
  ids = set()
  if cfg['tower_device'] == 'gpu':
    ids |= set(range(min(cfg['num_gpus'], n)))
  if variable_device(cfg) != HOST and n > 0:
    ids.add(0)
  return sorted(ids)


def smi_index(ordinal, environ=None):
  """nvidia-smi's index of CUDA ordinal `ordinal`: they agree under CUDA_DEVICE_ORDER=
  PCI_BUS_ID (compat sets it) through CUDA_VISIBLE_DEVICES's integer list; None when that
  cannot be told (UUIDs, another order)."""
  env = os.environ if environ is None else environ
  if env.get('CUDA_DEVICE_ORDER') != 'PCI_BUS_ID':
    return None
  visible = env.get('CUDA_VISIBLE_DEVICES')
  if visible is None:
    return ordinal
  parts = [p.strip() for p in visible.split(',')]
  return int(parts[ordinal]) if ordinal < len(parts) and parts[ordinal].isdigit() else None


def run_gpus(cfg, gpus, num_visible=None):
  """[(ordinal, nvidia-smi's entry or None)] of the GPUs the run uses."""
  by_index = {g['index']: g for g in gpus}
  return [(i, by_index.get(smi_index(i))) for i in used_gpu_ordinals(cfg, num_visible)]


def check_driver(cfg, gpus, num_visible=None, info=None):
  """Raises DriverTooOldError when a GPU of the run has a driver older than it needs."""
  sass = wheel_machine_code(info)
  for ordinal, gpu in run_gpus(cfg, gpus, num_visible):
    if gpu is None:
      continue
    need = min_driver(gpu['capability'], sass)
    if _version(gpu['driver']) < _version(need):
      cap = gpu['capability']
      raise DriverTooOldError(
          'NVIDIA driver %s on GPU %s (%s, /gpu:%d%s) is older than the minimum, %s, that '
          'TensorFlow %s (CUDA %s) needs %s. Update the driver (docs/gpus.md, "Before your '
          'first GPU run"), or train on the CPU with --num_gpus 0.'
          % (gpu['driver'], gpu['index'], gpu['name'], ordinal,
             ', compute capability %d.%d' % cap if cap else '', need, TF_VERSION,
             (info or build_info()).get('cuda_version', '?'),
             'to compile its PTX for this GPU' if need == MIN_DRIVER_PTX
             else 'on any GPU (CUDA 12 minor-version compatibility)'))


def cuda_libraries():
  """{distribution: version} of the installed nvidia-* wheels (the CUDA and cuDNN
  libraries TensorFlow loads), read from their metadata: no GPU needed."""
  out = {}
  for dist in importlib.metadata.distributions():
    name = (dist.metadata['Name'] or '').lower()
    if name.startswith('nvidia-'):
      out[name] = dist.version
  return dict(sorted(out.items()))


def shadowing_libraries(environ=None):
  """[(folder, [file names])] of CUDA/cuDNN libraries on LD_LIBRARY_PATH, which the
  dynamic loader takes before the nvidia-* wheels."""
  env = os.environ if environ is None else environ
  found = []
  for folder in (env.get('LD_LIBRARY_PATH') or '').split(os.pathsep):
    try:
      names = sorted(n for n in os.listdir(folder) if '.so' in n and
                     n.lower().startswith(CUDA_LIBRARIES))
    except OSError:
      continue
    if names:
      found.append((folder, names))
  return found


def ptx_note(gpu, info=None, environ=None):
  """What happens at the first start on a GPU the wheel has no machine code for, or None."""
  info = info if info is not None else build_info()
  cap = gpu['capability']
  if cap is None or has_machine_code(cap, wheel_machine_code(info)):
    return None
  env = os.environ if environ is None else environ
  cache = ('the driver keeps them in its JIT cache (%s, CUDA_CACHE_MAXSIZE=%s%s) until the '
           'driver changes, so later starts are quick'
           % (env.get('CUDA_CACHE_PATH', '~/.nv/ComputeCache'),
              env.get('CUDA_CACHE_MAXSIZE', 'the driver\'s default'),
              ', set by glo-tf1' if compat.CUDA_CACHE_SET_HERE and environ is None else ''))
  if env.get('CUDA_CACHE_DISABLE') == '1':
    cache = 'CUDA_CACHE_DISABLE=1 turns the driver\'s JIT cache off, so this repeats at ' \
            'every start: unset it'
  return ('note: TensorFlow %s has no machine code for compute capability %d.%d (it has %s): '
          'at the first start the NVIDIA driver compiles TensorFlow\'s GPU kernels from PTX, '
          'which TensorFlow warns can take 30 minutes or longer, with no output; the run is '
          'not hung. It happens once: %s.'
          % (TF_VERSION, cap[0], cap[1],
             ', '.join(info.get('cuda_compute_capabilities') or ['?']), cache))


def shadow_warning(environ=None):
  """A warning when LD_LIBRARY_PATH holds CUDA or cuDNN libraries, or None."""
  found = shadowing_libraries(environ)
  if not found:
    return None
  return ('warning: LD_LIBRARY_PATH holds CUDA/cuDNN libraries (%s), which the loader takes '
          'before the nvidia-* wheels TensorFlow %s was built against (its RUNPATH comes '
          'after LD_LIBRARY_PATH): TensorFlow may run on other versions or fail to load '
          'them. Fix: unset LD_LIBRARY_PATH, or `module unload` the CUDA/cuDNN modules, '
          'before glo-train.'
          % ('; '.join('%s: %s' % (f, ', '.join(n[:4]) + (', ...' if len(n) > 4 else ''))
                       for f, n in found), TF_VERSION))


def describe_gpu(ordinal, gpu):
  """'GPU 0 (/gpu:0): NVIDIA H100 80GB HBM3, compute capability 9.0, 81559 MiB, driver
  550.54.15' for the start lines."""
  if gpu is None:
    return '/gpu:%d: not matched to nvidia-smi\'s list (CUDA_VISIBLE_DEVICES?)' % ordinal
  cap = gpu['capability']
  return 'GPU %s (/gpu:%d): %s, compute capability %s, %s, driver %s' % (
      gpu['index'], ordinal, gpu['name'], '%d.%d' % cap if cap else 'unknown',
      gpu['memory'], gpu['driver'])


def cuda_stack(info=None):
  """The CUDA stack for provenance.json and the start lines: the wheel's build (CUDA,
  cuDNN, compute capabilities) and the installed nvidia-* wheels' versions."""
  info = info if info is not None else build_info()
  return {'cuda_build': info.get('cuda_version'), 'cudnn_build': info.get('cudnn_version'),
          'compute_capabilities': list(info.get('cuda_compute_capabilities') or []),
          'libraries': cuda_libraries()}


def gpu_record(cfg, gpus=None, num_visible=None):
  """What provenance.json records of the run's GPUs and CUDA stack: every GPU nvidia-smi
  lists, those the run uses, the driver, the stack, the memory and TF32 settings, and any
  library on LD_LIBRARY_PATH that shadows the wheels. Creates no TensorFlow device."""
  gpus = query_gpus() if gpus is None else gpus
  used = run_gpus(cfg, gpus, num_visible)
  return {'nvidia_smi': gpus, 'used': ['/gpu:%d' % i for i, _ in used],
          'driver': sorted({g['driver'] for g in gpus}) or None,
          'cuda_stack': cuda_stack(),
          'gpu_memory': cfg['gpu_memory'], 'tf32': cfg['tf32'],
          'ld_library_path_cuda': [{'folder': f, 'files': n}
                                   for f, n in shadowing_libraries()]}


def start_lines(cfg, gpus=None, num_visible=None):
  """The lines a start prints about its GPUs before TensorFlow touches them: each GPU
  used (name, compute capability, memory, driver), the CUDA stack, the PTX compile to
  come, a library on LD_LIBRARY_PATH that shadows the wheels.

  Raises:
    DriverTooOldError: see check_driver.
  """
  gpus = query_gpus() if gpus is None else gpus
  check_driver(cfg, gpus, num_visible)
  used = run_gpus(cfg, gpus, num_visible)
  lines = [describe_gpu(i, g) for i, g in used]
  if used:
    stack = cuda_stack()
    libs = stack['libraries']
    lines.append('CUDA stack: TensorFlow %s built with CUDA %s, cuDNN %s; %s; GPU memory: '
                 '%s; TF32: %s.' % (
                     TF_VERSION, stack['cuda_build'], stack['cudnn_build'],
                     ', '.join('%s %s' % kv for kv in libs.items()) if libs
                     else 'no nvidia-* wheels installed (requirements-gpu.txt)',
                     cfg['gpu_memory'], 'on' if cfg['tf32'] else 'off'))
    notes = {ptx_note(g) for _, g in used if g is not None}
    lines += sorted(n for n in notes if n)
  warning = shadow_warning()
  if warning and (used or gpus):
    lines.append(warning)
  return lines


def configure_process(cfg):
  """Process-wide settings of a run, before its first session: TF32 (`--tf32`; TensorFlow's
  default is on, `blog` runs true float32 as the post's 2017 GPU did), and the GPUs the
  run uses only, with `--gpu_memory` (the sessions without a config of their own, the PCA
  initialisation's and the input cache's, take these from TensorFlow's context)."""
  tf.config.experimental.enable_tensor_float_32_execution(bool(cfg['tf32']))
  physical = tf.config.experimental.list_physical_devices('GPU')
  if not physical:
    return
  used = [physical[i] for i in used_gpu_ordinals(cfg, len(physical))]
  try:
    tf.config.experimental.set_visible_devices(used, 'GPU')
    for gpu in used:
      tf.config.experimental.set_memory_growth(gpu, cfg['gpu_memory'] == 'grow')
  except (RuntimeError, ValueError):  # already initialised in this process: the sessions'
    pass                              # own configs (session_config) still restrict them


def created_gpu_ordinals(cfg):
  """The CUDA ordinals for which TensorFlow creates a device under the run's session
  config (only on the run's GPUs; TensorFlow skips a GPU with fewer multiprocessors than
  TF_MIN_GPU_MULTIPROCESSOR_COUNT, 8 by default)."""
  from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
  out = []
  for d in device_lib.list_local_devices(session_config(cfg)):
    if d.device_type == 'GPU':
      desc = d.physical_device_desc or ''
      head = desc.split(',')[0].replace('device:', '').strip()
      if head.isdigit():
        out.append(int(head))
  return sorted(out)


def skipped_gpu_warning(cfg, gpus, created, num_visible=None):
  """A warning naming each GPU of the run for which TensorFlow made no device, and the
  towers that then run on the CPU (soft placement), or None."""
  used = run_gpus(cfg, gpus, num_visible)
  missing = [(i, g) for i, g in used if i not in created]
  if not missing:
    return None
  towers = [d for d in tower_devices(cfg) if cfg['tower_device'] == 'gpu'][len(created):]
  return ('warning: TensorFlow made no device for %s (it skips a GPU with fewer '
          'multiprocessors than TF_MIN_GPU_MULTIPROCESSOR_COUNT=%s; TF_CPP_MIN_LOG_LEVEL=0 '
          'shows its reason), so %s on the CPU under soft placement.'
          % ('; '.join(describe_gpu(i, g) for i, g in missing),
             os.environ.get('TF_MIN_GPU_MULTIPROCESSOR_COUNT', '8, the default'),
             'tower%s %s run%s' % ('s' if len(towers) > 1 else '', ', '.join(towers),
                                   '' if len(towers) > 1 else 's')
             if towers else 'the variables run'))


def start_gpus(cfg):
  """A run's start on its GPUs, before any session: prints start_lines (the GPUs used, the
  CUDA stack, a PTX compile to come, shadowing libraries), claims them
  (configure_process), and warns when TensorFlow skips one.

  Raises:
    DriverTooOldError: see check_driver.
  """
  gpus = query_gpus()
  for line in start_lines(cfg, gpus):
    print(line, flush=True)
  configure_process(cfg)
  if towers_on_gpu(cfg):
    warning = skipped_gpu_warning(cfg, gpus, created_gpu_ordinals(cfg))
    if warning:
      print(warning, flush=True)
