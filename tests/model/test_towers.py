"""Towers: K towers equal one tower over the same batch; the codes' gradient stays sparse;
placement rule; --num_gpus auto and 0; a machine whose GPUs TensorFlow cannot see stops
(with a fake nvidia-smi); the start line's device names.

The towers run on /cpu:i, or on /gpu:i with GLO_TEST_TOWER_DEVICE=gpu
(reproduce/gpu_check.sh)."""
import os

import numpy as np
import pytest

from conftest import TOWER_DEVICE
from conftest import fake_nvidia_smi
from conftest import graph_ancestors
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import images as images_lib
from glo_tf1.deploy import devices
from glo_tf1.model import towers

SMALL = dict(image_size=16, latent_dims=8, decoder_filters=[16, 8])


def _train(cfg, images, indices, num_towers, values=None, steps=2):
  """Runs `steps` train steps of a graph with `num_towers` towers fed constant halves of
  (images, indices); returns {variable name: value} after initialising from `values`."""
  cfg = dict(cfg, num_gpus=num_towers, batch_size=len(indices) // num_towers)
  with tf.Graph().as_default():
    tower_inputs = [{'image': tf.constant(im), 'index': tf.constant(ix)}
                    for im, ix in zip(np.split(images, num_towers),
                                      np.split(indices, num_towers))]
    model = towers.build_training_graph(cfg, tower_inputs, 12, devices.deployment(cfg))
    variables = tf.global_variables()
    conf = tf.ConfigProto(device_count={'CPU': num_towers}, allow_soft_placement=True,
                          inter_op_parallelism_threads=1, intra_op_parallelism_threads=1)
    if TOWER_DEVICE == 'gpu':  # float32 as on the CPU: no TensorFloat-32 on Ampere+
      tf.config.experimental.enable_tensor_float_32_execution(False)
    with tf.Session(config=conf) as sess:
      sess.run(tf.global_variables_initializer())
      if values is not None:
        for v in variables:
          v.load(values[v.op.name], sess)
      for _ in range(steps):
        sess.run(model['train_op'])
      return {v.op.name: sess.run(v) for v in variables}


@pytest.mark.parametrize('codes_optimizer', ['adam', 'lazy_adam'])
def test_two_cpu_towers_equal_one_tower_over_the_same_batch(codes_optimizer):
  """Two CPU towers of 4 images and one tower of the same 8 images update every variable
  (codes, decoder, Adam slots, global step) the same way.

  The equivalence is exact only where the towers' losses add up to the one tower's loss:
  `mse` is a mean over pixels, so with equal halves the towers' average is the whole
  batch's mean. Batch norm is switched off (normalizer='none') because each tower
  normalises with its own batch statistics, which differ from the whole batch's; the
  `pairwise` loss also couples images across the batch. Index 5 is in both towers, so the
  towers' sparse code gradients for one row must be summed.
  """
  cfg = settings.resolve('demo', dict(SMALL, normalizer='none', loss='mse', num_gpus=2,
                                    tower_device=TOWER_DEVICE,
                                    codes_optimizer=codes_optimizer))
  rng = np.random.RandomState(0)
  images = rng.uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
  indices = np.array([0, 5, 2, 7, 5, 9, 11, 3], np.int32)
  start = _train(cfg, images, indices, 2, steps=0)
  two = _train(cfg, images, indices, 2, start)
  one = _train(cfg, images, indices, 1, start)
  assert sorted(two) == sorted(one)
  for name in one:
    np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-6, err_msg=name)
  moved = np.abs(one['codes'] - start['codes']).max(axis=1) > 0
  assert sorted(np.nonzero(moved)[0]) == sorted(set(indices.tolist()))
  assert one['global_step'] == 2


@pytest.mark.parametrize('codes_optimizer', ['adam', 'lazy_adam', 'sgd'])
def test_codes_gradient_stays_sparse_across_towers(codes_optimizer):
  """No op the train step runs makes a dense (N, dims) code gradient.

  Only variable reads may have the table's shape; with the notebook's TF1 Adam, its slot
  arithmetic also does (it decays m and v of every row, defect 5), but nothing in the
  gradient computation does, and the codes are updated through sparse ops.
  """
  n, dims = 1009, 8
  cfg = settings.resolve('demo', dict(SMALL, num_gpus=2, tower_device='cpu',
                                    codes_optimizer=codes_optimizer))
  with tf.Graph().as_default():
    tower_inputs = [{'image': tf.zeros([32, 16, 16, 3]), 'index': tf.range(32 * i, 32 * i + 32)}
                    for i in range(2)]
    model = towers.build_training_graph(cfg, tower_inputs, n, devices.deployment(cfg))
    ops = graph_ancestors(model['train_op'])
    table_shaped = [op for op in ops for t in op.outputs
                    if t.get_shape().rank == 2 and t.get_shape().as_list() == [n, dims]]
    allowed = {'ReadVariableOp', 'VarHandleOp'}
    dense = [op for op in table_shaped if op.type not in allowed]
    if codes_optimizer == 'adam':
      assert dense and all(op.name.startswith('Adam/update_codes/') for op in dense), \
          [op.name for op in dense]
    else:
      assert not dense, [(op.name, op.type) for op in dense]
    assert not [op for op in table_shaped if 'gradients' in op.name]
    code_updates = {c.type for c in model['codes'].handle.consumers()} & \
        {op.type for op in ops}
    assert code_updates & {'ResourceScatterSub', 'ResourceScatterAdd', 'AssignSubVariableOp'}
    assert not code_updates & {'ResourceApplyAdam', 'ResourceApplyGradientDescent'}
    # The gradient each tower's lookup sends back is IndexedSlices of its own rows.
    grads = tf.gradients(model['loss'], [model['codes']])
    assert isinstance(grads[0], tf.IndexedSlices)


