"""The `blog` preset is the notebook: every row of the hyper-parameter table of
docs/reference/notebook-facts.md, checked on the graph that loop.build_training makes
(op types, shapes, attributes, constants, initial values, one real step) and on the hooks
and session configuration it hands to MonitoredTrainingSession, never on the config dict."""
import os

import numpy as np
import pytest

from conftest import graph_ancestors
from conftest import write_index_images
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.deploy import devices
from glo_tf1.training import hooks
from glo_tf1.training import loop

NUM_IMAGES = 8
LAYERS = ['deconv1', 'deconv2', 'deconv3', 'deconv4', 'deconv5', 'deconv_out']


def _ops(graph, prefix, op_type):
  return [op for op in graph.get_operations()
          if op.name.startswith(prefix) and op.type == op_type]


def _ancestor_types(tensor, limit=200):
  types, todo, seen = set(), [tensor.op], set()
  while todo and len(seen) < limit:
    op = todo.pop()
    if op.name in seen:
      continue
    seen.add(op.name)
    types.add(op.type)
    todo.extend(i.op for i in op.inputs)
  return types


@pytest.fixture(scope='module')
def blog(tmp_path_factory):
  """The blog training graph on 8 tiny images, its initial values and one real step."""
  folder = str(tmp_path_factory.mktemp('blog_images'))
  paths = [os.path.join(folder, n) for n in write_index_images(folder, NUM_IMAGES, size=20)]
  cfg = settings.resolve('blog')
  graph = tf.Graph()
  with graph.as_default():
    model, scaffold, run_hooks, _ = loop.build_training(cfg, paths,
                                                        str(tmp_path_factory.mktemp('run')))
    fbn = graph.get_operation_by_name('model_0/decoder/deconv2/BatchNorm/FusedBatchNormV3')
    moving_mean = [v for v in tf.global_variables()
                   if v.op.name == 'decoder/deconv2/BatchNorm/moving_mean'][0]
    creator = tf.train.ChiefSessionCreator(scaffold=scaffold,
                                           config=devices.session_config(cfg))
    with tf.train.MonitoredSession(session_creator=creator) as sess:
      initial = sess.run({v.op.name: v for v in tf.global_variables()})
      step = sess.run({'code': model['towers'][0]['code'],
                       'index': model['towers'][0]['index'],
                       'batch_mean': fbn.outputs[1], 'train': model['train_op']})
      step['moving_mean_after'] = sess.run(moving_mean)
  return {'cfg': cfg, 'graph': graph, 'model': model, 'scaffold': scaffold, 'hooks': run_hooks,
          'initial': initial, 'step': step}


def test_image_size_128x128x3_and_per_tower_batch_32(blog):
  tower = blog['model']['towers'][0]
  assert tower['reconstruction'].get_shape().as_list() == [32, 128, 128, 3]
  assert tower['image'].get_shape().as_list() == [32, 128, 128, 3]
  assert tower['index'].get_shape().as_list() == [32]
  assert len(blog['model']['towers']) == 1


def test_latent_dims_100_and_codes_variable(blog):
  codes = blog['model']['codes']
  assert codes.op.name == 'codes' and codes.get_shape().as_list() == [NUM_IMAGES, 100]
  assert codes in blog['graph'].get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)
  assert blog['model']['towers'][0]['code'].get_shape().as_list() == [32, 100]


def _glorot_limit(shape):
  receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
  return np.sqrt(6. / (receptive * (shape[-2] + shape[-1])))


def _check_glorot_uniform(graph, name, values):
  var = [v for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) if v.op.name == name][0]
  types = _ancestor_types(var.initial_value)
  assert 'RandomUniform' in types, (name, types)
  assert not types & {'RandomStandardNormal', 'TruncatedNormal'}, (name, types)
  limit = _glorot_limit(values.shape)
  assert np.abs(values).max() <= limit * (1 + 1e-6), name
  assert np.abs(values).max() >= 0.95 * limit, name  # fills the whole range
  assert values.var() == pytest.approx(limit ** 2 / 3., rel=0.15), name  # uniform variance
  assert abs(values.mean()) < 0.1 * limit, name


def test_codes_are_glorot_uniform(blog):
  """`slim.variable('codes', (N, 100))` with no initializer: get_variable's default."""
  _check_glorot_uniform(blog['graph'], 'codes', blog['initial']['codes'])


