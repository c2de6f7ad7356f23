"""--precision=fp16 as a GPU session really runs it: after Grappler's automatic mixed
precision, the gradients are unscaled and checked in float32 (issue 28).

Grappler rewrites the graph glo-tf1 builds. Its CUDA rewrite runs on a machine without a
GPU when TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_SIMULATE_GPU=1 is set before the pass first
runs (TensorFlow reads it once per process), so the rewrite runs in a subprocess, on the
exported meta-graph of each preset's training graph (towers on /gpu:i), with the default
passes on (layout optimizer, remapper, arithmetic, ...) and a simulated Hopper GPU in the
cluster, as a GPU session's Grappler sees it. Asserted on the rewritten graph:
  - every op between a gradient and its variable update (the unscale, the IsFinite checks,
    the cond's switches, the duplicate-row sums, the apply and scatter ops) is float32,
    and no Cast to float16 sits there: an unscale in float16 flushes every gradient below
    2**-24 to 0, and past a scale of 2**24 1/scale itself is 0 in float16;
  - every float16 op has a GPU kernel for its types (the kernel registry, as
    deploy/placement.py reads it);
  - the rewrite did run: the decoder's transpose convolutions are float16.
"""
import os
import subprocess
import sys

import pytest
from tensorflow.core.framework import graph_pb2
from tensorflow.core.framework import types_pb2
from tensorflow.python.framework import op_def_registry

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.deploy import devices
from glo_tf1.deploy import placement
from glo_tf1.model import towers

# preset -> towers (two on blog: the towers' gradients are summed before the unscale).
PRESETS = {'blog': 2, 'paper': 1, 'paper64': 1}
HALF = types_pb2.DT_HALF
GRADIENTS = 'gradients/'  # tf.gradients' name scope: the backward pass (float16 allowed)

_REWRITE = r'''
import os, sys
os.environ['TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_SIMULATE_GPU'] = '1'
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
from tensorflow.core.protobuf import config_pb2, device_properties_pb2, meta_graph_pb2
from tensorflow.core.protobuf import rewriter_config_pb2
from tensorflow.python.grappler import cluster as gcluster
from tensorflow.python.grappler import tf_optimizer

def device(kind, index, **props):
  return device_properties_pb2.NamedDevice(
      name='/job:localhost/replica:0/task:0/device:%s:%d' % (kind, index),
      properties=device_properties_pb2.DeviceProperties(type=kind, **props))

gpus = int(sys.argv[1])
devices = [device('CPU', 0, frequency=2000, num_cores=16, memory_size=64 << 30)] + [
    device('GPU', i, vendor='NVIDIA', model='H100', frequency=1755, num_cores=132,
           environment={'architecture': '9.0', 'cuda': '12050', 'cudnn': '90300'},
           num_registers=65536, l1_cache_size=24576, l2_cache_size=50 << 20,
           shared_memory_size_per_multiprocessor=233472, memory_size=80 << 30,
           bandwidth=3350000000) for i in range(gpus)]
config = config_pb2.ConfigProto()
options = config.graph_options.rewrite_options  # the defaults (layout, remapper...) stay on
options.auto_mixed_precision = rewriter_config_pb2.RewriterConfig.ON
for src, dst in zip(sys.argv[2::2], sys.argv[3::2]):
  with open(src, 'rb') as f:
    meta = meta_graph_pb2.MetaGraphDef.FromString(f.read())
  cluster = gcluster.Cluster(devices=devices)
  try:
    graph = tf_optimizer.OptimizeGraph(config, meta, verbose=False, cluster=cluster)
  finally:
    cluster.Shutdown()
  with open(dst, 'wb') as f:
    f.write(graph.SerializeToString())
'''


def _export(preset, num_towers, path):
  """The preset's fp16 training graph (towers on /gpu:i, batch 2, fed from the host) as a
  meta-graph whose train_op collection is the step; returns the batch-norm moving
  statistics' variable names (their updates come from the forward pass, not a gradient)."""
  cfg = settings.resolve(preset, {'num_gpus': num_towers, 'tower_device': 'gpu',
                                  'precision': 'fp16', 'batch_size': 2})
  size = cfg['image_size']
  with tf.Graph().as_default() as graph:
    with tf.device('/cpu:0'):
      inputs = [{'image': tf.placeholder(tf.float32, [2, size, size, 3], 'image_%d' % i),
                 'index': tf.placeholder(tf.int32, [2], 'index_%d' % i)}
                for i in range(num_towers)]
    model = towers.build_training_graph(cfg, inputs, 100, devices.deployment(cfg))
    graph.clear_collection('train_op')  # Grappler keeps what this collection fetches
    tf.add_to_collection('train_op', model['train_op'])
    with open(path, 'wb') as f:
      f.write(tf.train.export_meta_graph().SerializeToString())
    trainable = set(tf.trainable_variables())
    return {v.op.name for v in tf.model_variables() if v not in trainable}