@pytest.mark.parametrize('tower_device,variable_device,expected', [
    ('gpu', 'auto', 'gpu:0'), ('gpu', 'cpu', 'cpu:0'), ('cpu', 'auto', 'cpu:0'),
    ('cpu', 'gpu', 'gpu:0')])
def test_variables_where_asked_towers_on_their_devices(tower_device, variable_device,
                                                       expected):
  """The graph's requests (placed by TensorFlow at run time, soft placement without GPUs):
  every variable, slots and global step included, on one device; the towers on theirs."""
  cfg = settings.resolve('demo', dict(SMALL, num_gpus=2, tower_device=tower_device,
                                      variable_device=variable_device))
  with tf.Graph().as_default():
    tower_inputs = [{'image': tf.zeros([4, 16, 16, 3]), 'index': tf.range(4)}
                    for _ in range(2)]
    model = towers.build_training_graph(cfg, tower_inputs, 10, devices.deployment(cfg))
    assert len(tf.global_variables()) > 10  # decoder, codes, slots, beta powers, step
    for v in tf.global_variables():
      assert v.device.lower().endswith(expected), (v.op.name, v.device)
    for i, t in enumerate(model['towers']):
      assert t['reconstruction'].device.lower().endswith('%s:%d' % (tower_device, i))


def test_num_gpus_auto(monkeypatch):
  cfg = settings.resolve('demo', {'num_gpus': 'auto'})
  assert cfg['num_gpus'] == 'auto'
  assert devices.resolve_num_gpus(cfg)['num_gpus'] == max(1, devices.visible_gpus())
  monkeypatch.setattr(devices, 'visible_gpus', lambda: 0)
  assert devices.resolve_num_gpus(cfg)['num_gpus'] == 1
  monkeypatch.setattr(devices, 'visible_gpus', lambda: 4)
  assert devices.resolve_num_gpus(cfg)['num_gpus'] == 4
  assert devices.resolve_num_gpus(dict(cfg, num_gpus=2))['num_gpus'] == 2
  with pytest.raises(settings.ConfigError, match='--num_gpus'):
    settings.resolve('demo', {'num_gpus': 'all'})
  assert 'num_gpus' not in settings.FIXED_ON_RESUME


def test_grids_lay_out_images_as_the_notebook():
  """square_grid: row by row; comparison_grid: 5 rows of 5 original|reconstruction pairs;
  fewer images than cells leave the rest black (-1)."""
  side = 2
  value = (np.arange(30)[:, None, None, None] * np.ones((1, side, side, 3))).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    square, pairs, few = sess.run([
        images_lib.square_grid(tf.constant(value)),
        images_lib.comparison_grid(tf.constant(value), tf.constant(-value)),
        images_lib.comparison_grid(tf.constant(value[:7]), tf.constant(-value[:7]))])
  assert square.shape == (1, 5 * side, 5 * side, 3)
  cells = square[0, ::side, ::side, 0]
  np.testing.assert_array_equal(cells, np.arange(25).reshape(5, 5))
  assert pairs.shape == (1, 5 * side, 10 * side, 3)
  cells = pairs[0, ::side, ::side, 0]
  np.testing.assert_array_equal(cells[:, ::2], np.arange(25).reshape(5, 5))   # originals
  np.testing.assert_array_equal(cells[:, 1::2], -np.arange(25).reshape(5, 5))  # beside
  cells = few[0, ::side, ::side, 0].ravel()
  np.testing.assert_array_equal(cells[:14:2], np.arange(7))
  assert np.all(cells[14:] == -1)