def test_decoder_filters_kernel_sizes_strides_and_padding(blog):
  graph = blog['graph']
  expected = {  # [k, k, out, in] of conv2d_transpose weights
      'deconv1': [4, 4, 256, 100], 'deconv2': [5, 5, 128, 256], 'deconv3': [5, 5, 64, 128],
      'deconv4': [5, 5, 64, 64], 'deconv5': [5, 5, 32, 64], 'deconv_out': [3, 3, 3, 32]}
  sides = {'deconv1': 4, 'deconv2': 8, 'deconv3': 16, 'deconv4': 32, 'deconv5': 64,
           'deconv_out': 128}
  with graph.as_default():
    weights = {v.op.name: v for v in tf.trainable_variables()
               if v.op.name.endswith('/weights')}
  assert sorted(weights) == ['decoder/%s/weights' % l for l in LAYERS]
  for layer in LAYERS:
    assert weights['decoder/%s/weights' % layer].get_shape().as_list() == expected[layer]
    (conv,) = _ops(graph, 'model_0/decoder/%s/' % layer, 'Conv2DBackpropInput')
    first = layer == 'deconv1'
    assert conv.get_attr('strides') == ([1, 1, 1, 1] if first else [1, 2, 2, 1])
    assert conv.get_attr('padding') == (b'VALID' if first else b'SAME')
    out = expected[layer][2]
    assert conv.outputs[0].get_shape().as_list() == [32, sides[layer], sides[layer], out]


def test_weights_are_xavier_glorot_uniform(blog):
  for layer in LAYERS:
    name = 'decoder/%s/weights' % layer
    _check_glorot_uniform(blog['graph'], name, blog['initial'][name])


def test_relu_after_batch_norm_and_tanh_output_without_batch_norm(blog):
  graph = blog['graph']
  for layer in LAYERS[:-1]:
    (relu,) = _ops(graph, 'model_0/decoder/%s/' % layer, 'Relu')
    assert relu.inputs[0].op.type == 'FusedBatchNormV3'
    assert relu.inputs[0].op.inputs[0].op.type == 'Conv2DBackpropInput'
    assert not _ops(graph, 'model_0/decoder/%s/' % layer, 'Elu')
    assert ('decoder/%s/biases' % layer) not in blog['initial']  # batch norm's beta instead
  (tanh,) = _ops(graph, 'model_0/decoder/deconv_out/', 'Tanh')
  assert tanh.outputs[0] is blog['model']['towers'][0]['reconstruction']
  assert tanh.inputs[0].op.type == 'BiasAdd'
  assert not _ops(graph, 'model_0/decoder/deconv_out/', 'FusedBatchNormV3')
  assert not _ops(graph, 'model_0/decoder/deconv_out/', 'Relu')
  assert np.all(blog['initial']['decoder/deconv_out/biases'] == 0)


def test_batch_norm_decay_099_scale_and_training_mode(blog):
  graph = blog['graph']
  for layer in LAYERS[:-1]:
    (fbn,) = _ops(graph, 'model_0/decoder/%s/' % layer, 'FusedBatchNormV3')
    assert fbn.get_attr('is_training')  # batch statistics while training
    gamma = blog['initial']['decoder/%s/BatchNorm/gamma' % layer]  # scale=True
    assert np.all(gamma == 1)
    decays = [op for op in _ops(graph, 'model_0/decoder/%s/BatchNorm/AssignMovingAvg' % layer,
                                'Const') if op.name.endswith('/decay')]
    assert len(decays) == 2  # mean and variance
    for op in decays:  # assign_moving_average stores 1 - decay
      assert tf.make_ndarray(op.get_attr('value')) == pytest.approx(1 - 0.99)
  # The generation summaries decode with the moving statistics (is_training=False).
  inference = [op for op in graph.get_operations() if op.type == 'FusedBatchNormV3' and
               op.name.startswith('generation_summaries/')]
  assert inference and not any(op.get_attr('is_training') for op in inference)
  # One real step: moving_mean <- 0.99 * moving_mean + 0.01 * batch mean, from zeros.
  assert np.all(blog['initial']['decoder/deconv2/BatchNorm/moving_mean'] == 0)
  np.testing.assert_allclose(blog['step']['moving_mean_after'],
                             0.01 * blog['step']['batch_mean'], rtol=1e-4, atol=1e-9)


def test_batch_norm_updates_are_in_the_train_op(blog):
  graph = blog['graph']
  updates = graph.get_collection(tf.GraphKeys.UPDATE_OPS)
  assert len(updates) == 2 * 5  # mean and variance of each batch-norm layer
  reached, todo = set(), [blog['model']['train_op']]
  while todo:
    op = todo.pop()
    if op.name in reached:
      continue
    reached.add(op.name)
    todo.extend(op.control_inputs)
    todo.extend(i.op for i in op.inputs if op.type == 'NoOp' or i.op.type == 'NoOp')
  for u in updates:
    u_op = getattr(u, 'op', u)
    assert u_op.name in reached, u_op.name


