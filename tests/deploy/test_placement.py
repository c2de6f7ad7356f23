"""The training graph's placement on GPUs, predicted without a GPU (deploy/placement.py).

The pinned `tensorflow` wheel registers its GPU kernels on any machine, so these run in CI
(tests/cli/test_stack.py checks the registry is there). The real training graph of each
GPU preset (loop.build_training, CelebA's 162,770 training images, towers on /gpu:i):
every op asked on a GPU has a GPU kernel for its types; with the default placement no
variable and no variable update is on the host; a step moves at most the batch's images
and indices to the GPU and the fetched loss and step back. The placer's rules themselves
are checked on small hand-built graphs.
"""
import pytest

from conftest import gpu_kernels_registered
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.deploy import devices
from glo_tf1.deploy import placement
from glo_tf1.model import towers
from glo_tf1.training import loop

CELEBA_TRAIN = 162770


def _training_summary(tmp_path, preset, towers, variable_device='auto'):
  cfg = devices.resolve_num_gpus(settings.resolve(
      preset, {'num_gpus': towers, 'tower_device': 'gpu',
               'variable_device': variable_device}))
  paths = ['/celeba/%06d.jpg' % (i + 1) for i in range(CELEBA_TRAIN)]
  with tf.Graph().as_default() as graph:
    model, _, _, _ = loop.build_training(cfg, paths, str(tmp_path))
    fetches = [model['train_op'], model['loss'], model['global_step']]  # what hooks fetch
    summary = placement.summarize(graph, fetches, tf.global_variables())
  return cfg, summary


def _batch_bytes(cfg):
  """The batch that must reach the GPUs: K * B float32 images and int32 indices; plus the
  float32 loss and int64 step the hooks fetch back."""
  k, b, s = cfg['num_gpus'], cfg['batch_size'], cfg['image_size']
  return k * b * s * s * 3 * 4 + k * b * 4 + 4 + 8


def test_the_registry_has_gpu_kernels():
  assert gpu_kernels_registered(), (
      'this TensorFlow registers no GPU kernels: install the pinned `tensorflow` wheel '
      '(requirements.txt), not tensorflow-cpu')


@pytest.mark.parametrize('preset', ['blog', 'paper', 'paper64'])
@pytest.mark.parametrize('towers', [1, 2])
def test_default_placement_keeps_the_step_on_the_gpus(tmp_path, preset, towers):
  cfg, s = _training_summary(tmp_path, preset, towers)
  assert s['no_gpu_kernel'] == []
  assert s['host_variables'] == [] and s['host_variable_bytes'] == 0
  assert s['host_updates'] == []
  assert s['crossing_bytes'] is not None, s['crossings']
  assert s['crossing_bytes'] <= _batch_bytes(cfg), s['crossings']
  # Each tower's share of the batch crosses once.
  images = [b for _, b, d in s['crossings'] if d == 'host->gpu' and b and b > 4096]
  assert sorted(images) == [cfg['batch_size'] * cfg['image_size'] ** 2 * 12] * towers


def test_the_check_fails_on_variables_on_the_host(tmp_path):
  """slim's model_deploy placement (before --variable_device): the checks above catch it.
  The codes (162,770 x 100) and TF1 Adam's two slots alone are 195 MB."""
  cfg, s = _training_summary(tmp_path, 'blog', 1, variable_device='cpu')
  assert s['host_variable_bytes'] >= 3 * CELEBA_TRAIN * 100 * 4
  assert {t for _, t in s['host_updates']} >= {'ResourceScatterAdd', 'AssignVariableOp'}
  assert s['crossing_bytes'] > _batch_bytes(cfg)


def test_a_resource_op_runs_where_its_variable_lives():
  with tf.Graph().as_default() as graph:
    with tf.device('/gpu:0'):
      v = tf.get_variable('v', [10, 4])
    with tf.device('/cpu:0'):
      rows = tf.gather(v, [1, 2])  # asked on the host, reads a GPU resource
  pred = placement.predict(graph)
  assert pred.device[rows.op.name] == 'GPU' and pred.no_gpu_kernel == []


