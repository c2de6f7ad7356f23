"""Codes optimizers: lazy Adam and SGD touch only the batch's rows; TF1 Adam touches all.

Checked against a numpy reference of lazy Adam (duplicate indices summed, bias correction
from the global step count, as TF1 Adam does), on resource and on reference variables.
"""
import numpy as np
import pytest

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.model import optimizers

N, D = 12, 5
LR = 0.05
# TF1 Adam's defaults as the float32 constants it computes with (1 - 0.999 in float32 is
# 1.3e-5 away, relatively, from 0.001).
B1, B2, EPS = float(np.float32(0.9)), float(np.float32(0.999)), 1e-8


def _run_steps(name, steps, use_resource, lr=LR):
  """Applies `make_optimizer(name)` for each (indices, row gradients) in `steps` to a
  codes table whose loss is sum(gather(codes, idx) * g), so the gradient is exactly g
  (an IndexedSlices, duplicates included). Returns [(codes, m, v)] after each step
  (m, v None for sgd) and the initial table."""
  rng = np.random.RandomState(0)
  init = rng.randn(N, D).astype(np.float32)
  out = []
  with tf.Graph().as_default():
    codes = tf.get_variable('codes', initializer=init, use_resource=use_resource)
    idx = tf.placeholder(tf.int32, [None])
    g = tf.placeholder(tf.float32, [None, D])
    loss = tf.reduce_sum(tf.gather(codes, idx) * g)
    opt = optimizers.make_optimizer(name, lr)
    op = opt.minimize(loss, var_list=[codes])
    slots = [opt.get_slot(codes, s) for s in ('m', 'v')] if name != 'sgd' else []
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for indices, grads in steps:
        sess.run(op, {idx: indices, g: grads})
        vals = sess.run([codes] + slots)
        out.append((vals[0], vals[1] if slots else None, vals[2] if slots else None))
  return init, out


def _lazy_adam_reference(init, steps, lr=LR):
  var = init.astype(np.float64)
  m = np.zeros_like(var)
  v = np.zeros_like(var)
  out = []
  for t, (indices, grads) in enumerate(steps, 1):
    summed = {}
    for i, row in zip(indices, grads):
      summed[i] = summed.get(i, 0.) + row.astype(np.float64)
    lr_t = lr * np.sqrt(1. - B2 ** t) / (1. - B1 ** t)
    for i, gi in summed.items():
      m[i] = B1 * m[i] + (1. - B1) * gi
      v[i] = B2 * v[i] + (1. - B2) * gi * gi
      var[i] -= lr_t * m[i] / (np.sqrt(v[i]) + EPS)
    out.append((var.copy(), m.copy(), v.copy()))
  return out


def _steps():
  rng = np.random.RandomState(1)
  batches = [[3, 7, 3, 0], [7, 8, 8, 8], [1, 3]]  # duplicates within a batch, rows shared
  return [(b, rng.randn(len(b), D).astype(np.float32)) for b in batches]


@pytest.mark.parametrize('use_resource', [True, False])
def test_lazy_adam_matches_numpy_and_leaves_other_rows_bit_identical(use_resource):
  steps = _steps()
  init, got = _run_steps('lazy_adam', steps, use_resource)
  want = _lazy_adam_reference(init, steps)
  touched = set()
  prev = (init, np.zeros_like(init), np.zeros_like(init))
  for (indices, _), (var, m, v), (rvar, rm, rv) in zip(steps, got, want):
    touched |= set(indices)
    rows = sorted(set(indices))
    np.testing.assert_allclose(var[rows], rvar[rows], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m[rows], rm[rows], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v[rows], rv[rows], rtol=1e-5, atol=1e-9)
    others = [i for i in range(N) if i not in indices]
    for new, old in zip((var, m, v), prev):  # rows outside this batch: bit for bit
      assert np.array_equal(new[others], old[others])
    prev = (var, m, v)
  never = [i for i in range(N) if i not in touched]
  assert never and np.array_equal(got[-1][0][never], init[never])
  assert not np.any(got[-1][1][never]) and not np.any(got[-1][2][never])


def test_dense_tf1_adam_moves_rows_outside_the_batch():
  """The post's optimizer (defect 5): after row 0 has a moment, a step on other rows
  decays its slot and moves its code."""
  steps = [([0, 1], np.ones((2, D), np.float32)), ([5, 6], np.ones((2, D), np.float32))]
  init, got = _run_steps('adam', steps, use_resource=True)
  (_, m1, _), (var2, m2, _) = got
  assert not np.array_equal(var2[0], got[0][0][0])           # row 0 moved at step 2
  np.testing.assert_allclose(m2[0], B1 * m1[0], rtol=1e-6)   # and its slot decayed
  assert np.array_equal(var2[9], init[9])  # never-seen rows: m = 0, so no move


@pytest.mark.parametrize('use_resource', [True, False])
def test_sgd_touches_only_batch_rows(use_resource):
  steps = _steps()
  init, got = _run_steps('sgd', steps, use_resource, lr=0.5)
  want = init.astype(np.float64)
  prev = init
  for (indices, grads), (var, _, _) in zip(steps, got):
    for i, row in zip(indices, grads):
      want[i] -= 0.5 * row
    np.testing.assert_allclose(var, want, rtol=1e-6, atol=1e-6)
    others = [i for i in range(N) if i not in indices]
    assert np.array_equal(var[others], prev[others])
    prev = var


def test_train_op_gives_codes_their_own_optimizer():
  """codes_optimizer=lazy_adam, optimizer=adam: the network gets dense Adam, the codes
  lazy Adam at codes_learning_rate; untouched code rows stay put, slots included."""
  cfg = settings.resolve('demo', {'optimizer': 'adam', 'codes_optimizer': 'lazy_adam',
                                  'learning_rate': 1e-3, 'codes_learning_rate': 0.1})
  with tf.Graph().as_default():
    codes = tf.get_variable('codes', initializer=np.ones((N, D), np.float32))
    with tf.variable_scope('decoder'):
      w = tf.get_variable('w', initializer=np.ones((D,), np.float32))
    loss = tf.reduce_sum(tf.gather(codes, [2, 4]) * w)
    step = tf.train.get_or_create_global_step()
    op, opts = optimizers.train_op(loss, codes, [w], cfg, step)
    assert isinstance(opts['codes'], optimizers.LazyAdamOptimizer)
    assert type(opts['network']) is tf.train.AdamOptimizer  # pylint: disable=unidiomatic-typecheck
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(op)
      c, wv, s = sess.run([codes, w, step])
  assert s == 1
  # First Adam step moves each touched coordinate by the learning rate (sign of grad).
  np.testing.assert_allclose(c[[2, 4]], 1. - 0.1, rtol=1e-4)
  np.testing.assert_allclose(wv, 1. - 1e-3, rtol=1e-4)
  assert np.array_equal(c[[0, 1, 3] + list(range(5, N))], np.ones((N - 2, D), np.float32))
