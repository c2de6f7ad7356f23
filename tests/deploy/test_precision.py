"""--precision: where each precision may run (refused with the reason elsewhere), the
Grappler rewrite each switches on, the bf16 rewrite keeps every variable and the loss in
float32, and fp16's dynamic loss scaling (exact with power-of-two scales, skips a step
whose gradients overflow, grows after a period of good steps)."""
import numpy as np
import pytest

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.deploy import devices
from glo_tf1.deploy import precision
from glo_tf1.model import optimizers
from glo_tf1.model import towers

SMALL = dict(image_size=16, latent_dims=8, decoder_filters=[16, 8], tower_device='cpu')
NATIVE_BF16 = bool(precision.cpu_flags() & set(precision.NATIVE_BF16_FEATURES))


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
  path = tmp_path / 'cpuinfo'
  path.write_text('processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n'
                  'bogomips\t: 1.0\n')
  assert precision.cpu_flags(str(path)) == {'fpu', 'sse', 'avx512f', 'avx512_bf16',
                                            'amx_tile'}
  assert precision.cpu_flags(str(tmp_path / 'missing')) == set()


@pytest.mark.parametrize('prec,on_gpu,flags,caps,refused', [
    ('fp32', False, set(), (), None),
    ('fp32', True, set(), ((6, 0),), None),
    ('bf16', False, {'avx512f', 'avx512_bf16'}, (), None),
    ('bf16', False, {'avx512f', 'amx_bf16'}, (), None),
    ('bf16', False, {'avx512f', 'avx2'}, (), 'no native bf16 instructions'),
    ('bf16', True, {'amx_bf16'}, ((9, 0),), 'bfloat16 on CPUs only'),
    ('fp16', False, {'amx_bf16'}, (), 'no fast float16'),
    ('fp16', True, set(), ((8, 0), (7, 0)), None),
    ('fp16', True, set(), ((8, 0), (6, 1)), 'compute capability 6.1'),
])
def test_each_precision_runs_only_where_the_hardware_does_it(prec, on_gpu, flags, caps,
                                                             refused):
  if refused is None:
    precision.check(prec, on_gpu, flags, caps)
  else:
    with pytest.raises(precision.PrecisionError, match=refused) as e:
      precision.check(prec, on_gpu, flags, caps)
    assert '--precision=%s' % prec in str(e.value)
    assert isinstance(e.value, settings.UserError)  # exit status 2, message printed


def test_each_precision_switches_on_its_rewrite_only():
  def options(prec, on_gpu):
    o = precision.configure_session(tf.ConfigProto(), prec, on_gpu).graph_options
    o = o.rewrite_options
    return (o.auto_mixed_precision_onednn_bfloat16, o.auto_mixed_precision)
  on, off = 1, 0  # RewriterConfig.ON; DEFAULT (the float32 graph)
  assert options('fp32', False) == options('fp32', True) == (off, off)
  assert options('bf16', False) == (on, off)
  assert options('fp16', True) == (off, on)
  assert settings.BLOG['precision'] == 'fp32' and 'precision' not in settings.FIXED_ON_RESUME


def _graph(cfg, num_codes=12, batch=4):
  rng = np.random.RandomState(0)
  images = tf.constant(rng.uniform(-1, 1, (batch, 16, 16, 3)).astype(np.float32))
  index = tf.constant(np.arange(batch, dtype=np.int32) * 2)
  cfg = dict(cfg, batch_size=batch)
  return towers.build_training_graph(cfg, [{'image': images, 'index': index}], num_codes,
                                     devices.deployment(cfg))


def _run(cfg, steps, values=None, before_step=None):
  """Variables after `steps` steps from `values`; also the local (loss-scale) ones."""
  with tf.Graph().as_default():
    model = _graph(cfg)
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
      if values is not None:
        for v in tf.global_variables():
          v.load(values[v.op.name], sess)
      for _ in range(steps):
        if before_step:
          before_step(sess)
        sess.run(model['train_op'])
      out = {v.op.name: sess.run(v) for v in tf.global_variables()}
      local = {v.op.name: sess.run(v) for v in tf.local_variables()}
  return out, local


@pytest.mark.parametrize('codes_optimizer,codes_lr', [('adam', 1e-3), ('lazy_adam', 1e-2)])
def test_loss_scaling_with_a_power_of_two_scale_changes_nothing(codes_optimizer, codes_lr):
  """Built on the CPU without the float16 rewrite, an fp16 graph is the float32 graph with
  the gradients multiplied and divided by 2**15: exact, so every variable (codes, decoder,
  Adam slots, batch-norm statistics, global step) ends where fp32's does."""
  cfg = settings.resolve('demo', dict(SMALL, codes_optimizer=codes_optimizer,
                                      codes_learning_rate=codes_lr))
  start, _ = _run(cfg, 0)
  fp32, _ = _run(cfg, 3, start)
  fp16, local = _run(dict(cfg, precision='fp16'), 3, start)
  assert sorted(fp16) == sorted(fp32)  # the scale is no global variable: not checkpointed
  for name in fp32:
    np.testing.assert_allclose(fp16[name], fp32[name], rtol=1e-6, atol=1e-7, err_msg=name)
  assert fp32['global_step'] == 3
  assert local['loss_scale/loss_scale'] == optimizers.LOSS_SCALE_INITIAL
  assert local['loss_scale/good_steps'] == 3


