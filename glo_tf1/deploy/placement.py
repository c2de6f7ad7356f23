"""Where TensorFlow will place a training graph on GPUs, predicted without a GPU.

A GPU-capable TensorFlow wheel registers its GPU kernels on any machine, so the placer's
two main rules can be applied to a built graph by hand (`predict`):
  1. colocation: an op that reads or writes a resource (or ref) runs where the resource
     lives, and ops colocated with `colocate_with` (`_class: loc:@...`) share a device;
  2. kernels: an op on a GPU needs a GPU kernel for its types; with soft placement, a
     colocation group with a member that has none falls back to the CPU, whole.
An op without a device request goes to the first GPU when a GPU kernel exists (the
placer's preference), else to the CPU. TensorFlow's placer has a few more heuristics
(e.g. a source op with a single consumer may follow it); they move small tensors only.
`reproduce/gpu_check.sh` records TensorFlow's own placement on a real GPU.

`summarize` answers, for the ops a training step runs: the ops asked on a GPU that have no
GPU kernel, the variables (MB) and the variable-writing ops left on the host, and the
bytes each step moves between host and GPU (every edge that crosses, plus the fetches).
"""
import collections

from tensorflow.python.framework import kernels as kernels_lib

from glo_tf1 import settings
from glo_tf1.compat import tf

HOST, GPU = 'CPU', 'GPU'
# Ops that write a variable: the optimizer's updates (and the global step's increment).
WRITER_PREFIXES = ('Assign', 'ResourceApply', 'ResourceSparseApply', 'ResourceScatter',
                   'Scatter', 'Apply', 'SparseApply')
VARIABLE_OPS = ('VarHandleOp', 'Variable', 'VariableV2')

_KERNELS = {}


def _kernels(op_type):
  if op_type not in _KERNELS:
    try:
      _KERNELS[op_type] = list(kernels_lib.get_registered_kernels_for_op(op_type).kernel)
    except Exception:  # pylint: disable=broad-except  (an op type without a registry entry)
      _KERNELS[op_type] = []
  return _KERNELS[op_type]


def _attr_types(op, name):
  try:
    value = op.get_attr(name)
  except ValueError:
    return None
  values = value if isinstance(value, (list, tuple)) else [value]
  return [tf.as_dtype(v).as_datatype_enum for v in values]


def has_kernel(op, device_type):
  """Whether `op` has a kernel on `device_type` ('CPU', 'GPU') for its type attributes
  (each kernel's constraints: allowed types per attribute). DEFAULT kernels run anywhere.
  Each attribute is read once: an op type has up to dozens of kernels constraining the same
  attribute, and reading them again was most of a graph's prediction time."""
  read = {}
  for kernel in _kernels(op.type):
    if kernel.device_type not in (device_type, 'DEFAULT'):
      continue
    ok = True
    for c in kernel.constraint:
      allowed = set(c.allowed_values.list.type)
      if c.name not in read:
        read[c.name] = _attr_types(op, c.name)
      types = read[c.name]
      if types is not None and allowed and not set(types) <= allowed:
        ok = False
        break
    if ok:
      return True
  return False


def _requested(op):
  """'GPU', 'CPU' or None: the device type the graph asks for `op`."""
  if not op.device:
    return None
  kind = tf.DeviceSpec.from_string(op.device).device_type
  return kind.upper() if kind else None


def _colocation_groups(graph):
  """Union-find of ops that must share a device: resource/ref edges and loc:@ groups."""
  parent = {}

  def find(x):
    parent.setdefault(x, x)
    while parent[x] != x:
      parent[x] = parent[parent[x]]
      x = parent[x]
    return x

  def union(a, b):
    parent[find(a)] = find(b)

  for op in graph.get_operations():
    find(op.name)
    for group in op.colocation_groups():
      name = group.decode()[len('loc:@'):]
      if name != op.name:
        union(op.name, name)
    for t in op.inputs:
      if t.dtype == tf.resource or t.dtype._is_ref_dtype:  # pylint: disable=protected-access
        union(op.name, t.op.name)
  groups = collections.defaultdict(list)
  for op in graph.get_operations():
    groups[find(op.name)].append(op)
  return list(groups.values())