def test_a_group_without_a_gpu_kernel_falls_back_to_the_host_whole():
  with tf.Graph().as_default() as graph:
    with tf.device('/gpu:0'):
      a = tf.constant([[1, 2], [3, 4]], tf.int32)
      p = tf.matmul(a, a)  # MatMul has no int32 GPU kernel
      f = tf.matmul(tf.ones([2, 2]), tf.ones([2, 2]))
  pred = placement.predict(graph)
  assert [op.name for op in pred.no_gpu_kernel] == [p.op.name]
  assert pred.device[p.op.name] == 'CPU' and pred.device[f.op.name] == 'GPU'
  assert all(d == 'CPU' for d in placement.predict(graph, gpus=False).device.values())


def test_crossing_bytes_count_each_edge_between_devices_once_per_device():
  with tf.Graph().as_default():
    with tf.device('/cpu:0'):
      x = tf.placeholder(tf.float32, [10, 10])
      i = tf.placeholder(tf.int32, [3])
    with tf.device('/gpu:0'):
      y = tf.reduce_sum(x * 2. + x) + tf.cast(tf.reduce_sum(i), tf.float32)
    s = placement.summarize(tf.get_default_graph(), [y], [])
  assert s['crossing_bytes'] == 10 * 10 * 4 + 3 * 4 + 4  # x, i once; y to the client
  assert placement.tensor_bytes(tf.zeros([2, 3], tf.int64)) == 48


@pytest.mark.parametrize('preset,overrides', [
    ('blog', {}), ('paper', {}), ('paper64', {}), ('demo', {'tower_device': 'gpu'}),
    ('blog', {'codes_optimizer': 'lazy_adam'}), ('paper', {'precision': 'fp16'})])
def test_deterministic_graphs_have_no_gpu_op_that_raises_or_races(preset, overrides):
  """Under --deterministic with the variables on a GPU, every op has a deterministic GPU
  kernel and every row-adding scatter writes unique rows (so compat can keep the
  scatters on the GPU: TF_DISABLE_SCATTER_OP_DETERMINISM)."""
  cfg = settings.resolve(preset, dict(overrides, deterministic=True, num_gpus=2))
  with tf.Graph().as_default() as graph:
    tower_inputs = [{'image': tf.zeros([4, cfg['image_size'], cfg['image_size'], 3]),
                     'index': tf.constant([0, 1, 1, 2])} for _ in range(2)]
    towers.build_training_graph(cfg, tower_inputs, 10, devices.deployment(cfg))
    bodies = placement._with_function_bodies(graph)  # pylint: disable=protected-access
    scatters = [op for g in bodies for op in g.get_operations()
                if op.type in placement.ROW_ADDING_SCATTERS]
    assert scatters  # the check below looks at something
    assert placement.determinism_problems(graph) == []
    placement.check_deterministic(graph)


def test_plain_sgd_races_and_a_raising_op_is_refused_before_the_run():
  """The property above can fail: TF1 SGD scatter-adds duplicate rows (so the trainer
  swaps in the deduplicating SGD), and a GPU op without a deterministic kernel is named."""
  cfg = settings.resolve('paper', {'num_gpus': 1})  # not deterministic: plain TF1 SGD
  with tf.Graph().as_default() as graph:
    towers.build_training_graph(cfg, [{'image': tf.zeros([4, 128, 128, 3]),
                                       'index': tf.constant([0, 1, 1, 2])}], 10,
                                devices.deployment(cfg))
    assert ('duplicate indices would race' in
            {why for _, _, why in placement.determinism_problems(graph)})
  with tf.Graph().as_default() as graph:
    with tf.device('/gpu:0'):
      tf.math.bincount(tf.constant([1, 2, 2]))
    with pytest.raises(settings.ConfigError, match=r'--deterministic: .*Bincount'):
      placement.check_deterministic(graph)
    placement.check_deterministic(graph, gpus=False)  # on the CPU it is deterministic


def test_unique_scatter_rows_only_for_deterministic_runs_with_gpu_variables():
  on_gpu = settings.resolve('paper', {'deterministic': True})
  assert devices.unique_scatter_rows(on_gpu)
  assert devices.deployment(on_gpu).unique_rows
  assert not devices.unique_scatter_rows(dict(on_gpu, variable_device='cpu'))
  assert not devices.unique_scatter_rows(settings.resolve('paper', {}))
  assert not devices.unique_scatter_rows(settings.resolve('demo', {'deterministic': True}))
