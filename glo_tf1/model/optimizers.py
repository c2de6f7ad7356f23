"""Optimizers of the decoder and of the codes, and the train op that applies them.

The blog preset runs the notebook's single `AdamOptimizer(1e-3)` over codes and decoder
(`minimize(..., colocate_gradients_with_ops=True)`). When the codes get another optimizer
family or learning rate (the paper: SGD, 1 for the network and 10 for the codes), the
gradients are split and each part goes to its own optimizer.

TF1 Adam applied to the gathered codes decays the moment slots of *every* row at each
step (defect 5): the step cost grows with the number of images and codes outside the batch
keep moving. `LazyAdamOptimizer` updates only the gathered rows.
"""
from glo_tf1.compat import tf
from glo_tf1.model import codes as codes_lib


def _unfolded_zeros(shape, dtype=tf.float32, partition_info=None):
  """Zeros of `shape`, from a fill value Grappler treats as unknown (it can be fed)."""
  del partition_info
  zero = tf.placeholder_with_default(tf.zeros([], dtype), [], name='zero')
  return tf.fill(shape, zero)


class LazyAdamOptimizer(tf.train.AdamOptimizer):
  """Adam whose sparse updates touch only the rows in the gradient.

  For rows in the batch it is Adam (same bias correction, from the optimizer's global
  beta powers); rows outside the batch keep their value and their m and v slots bit for
  bit. Duplicate indices are summed first (by the base class).
  """

  def _create_slots(self, var_list):
    """TF1 Adam's slots, zero-filled by an op Grappler cannot fold into a constant.

    With `tf.zeros`, Grappler folds each slot's initial value into a constant node that
    the session keeps for its lifetime (measured: one extra 400 MB table for 1M x 100
    codes), and the slots' first sparse access copies them. Then the memory that grows
    with N is exactly the codes, m and v.
    """
    first_var = min(var_list, key=lambda x: x.name)
    self._create_non_slot_variable(initial_value=self._beta1, name='beta1_power',
                                   colocate_with=first_var)
    self._create_non_slot_variable(initial_value=self._beta2, name='beta2_power',
                                   colocate_with=first_var)
    for v in var_list:
      for slot in ('m', 'v'):
        self._get_or_make_slot_with_initializer(v, _unfolded_zeros, v.get_shape(),
                                                v.dtype.base_dtype, slot, self._name)

  def _lazy_apply(self, grad, var, indices):
    beta1_power, beta2_power = self._get_beta_accumulators()
    dtype = var.dtype.base_dtype
    beta1_power = tf.cast(beta1_power, dtype)
    beta2_power = tf.cast(beta2_power, dtype)
    lr = tf.cast(self._lr_t, dtype) * tf.sqrt(1. - beta2_power) / (1. - beta1_power)
    beta1 = tf.cast(self._beta1_t, dtype)
    beta2 = tf.cast(self._beta2_t, dtype)
    eps = tf.cast(self._epsilon_t, dtype)
    m = self.get_slot(var, 'm')
    v = self.get_slot(var, 'v')
    m_rows = beta1 * tf.gather(m, indices) + (1. - beta1) * grad
    v_rows = beta2 * tf.gather(v, indices) + (1. - beta2) * tf.square(grad)
    m_update = tf.scatter_update(m, indices, m_rows)
    v_update = tf.scatter_update(v, indices, v_rows)
    with tf.control_dependencies([m_update, v_update]):
      var_update = tf.scatter_sub(var, indices, lr * m_rows / (tf.sqrt(v_rows) + eps))
    return tf.group(var_update, m_update, v_update)

  def _apply_sparse(self, grad, var):
    return self._lazy_apply(grad.values, var, grad.indices)

  def _resource_apply_sparse(self, grad, var, indices):
    return self._lazy_apply(grad, var, indices)