Prediction = collections.namedtuple('Prediction', ['device', 'no_gpu_kernel'])


def predict(graph, gpus=True):
  """Predicted device type ('GPU' or 'CPU') of every op of `graph`, by the rules above.

  Args:
    graph: a built tf.Graph.
    gpus: whether the machine has GPUs (without, everything runs on the CPU).
  Returns:
    Prediction(device={op name: 'GPU' | 'CPU'}, no_gpu_kernel=[ops asked on a GPU, or
    colocated with one, that have no GPU kernel for their types]).
  """
  device, missing = {}, []
  for group in _colocation_groups(graph):
    asked = [_requested(op) for op in group if op.type in VARIABLE_OPS and _requested(op)]
    asked = asked or [r for r in (_requested(op) for op in group) if r]
    want = asked[0] if asked else (GPU if gpus else HOST)
    lacking = [op for op in group if not has_kernel(op, GPU)] if want == GPU and gpus else []
    if lacking and asked:
      missing += lacking
    where = HOST if lacking or not gpus else want
    for op in group:
      device[op.name] = where
  return Prediction(device, sorted(missing, key=lambda op: op.name))


def step_ops(fetches):
  """Every op a Session.run of `fetches` executes (inputs and control inputs)."""
  seen, todo = set(), [f if isinstance(f, tf.Operation) else f.op
                       for f in map(_as_graph_element, fetches)]
  while todo:
    op = todo.pop()
    if op in seen:
      continue
    seen.add(op)
    todo.extend(t.op for t in op.inputs)
    todo.extend(op.control_inputs)
  return seen


def _as_graph_element(f):
  """A fetch as the session sees it: a variable fetches its value (a read)."""
  element = getattr(f, '_graph_element', None)  # pylint: disable=protected-access
  return f if element is None or isinstance(f, (tf.Tensor, tf.Operation)) else element


def tensor_bytes(t):
  """Bytes of `t` from its static shape; None when the shape is not fully known."""
  shape = t.get_shape()
  if t.dtype == tf.resource or t.dtype == tf.variant:
    return 0
  if not shape.is_fully_defined():
    return None
  return shape.num_elements() * t.dtype.size


def crossings(fetches, device):
  """[(tensor name, bytes or None, 'host->gpu' | 'gpu->host')] that a step moves: each
  edge between ops on different device types (once per consuming device type), and
  each fetched GPU tensor (to the client, on the host)."""
  out, done = [], set()
  for op in step_ops(fetches):
    for t in op.inputs:
      src, dst = device[t.op.name], device[op.name]
      if src != dst and (t.name, dst) not in done:
        done.add((t.name, dst))
        out.append((t.name, tensor_bytes(t), '%s->%s' % (src.lower().replace('cpu', 'host'),
                                                       dst.lower().replace('cpu', 'host'))))
  for f in map(_as_graph_element, fetches):
    if isinstance(f, tf.Tensor) and device[f.op.name] == GPU:
      out.append((f.name, tensor_bytes(f), 'gpu->host'))
  return sorted(out)


def variable_bytes(variables):
  return sum(int(v.get_shape().num_elements()) * v.dtype.base_dtype.size for v in variables)


def summarize(graph, fetches, variables, gpus=True):
  """The placement figures of one step of `graph` (see the module docstring).

  Args:
    graph: the built training graph.
    fetches: what one step runs (the train op and the tensors the hooks fetch each step).
    variables: the model's variables (global variables: codes, decoder, slots, step).
  Returns:
    dict: no_gpu_kernel [(op name, type)], host_variables [(name, bytes)],
    host_variable_bytes, host_updates [(op name, type)] (variable writers in the step on
    the host), crossings (see `crossings`), crossing_bytes (None if a crossing tensor's
    shape is unknown), device {op name: 'GPU' | 'CPU'}.
  """
  pred = predict(graph, gpus)
  ops = step_ops(fetches)
  host_vars = [v for v in variables if pred.device[v.op.name] == HOST]
  updates = sorted((op.name, op.type) for op in ops
                   if op.type.startswith(WRITER_PREFIXES) and pred.device[op.name] == HOST)
  cross = crossings(fetches, pred.device)
  sizes = [b for _, b, _ in cross]
  return {
      'no_gpu_kernel': [(op.name, op.type) for op in pred.no_gpu_kernel],
      'host_variables': [(v.op.name, variable_bytes([v])) for v in host_vars],
      'host_variable_bytes': variable_bytes(host_vars),
      'host_updates': updates,
      'crossings': cross,
      'crossing_bytes': None if None in sizes else sum(sizes),
      'device': pred.device,
  }