def test_projection_onto_the_sphere_in_the_forward_pass_only(blog):
  step, codes0 = blog['step'], blog['initial']['codes']
  z = codes0[step['index']]
  np.testing.assert_allclose(step['code'], z / np.linalg.norm(z, axis=1, keepdims=True),
                             rtol=1e-5, atol=1e-6)
  # The stored codes are never renormalised: nothing writes rows back but Adam.
  graph = blog['graph']
  assert not [op for op in graph.get_operations() if 'ScatterUpdate' in op.type]
  assert np.all(np.abs(np.linalg.norm(codes0, axis=1) - 1) > 1e-3)


def test_loss_is_mean_pairwise_squared_error(blog):
  graph = blog['graph']
  assert _ops(graph, 'model_0/loss_0/mean_pairwise_squared_error/', 'Sum')
  loss = blog['model']['loss']
  assert 'mean_pairwise_squared_error' in ' '.join(
      op.name for op in graph.get_operations()
      if op.name.startswith('model_0/loss_0/') and op in graph_ancestors(loss))


def test_one_adam_with_lr_1e3_default_betas_over_codes_and_decoder(blog):
  graph = blog['graph']
  opts = blog['model']['optimizers']
  assert opts['network'] is opts['codes'] and type(opts['codes']) is tf.train.AdamOptimizer
  applies = _ops(graph, 'Adam/', 'ResourceApplyAdam')
  with graph.as_default():
    decoder_vars = tf.trainable_variables('decoder')
  assert len(applies) == len(decoder_vars)
  for op in applies:
    lr, beta1, beta2, eps = [tf.make_ndarray(op.inputs[i].op.get_attr('value'))
                             for i in (5, 6, 7, 8)]
    assert (lr, beta1, beta2, eps) == pytest.approx((1e-3, 0.9, 0.999, 1e-8))
  assert _ops(graph, 'Adam/update_codes/', 'ResourceScatterAdd')  # the same Adam, sparse
  # colocate_gradients_with_ops=True: gradient ops sit with their forward op.
  grads = _ops(graph, 'gradients/model_0/decoder/deconv2/conv2d_transpose_grad/',
               'Conv2DBackpropFilter')
  assert grads and grads[0].colocation_groups() == [
      b'loc:@model_0/decoder/deconv2/conv2d_transpose']


def test_tower_and_variables_on_the_gpu_as_the_notebook_soft_placement(blog):
  graph = blog['graph']
  (conv,) = _ops(graph, 'model_0/decoder/deconv2/', 'Conv2DBackpropInput')
  assert conv.device.lower().endswith('gpu:0')
  with graph.as_default():
    for v in tf.global_variables():
      assert v.device.lower().endswith('gpu:0'), v.op.name
  assert devices.session_config(blog['cfg']).allow_soft_placement


def test_summary_and_checkpoint_cadence_max_to_keep_and_unbounded_steps(blog):
  by_type = {}
  for h in blog['hooks']:
    by_type.setdefault(type(h), []).append(h)
  (ckpt,) = by_type[tf.train.CheckpointSaverHook]
  assert ckpt._timer._secs == 600 and ckpt._timer._steps is None  # pylint: disable=protected-access
  saver = ckpt._saver  # pylint: disable=protected-access
  assert saver is blog['scaffold'].saver and saver._max_to_keep == 1  # pylint: disable=protected-access
  # The notebook's loss scalar was in the default collection, which the summary hook of
  # MonitoredTrainingSession wrote every 100 steps (its default): the scaffold's, as here.
  (scalars,) = by_type[tf.train.SummarySaverHook]
  assert scalars._timer._every_steps == 100  # pylint: disable=protected-access
  assert scalars._scaffold is blog['scaffold']  # pylint: disable=protected-access
  (images,) = by_type[hooks.ImageSummaryHook]
  # The notebook's own SummarySaverHook (key 'glo'): the four grids only, every 100 steps.
  assert images._timer._every_steps == 100  # pylint: disable=protected-access
  merged = images._summary_op  # pylint: disable=protected-access
  assert sorted(i.op.name for i in merged.op.inputs) == sorted(
      ['reconstruction', 'samples/sampled_unit', 'samples/sampled_fitted',
       'samples/interpolated'])
  (dumps,) = by_type[hooks.SaveImagesHook]  # SAVE_IMAGES_STEPS: JPEG grids every 30,000
  assert dumps._every == 30000 and not dumps._stretch  # pylint: disable=protected-access
  assert hooks.TextSummaryHook in by_type  # the `config` text summary
  assert tf.train.StopAtStepHook not in by_type  # unbounded, like the post