class UniqueRowsGradientDescentOptimizer(tf.train.GradientDescentOptimizer):
  """SGD whose sparse update first sums the rows of duplicate indices (Unique and
  UnsortedSegmentSum, as TF1 Adam does), so each row of the variable is written once.

  TF1 SGD scatter-adds every duplicate row; on a GPU those adds race, so op determinism
  makes TensorFlow copy the whole variable to the host and back for every scatter. With
  unique indices the GPU scatter is deterministic as it is, and compat.enable_op_determinism
  can keep it on the GPU (--deterministic with the variables on a GPU).
  """

  def _resource_apply_sparse_duplicate_indices(self, grad, handle, indices):
    return tf.train.Optimizer._resource_apply_sparse_duplicate_indices(  # dedup first
        self, grad, handle, indices)

  def _resource_apply_sparse(self, grad, handle, indices):
    return super()._resource_apply_sparse_duplicate_indices(grad, handle, indices)


# --optimizer and --codes_optimizer: name -> fn(learning_rate, unique_rows) returning a TF1
# optimizer whose sparse updates apply IndexedSlices row by row (never a dense (N, dims)
# gradient); with unique_rows its scatters write each row once (tests/model/
# test_registries.py checks both on every entry).
OPTIMIZERS = {
    'adam': lambda lr, unique_rows: tf.train.AdamOptimizer(learning_rate=lr),
    'lazy_adam': lambda lr, unique_rows: LazyAdamOptimizer(learning_rate=lr),
    'sgd': lambda lr, unique_rows: (UniqueRowsGradientDescentOptimizer if unique_rows else
                                    tf.train.GradientDescentOptimizer)(learning_rate=lr),
}


def make_optimizer(name, learning_rate, unique_rows=False):
  """OPTIMIZERS[name]: 'adam' (TF1 dense-slot Adam, default betas), 'lazy_adam' or 'sgd'.
  Adam and LazyAdam always sum duplicate rows first; SGD does with `unique_rows`."""
  if name not in OPTIMIZERS:
    raise ValueError('optimizer must be one of %s, got %r' % (', '.join(OPTIMIZERS), name))
  return OPTIMIZERS[name](learning_rate, unique_rows)


# Dynamic loss scaling for --precision=fp16, as TensorFlow's DynamicLossScale: start at
# 2**15, halve on a non-finite gradient (the step is skipped), double after 2000 good steps.
LOSS_SCALE_INITIAL = 2. ** 15
LOSS_SCALE_PERIOD = 2000


def _local(name, value):
  """A local variable: not checkpointed, so a run resumes with any --precision."""
  return tf.Variable(value, trainable=False, name=name,
                     collections=[tf.GraphKeys.LOCAL_VARIABLES])


def _unscale(grad, scale):
  """`grad` / `scale`, in float32 whatever Grappler's mixed precision does.

  Mul and RealDiv are in the CUDA rewrite's infer list (auto_mixed_precision_lists.h) and
  IsFinite in its clear list: after a float16 gradient (a decoder kernel's
  Conv2DBackpropFilter) they would run in float16, where every unscaled gradient below
  2**-24 flushes to 0, 1/scale is already subnormal at the initial 2**15, and 0 past 2**24
  (the finite check passes, the scale grows, the decoder stops learning). DivNoNan is in
  none of the rewrite's lists, so it stays float32, the rewrite casts its float16 input up
  first, and the IsFinite checks after it are float32 too. Exact with the power-of-two
  scales; tests/model/test_fp16_grappler.py checks the rewritten graphs.
  """
  if isinstance(grad, tf.IndexedSlices):
    return tf.IndexedSlices(tf.math.divide_no_nan(grad.values, scale), grad.indices,
                            grad.dense_shape)
  return tf.math.divide_no_nan(grad, scale)


def _all_finite(grads):
  return tf.reduce_all([tf.reduce_all(tf.is_finite(
      g.values if isinstance(g, tf.IndexedSlices) else g)) for g in grads])