# GPU kernels that raise UnimplementedError under op determinism in TensorFlow 2.21 (their
# OpDeterminismRequired() checks, read from the 2.21 binary; enable_op_determinism's
# docstring names none). Ref-variable scatters raise; ResourceScatter* do not (they run
# on the host instead, see compat.enable_op_determinism).
RAISE_ON_GPU_UNDER_DETERMINISM = frozenset([
    'ScatterAdd', 'ScatterSub', 'ScatterUpdate', 'ScatterMul', 'ScatterDiv', 'ScatterMin',
    'ScatterMax', 'Bincount', 'DenseBincount', 'MaxPoolGradWithArgmax',
    'Dilation2DBackpropInput', 'Dilation2DBackpropFilter', 'CropAndResizeGradImage',
    'CropAndResizeGradBoxes', 'AdjustContrast', 'AdjustContrastv2',
    'ResizeNearestNeighborGrad', 'SparseTensorDenseMatMul',
    'FakeQuantWithMinMaxVarsGradient', 'FakeQuantWithMinMaxVarsPerChannelGradient',
    'SoftmaxCrossEntropyWithLogits', 'SparseSoftmaxCrossEntropyWithLogits', 'Timestamp'])
_BN_GRADS = ('FusedBatchNormGrad', 'FusedBatchNormGradV2', 'FusedBatchNormGradV3')
ROW_ADDING_SCATTERS = ('ResourceScatterAdd', 'ResourceScatterSub')


def _from_unique(t):
  """Whether tensor `t` is the unique-values output of a Unique op (through Identity)."""
  while t.op.type == 'Identity':
    t = t.op.inputs[0]
  return t.op.type in ('Unique', 'UniqueV2') and t.value_index == 0


def _with_function_bodies(graph):
  """`graph` and the graphs of the functions it calls (the branches of --precision=fp16's
  cond: control flow v2 builds them as functions)."""
  functions = getattr(graph, '_functions', {})  # pylint: disable=protected-access
  return [graph] + [g for g in (getattr(f, 'graph', None) for f in functions.values())
                    if g is not None]


def determinism_problems(graph, gpus=True):
  """[(op name, op type, why)] of the ops that op determinism would stop on a GPU, or that
  would race there once scatters stay on the GPU (TF_DISABLE_SCATTER_OP_DETERMINISM):
  a row-adding scatter whose indices are not unique. Function bodies included."""
  out = []
  for g in _with_function_bodies(graph):
    out += _determinism_problems(g, predict(g, gpus).device)
  return out


def _determinism_problems(graph, device):
  out = []
  for op in graph.get_operations():
    if device[op.name] != GPU:
      continue
    if op.type in RAISE_ON_GPU_UNDER_DETERMINISM:
      out.append((op.name, op.type, 'no deterministic GPU kernel'))
    elif op.type in _BN_GRADS and not op.get_attr('is_training'):
      out.append((op.name, op.type, 'no deterministic GPU kernel with is_training=False'))
    elif op.type in ROW_ADDING_SCATTERS and not _from_unique(op.inputs[1]):
      out.append((op.name, op.type, 'duplicate indices would race'))
  return out


def check_deterministic(graph, gpus=True):
  """Raises settings.ConfigError, before any step, when --deterministic cannot hold on
  the GPUs (determinism_problems), naming the ops."""
  problems = determinism_problems(graph, gpus)
  if problems:
    raise settings.ConfigError(
        '--deterministic: %d op(s) of the training graph cannot run deterministically on '
        'a GPU: %s. Train without --deterministic, or with --variable_device cpu and '
        '--tower_device cpu (CPU determinism).' % (len(problems), '; '.join(
            '%s (%s: %s)' % p for p in problems[:10])))