@pytest.fixture(scope='module')
def rewritten(tmp_path_factory):
  """{preset: (rewritten GraphDef, moving-statistics variable names)}: one subprocess
  rewrites the three presets' graphs."""
  tmp = tmp_path_factory.mktemp('fp16')
  moving, args = {}, []
  for preset, num_towers in PRESETS.items():
    moving[preset] = _export(preset, num_towers, str(tmp / (preset + '.meta')))
    args += [str(tmp / (preset + '.meta')), str(tmp / (preset + '.graph'))]
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
  done = subprocess.run([sys.executable, '-c', _REWRITE, str(max(PRESETS.values()))] + args,
                        env=env, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  out = {}
  for preset in PRESETS:
    with open(str(tmp / (preset + '.graph')), 'rb') as f:
      out[preset] = (graph_pb2.GraphDef.FromString(f.read()), moving[preset])
  return out


def _half_attrs(node):
  """The type attributes of `node` that are float16 (a Cast's source excepted: a Cast
  from float16 to float32 is how a float16 gradient enters the float32 path)."""
  return sorted(k for k, v in node.attr.items()
                if (v.type == HALF or HALF in v.list.type)
                and not (node.op == 'Cast' and k == 'SrcT'))


def _name(tensor):
  return tensor.lstrip('^').split(':')[0]


def _variable(nodes, name):
  """The variable a resource input comes from (through identities and switches)."""
  node = nodes[_name(name)]
  while node.op in ('Identity', 'Switch', 'Merge', 'Enter', 'RefSwitch') and node.input:
    node = nodes[_name(node.input[0])]
  return node.name


def update_path(graph, moving):
  """The nodes between the gradients and the variable updates: the data ancestors of every
  variable update (batch-norm moving statistics excepted) and of every IsFinite, up to
  (not including) the backward pass's nodes. Returns (path nodes, the backward pass's
  nodes that feed it, updates, IsFinite)."""
  nodes = {n.name: n for n in graph.node}
  updates = [n for n in graph.node if n.op.startswith(placement.WRITER_PREFIXES)
             and _variable(nodes, n.input[0]) not in moving]
  checks = [n for n in graph.node if n.op == 'IsFinite']
  path, entries, todo = {}, set(), [n.name for n in updates + checks]
  while todo:
    name = todo.pop()
    if name in path:
      continue
    path[name] = nodes[name]
    for tensor in nodes[name].input:
      if tensor.startswith('^'):
        continue
      if tensor.startswith(GRADIENTS):
        entries.add(tensor)
      else:
        todo.append(_name(tensor))
  return list(path.values()), sorted(entries), updates, checks


def output_type(nodes, tensor):
  """The dtype of `tensor` ('node:i') of a GraphDef, from its op's registered outputs."""
  node = nodes[_name(tensor)]
  index = int(tensor.split(':')[1]) if ':' in tensor else 0
  types = []
  for arg in op_def_registry.get(node.op).output_arg:
    if arg.type_list_attr:
      types += list(node.attr[arg.type_list_attr].list.type)
    else:
      one = node.attr[arg.type_attr].type if arg.type_attr else arg.type
      types += [one] * (node.attr[arg.number_attr].i if arg.number_attr else 1)
  return types[index]


class _Node:
  """A NodeDef as placement.has_kernel reads an op: its type and its attributes."""

  def __init__(self, node):
    self.type, self._attr = node.op, node.attr

  def get_attr(self, name):
    if name not in self._attr:
      raise ValueError(name)
    value = self._attr[name]
    return list(value.list.type) if value.HasField('list') else value.type


@pytest.mark.e2e
@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_fp16_unscales_and_checks_the_gradients_in_float32(rewritten, preset):
  graph, moving = rewritten[preset]
  path, entries, updates, checks = update_path(graph, moving)
  assert moving and updates and checks  # the check below looks at something
  half = sorted((n.name, n.op, _half_attrs(n)) for n in path if _half_attrs(n))
  assert half == [], 'float16 between the gradients and the updates: %s' % half
  nodes = {n.name: n for n in graph.node}
  fed = [t for t in entries if output_type(nodes, t) == HALF]
  assert fed == [], 'float16 tensors of the backward pass feed the updates: %s' % fed
  # The decoder kernels' float16 gradients (Conv2DBackpropFilter) enter the path through
  # the rewrite's Casts to float32.
  casts = [nodes[_name(t)] for t in entries if nodes[_name(t)].op == 'Cast'
           and nodes[_name(t)].attr['SrcT'].type == HALF]
  assert casts and all(n.attr['DstT'].type == types_pb2.DT_FLOAT for n in casts)
  # And the float32 path stays on the GPUs: each of its GPU ops has a GPU kernel.
  on_gpu = [n for n in path if 'GPU' in n.device.upper()]
  lacking = [n.name for n in on_gpu if not placement.has_kernel(_Node(n), 'GPU')]
  assert on_gpu and lacking == []
  assert any(n.op == 'Conv2DBackpropFilter' and _half_attrs(n) == ['T']
             for n in graph.node)


@pytest.mark.e2e
@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_every_float16_op_has_a_gpu_kernel(rewritten, preset):
  graph, _ = rewritten[preset]
  half = [n for n in graph.node if _half_attrs(n) or n.op == 'Cast' and
          n.attr['SrcT'].type == HALF]
  convs = [n for n in graph.node if n.op == 'Conv2DBackpropInput'
           and n.name.startswith('model_0/')]
  assert convs and all(_half_attrs(n) == ['T'] for n in convs)  # the rewrite ran
  missing = sorted((n.name, n.op) for n in half
                   if not placement.has_kernel(_Node(n), 'GPU'))
  assert half and missing == []