def loss_scaled_train_op(loss, var_lists, opts, global_step):
  """Dynamic loss scaling (--precision=fp16): float16 gradients of a loss of about 1
  underflow, so the gradients are taken of loss x scale and divided by it again.

  Args:
    loss: the float32 loss.
    var_lists: one list of variables per optimizer in `opts`.
    opts: the optimizers (each applies the gradients of its own list).
    global_step: incremented by every step, skipped or not.
  Returns:
    (train_op, {'scale': the scale variable, 'finite': whether this step's gradients
    were finite and applied}).
  """
  with tf.name_scope('loss_scale'):
    scale = _local('loss_scale', LOSS_SCALE_INITIAL)
    good_steps = _local('good_steps', tf.constant(0, tf.int64))
  flat = [v for vs in var_lists for v in vs]
  grads = tf.gradients(loss * scale, flat, colocate_gradients_with_ops=True)
  with tf.name_scope('loss_scale/unscale'):
    grads = [_unscale(g, scale) for g in grads]
  finite = _all_finite(grads)

  def apply():
    ops, start = [], 0
    for opt, vs in zip(opts, var_lists):
      ops.append(opt.apply_gradients(list(zip(grads[start:start + len(vs)], vs))))
      start += len(vs)
    return tf.group(*ops)

  applied = tf.cond(finite, apply, tf.no_op)  # slots are made outside (init_scope)
  with tf.control_dependencies([applied]):
    grown = tf.equal(good_steps + 1, LOSS_SCALE_PERIOD)
    new_scale = tf.where(finite, tf.where(grown, scale * 2., scale), scale / 2.)
    new_good = tf.where(tf.logical_and(finite, tf.logical_not(grown)), good_steps + 1,
                        tf.zeros_like(good_steps))
    update = tf.group(scale.assign(new_scale), good_steps.assign(new_good),
                      global_step.assign_add(1))
  return update, {'scale': scale, 'finite': finite}


def train_op(loss, codes, network_vars, cfg, global_step, unique_rows=False):
  """Minimises `loss` over the codes and the network per `cfg`; increments global_step.

  `codes` may be partitioned (cluster.py): each row block is its own variable with its
  own slots, and gets its own sparse gradient. With `precision: fp16` the gradients are
  loss-scaled (loss_scaled_train_op). `unique_rows`: every scatter writes each row once
  (deploy/devices.unique_scatter_rows decides: --deterministic with the variables on a GPU).

  Returns:
    (train_op, {'network': optimizer, 'codes': optimizer}) - the same object twice when a
    single optimizer serves both (the notebook's case).
  """
  blocks = codes_lib.parts(codes)
  make = lambda name, lr: make_optimizer(name, lr, unique_rows)
  same = (cfg['optimizer'] == cfg['codes_optimizer'] and
          cfg['learning_rate'] == cfg['codes_learning_rate'])
  if cfg['precision'] == 'fp16':
    # Learning rates made here: an optimizer's own tensor would be made inside the cond of
    # loss_scaled_train_op, where the learning-rate summary cannot read it.
    net_opt = make(cfg['optimizer'], tf.constant(cfg['learning_rate'], name='learning_rate'))
    if same:
      op, _ = loss_scaled_train_op(loss, [blocks + list(network_vars)], [net_opt],
                                   global_step)
      return op, {'network': net_opt, 'codes': net_opt}
    codes_opt = make(cfg['codes_optimizer'], tf.constant(
        cfg['codes_learning_rate'], name='codes_learning_rate'))
    op, _ = loss_scaled_train_op(loss, [list(network_vars), blocks], [net_opt, codes_opt],
                                 global_step)
    return op, {'network': net_opt, 'codes': codes_opt}
  if same:
    opt = make(cfg['optimizer'], cfg['learning_rate'])
    op = opt.minimize(loss, global_step=global_step, var_list=blocks + list(network_vars),
                      colocate_gradients_with_ops=True)
    return op, {'network': opt, 'codes': opt}
  net_opt = make(cfg['optimizer'], cfg['learning_rate'])
  codes_opt = make(cfg['codes_optimizer'], cfg['codes_learning_rate'])
  grads = tf.gradients(loss, blocks + list(network_vars),
                       colocate_gradients_with_ops=True)
  net_op = net_opt.apply_gradients(list(zip(grads[len(blocks):], network_vars)),
                                   global_step=global_step)
  codes_op = codes_opt.apply_gradients(list(zip(grads[:len(blocks)], blocks)))
  return tf.group(net_op, codes_op), {'network': net_opt, 'codes': codes_opt}