def test_reconstruction_grid_shows_the_last_towers_share_as_the_notebook():
  """Two CPU towers of 4 images each: the grid's originals are the second tower's images
  (the notebook's add_glo_summaries ran after its tower loop, on the last tower's inputs
  and outputs), its reconstructions that tower's outputs of the same step."""
  cfg = settings.resolve('demo', dict(SMALL, num_gpus=2, batch_size=4, tower_device='cpu'))
  side, per_tower = 16, 4
  # Image j of tower t is the constant (4 t + j + 1) / 10: every cell says whose it is.
  values = (np.arange(1, 2 * per_tower + 1) / 10.).astype(np.float32)
  batch = values[:, None, None, None] * np.ones((1, side, side, 3), np.float32)
  with tf.Graph().as_default():
    tower_inputs = [{'image': tf.constant(batch[t * per_tower:(t + 1) * per_tower]),
                     'index': tf.constant(np.arange(per_tower, dtype=np.int32) + t * per_tower)}
                    for t in range(2)]
    model = towers.build_training_graph(cfg, tower_inputs, 8, devices.deployment(cfg))
    conf = tf.ConfigProto(device_count={'CPU': 2}, allow_soft_placement=True)
    with tf.Session(config=conf) as sess:
      sess.run(tf.global_variables_initializer())
      grid, last = sess.run([model['grids']['reconstruction_grid'],
                             model['towers'][1]['reconstruction']])
  cells = grid[0, ::side, ::side, 0].ravel()  # row by row: original, reconstruction, ...
  np.testing.assert_allclose(cells[:2 * per_tower:2], values[per_tower:])
  for j in range(per_tower):  # each reconstruction cell is the last tower's output j
    row, col = divmod(2 * j + 1, 10)
    np.testing.assert_allclose(
        grid[0, row * side:(row + 1) * side, col * side:(col + 1) * side], last[j],
        rtol=1e-5, atol=1e-6)


def test_num_gpus_0_is_one_tower_on_the_cpu_on_purpose():
  cfg = devices.resolve_num_gpus(settings.resolve('blog', {'num_gpus': 0}))
  assert cfg['num_gpus'] == 1 and cfg['tower_device'] == 'cpu'
  assert devices.describe_towers(cfg) == '1 tower on /cpu:0'
  with pytest.raises(settings.ConfigError, match='--num_gpus'):
    settings.resolve('blog', {'num_gpus': -1})


def test_start_line_names_the_devices():
  gpu = settings.resolve('blog', {'num_gpus': 2})
  assert devices.describe_towers(gpu, num_visible=2) == '2 towers on /gpu:0, /gpu:1'
  assert devices.describe_towers(gpu, num_visible=1) == \
      '2 towers on /gpu:0, /gpu:1 (/gpu:1 not visible: soft placement)'
  assert devices.describe_towers(gpu, num_visible=0) == '2 towers on /cpu:0 (no GPU visible)'
  cpu = settings.resolve('demo', {})
  assert devices.describe_towers(cpu, num_visible=4) == '1 tower on /cpu:0'
  assert devices.towers_on_gpu(gpu, 1) and not devices.towers_on_gpu(gpu, 0)
  assert not devices.towers_on_gpu(cpu, 4)


@pytest.fixture
def gpus_tensorflow_cannot_see(tmp_path, monkeypatch):
  """A machine whose (fake) nvidia-smi lists 2 GPUs while TensorFlow sees none."""
  folder = fake_nvidia_smi(str(tmp_path / 'bin'), 2)
  monkeypatch.setenv('PATH', folder + os.pathsep + os.environ['PATH'])
  monkeypatch.setattr(devices, 'visible_gpus', lambda: 0)
  return folder


def test_gpus_tensorflow_cannot_see_stop_the_run_and_say_why(gpus_tensorflow_cannot_see,
                                                             monkeypatch):
  assert len(devices.nvidia_smi_gpus()) == 2
  for asked in ({'num_gpus': 'auto'}, {}):  # blog: one tower on /gpu:0
    with pytest.raises(devices.GpuSetupError) as e:
      devices.resolve_num_gpus(settings.resolve('blog', asked))
    message = str(e.value)
    assert 'nvidia-smi lists 2 GPU(s)' in message and 'TensorFlow sees none' in message
    assert '--num_gpus 0 or --tower_device cpu' in message
  monkeypatch.setattr(tf.test, 'is_built_with_cuda', lambda: False)  # a CPU-only wheel
  with pytest.raises(devices.GpuSetupError, match='built without CUDA.*reproduce/env.sh'):
    devices.resolve_num_gpus(settings.resolve('blog', {'num_gpus': 'auto'}))
  monkeypatch.setattr(tf.test, 'is_built_with_cuda', lambda: True)
  with pytest.raises(devices.GpuSetupError, match='CUDA libraries were not found'):
    devices.resolve_num_gpus(settings.resolve('blog', {'num_gpus': 'auto'}))
  # The CPU on purpose.
  for asked in ({'num_gpus': 0}, {'tower_device': 'cpu'}, {'num_gpus': 'auto',
                                                          'tower_device': 'cpu'}):
    cfg = devices.resolve_num_gpus(settings.resolve('blog', asked))
    assert devices.describe_towers(cfg) == '1 tower on /cpu:0'


def test_no_nvidia_smi_or_an_empty_list_is_no_error(tmp_path, monkeypatch):
  monkeypatch.setattr(devices, 'visible_gpus', lambda: 0)
  monkeypatch.setenv('PATH', fake_nvidia_smi(str(tmp_path / 'bin'), 0) + os.pathsep +
                     os.environ['PATH'])
  assert devices.nvidia_smi_gpus() == []
  assert devices.resolve_num_gpus(settings.resolve('blog', {'num_gpus': 'auto'}))[
      'num_gpus'] == 1