def test_an_overflowing_step_is_skipped_and_halves_the_scale():
  """loss = sum(x * tanh(w)) with x = 2e34: at the first scale, 2**15, the scaled gradient
  reaching tanh, x * scale (6.6e38), overflows float32; the step is skipped (w and Adam's
  slots and beta powers untouched) and the scale halves; at 2**14 (3.3e38) the next step
  is applied. (tanh keeps Grappler from multiplying by 1/scale before the overflow.)"""
  with tf.Graph().as_default():
    w = tf.Variable([1., 2.], name='w')
    x = tf.constant([2e34, -2e34])
    step = tf.train.get_or_create_global_step()
    opt = optimizers.make_optimizer('adam', tf.constant(0.1))
    op, state = optimizers.loss_scaled_train_op(tf.reduce_sum(x * tf.tanh(w)), [[w]], [opt],
                                                step)
    with tf.Session() as sess:
      sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
      before = {v.op.name: sess.run(v) for v in tf.global_variables()}
      finite = sess.run([state['finite'], op])[0]
      skipped = {v.op.name: sess.run(v) for v in tf.global_variables()}
      assert not finite and sess.run(state['scale']) == 2. ** 14
      finite = sess.run([state['finite'], op])[0]
      assert finite and sess.run(state['scale']) == 2. ** 14
      applied = {v.op.name: sess.run(v) for v in tf.global_variables()}
  for name in before:
    if name != 'global_step':
      np.testing.assert_array_equal(skipped[name], before[name], err_msg=name)
  assert skipped['global_step'] == 1  # a skipped step is still a step
  # Applied: Adam's beta powers advanced once (0.9 -> 0.81), its first moment moved.
  np.testing.assert_allclose(applied['beta1_power'], 0.9 ** 2, rtol=1e-6)
  assert applied['global_step'] == 2 and np.all(applied['w/Adam'] != 0)


def test_the_scale_doubles_after_a_period_of_good_steps():
  cfg = dict(settings.resolve('demo', SMALL), precision='fp16')

  def almost_a_period(sess):
    (good,) = [v for v in tf.local_variables() if v.op.name == 'loss_scale/good_steps']
    good.load(optimizers.LOSS_SCALE_PERIOD - 1, sess)

  _, local = _run(cfg, 1, before_step=almost_a_period)
  assert local['loss_scale/loss_scale'] == 2 * optimizers.LOSS_SCALE_INITIAL
  assert local['loss_scale/good_steps'] == 0


@pytest.mark.skipif(not NATIVE_BF16, reason='this CPU has no native bf16 instructions '
                    '(avx512_bf16 or amx_bf16): --precision=bf16 is refused here')
def test_bf16_rewrite_runs_the_decoder_in_bfloat16_and_keeps_state_in_float32():
  """The graphs the session really runs (after Grappler): the decoder's transpose
  convolutions and their gradients are bfloat16; every variable, the batch-norm
  statistics, the optimizer's updates and the loss stay float32."""
  from tensorflow.core.framework import types_pb2  # pylint: disable=import-outside-toplevel
  cfg = settings.resolve('demo', dict(SMALL, precision='bf16'))
  with tf.Graph().as_default():
    model = _graph(cfg)
    conf = precision.configure_session(tf.ConfigProto(), 'bf16', on_gpu=False)
    with tf.Session(config=conf) as sess:
      sess.run(tf.global_variables_initializer())
      meta = tf.RunMetadata()
      loss, _ = sess.run([model['loss'], model['train_op']], run_metadata=meta,
                         options=tf.RunOptions(output_partition_graphs=True))
  nodes = [n for g in meta.partition_graphs for n in g.node]

  def dtype(node, attr):
    return node.attr[attr].type if attr in node.attr else None

  convs = [n for n in nodes if 'Conv2D' in n.op]  # oneDNN's _MklNativeConv2D... kernels
  assert convs and all(dtype(n, 'T') == types_pb2.DT_BFLOAT16 for n in convs), \
      [(n.name, dtype(n, 'T')) for n in convs]
  assert [n for n in nodes if n.op == 'Cast' and dtype(n, 'DstT') == types_pb2.DT_BFLOAT16]
  variables = [n for n in nodes if n.op == 'VarHandleOp']
  assert variables and all(dtype(n, 'dtype') in (types_pb2.DT_FLOAT, types_pb2.DT_INT64)
                           for n in variables)  # the global step is int64
  updates = [n for n in nodes if n.op.startswith('ResourceApply') or
             n.op.startswith('ResourceScatter') or n.op == 'AssignSubVariableOp']
  assert updates and all(dtype(n, 'T') in (types_pb2.DT_FLOAT, None) for n in updates)
  bn = [n for n in nodes if 'FusedBatchNorm' in n.op]
  assert bn and all(dtype(n, 'U') == types_pb2.DT_FLOAT for n in bn)  # the statistics
  total = [n for n in nodes if n.name.startswith('total_loss/')]
  assert total and all(dtype(n, 'T') in (types_pb2.DT_FLOAT, None) for n in total)
  assert isinstance(loss, np.float32) and np.isfinite(loss)
