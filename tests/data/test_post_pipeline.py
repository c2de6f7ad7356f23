"""The notebook's input pipeline on demand (--input_pipeline post), and what --deterministic
does to the default one: pairing, the notebook's queue graph, and the refusals."""
import collections
import os
import time

import pytest

from conftest import decode_index
from conftest import write_index_images
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import pipelines


def _paths(folder, n):
  return [os.path.join(folder, x) for x in write_index_images(folder, n, size=12)]


def _cfg(pipeline, **overrides):
  return settings.resolve('demo', dict({
      'input_pipeline': pipeline, 'image_size': 16, 'batch_size': 8, 'num_reader_threads': 1,
      'shuffle_capacity': 40, 'min_after_dequeue': 10}, **overrides))


def _run(batch_op, n_batches, pause=0.0):
  out = []
  with tf.train.MonitoredSession() as sess:  # starts the queue runners
    for i in range(n_batches):
      out.append(sess.run(batch_op))
      time.sleep(pause * (i % 3))  # lets the reader thread run ahead by varying amounts
  return out


@pytest.mark.parametrize('pipeline', ['fixed', 'post'])
def test_both_pipelines_pair_every_index_with_its_image_at_one_thread(tmp_path, pipeline):
  n, epochs = 40, 3
  paths = _paths(str(tmp_path), n)
  cfg = _cfg(pipeline)
  with tf.Graph().as_default():
    (batch,) = pipelines.tower_inputs(cfg, paths, 1)
    batches = _run(batch, n * epochs // cfg['batch_size'])
  seen = collections.Counter()
  for b in batches:
    assert b['image'].shape == (8, 16, 16, 3)
    for image, index in zip(b['image'], b['index']):
      assert decode_index(image) == index
      seen[int(index)] += 1
  assert set(seen) == set(range(n)) and sum(seen.values()) == n * epochs


def _queue_ops(graph, scope, op_type):
  return [op for op in graph.get_operations()
          if op.name.startswith(scope + '/') and op.type == op_type]


def test_post_pipeline_is_the_notebooks_queue_graph_one_copy_per_tower(tmp_path):
  """docs/reference/notebook-facts.md, "Input pipeline": an unshuffled range producer and an
  unshuffled filename producer (capacity 800 each), WholeFileReader, decode_jpeg,
  shuffle_batch(capacity=800, min_after_dequeue=100) with one thread; one copy per tower
  (defect 2, reproduced on purpose)."""
  paths = _paths(str(tmp_path), 10)
  cfg = settings.resolve('blog', {'input_pipeline': 'post', 'num_gpus': 2,
                                'tower_device': 'cpu', 'image_size': 16})
  assert cfg['num_reader_threads'] == 1  # the preset's 4 gives way to the post's one
  with tf.Graph().as_default() as graph:
    towers = pipelines.tower_inputs(cfg, paths, 2)
    runners = tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)
  assert len(towers) == 2
  for i in (1, 2):
    scope = 'inputs_%d' % i
    fifo = _queue_ops(graph, scope, 'FIFOQueueV2')
    assert len(fifo) == 2  # index producer and filename producer
    assert sorted(op.get_attr('capacity') for op in fifo) == [800, 800]
    assert not _queue_ops(graph, scope, 'RandomShuffle')  # neither producer shuffles
    assert len(_queue_ops(graph, scope, 'WholeFileReaderV2')) == 1
    assert len(_queue_ops(graph, scope, 'DecodeJpeg')) == 1
    (shuffle,) = _queue_ops(graph, scope, 'RandomShuffleQueueV2')
    assert shuffle.get_attr('capacity') == 800
    assert shuffle.get_attr('min_after_dequeue') == 100
    (runner,) = [r for r in runners if r.queue.name == shuffle.name]
    assert len(runner.enqueue_ops) == 1  # one reader thread
  assert towers[0]['index'].get_shape().as_list() == [cfg['batch_size']]


def test_post_pipeline_refuses_several_reader_threads_and_says_why():
  with pytest.raises(settings.ConfigError, match=r'--num_reader_threads.*two separate queues'
                     r'.*paired only with one reader thread'):
    settings.resolve('blog', {'input_pipeline': 'post', 'num_reader_threads': 4})


def test_deterministic_needs_one_reader_thread_and_the_fixed_pipeline():
  assert settings.resolve('blog', {'deterministic': True})['num_reader_threads'] == 1
  with pytest.raises(settings.ConfigError, match=r'--num_reader_threads.*one reader thread'):
    settings.resolve('blog', {'deterministic': True, 'num_reader_threads': 2})
  with pytest.raises(settings.ConfigError, match=r'--input_pipeline.*thread timing'):
    settings.resolve('blog', {'deterministic': True, 'input_pipeline': 'post'})


def test_deterministic_fixed_pipeline_gives_the_same_batches_whatever_the_timing(tmp_path):
  """A seeded shuffle_batch still depends on how far the reader got; the deterministic
  pipeline (seeded per-epoch shuffle, FIFO batches) does not, and still shuffles."""
  n = 24
  paths = _paths(str(tmp_path), n)
  cfg = _cfg('fixed', deterministic=True, seed=5)

  def order(pause):
    with tf.Graph().as_default():
      (batch,) = pipelines.tower_inputs(cfg, paths, 1)
      batches = _run(batch, 3 * n // 8, pause)
    for b in batches:
      assert [decode_index(im) for im in b['image']] == list(b['index'])
    return [int(i) for b in batches for i in b['index']]

  first = order(0.0)
  assert order(0.05) == first
  epochs = [first[k * n:(k + 1) * n] for k in range(3)]
  assert all(sorted(e) == list(range(n)) for e in epochs)  # whole epochs, in turn
  assert epochs[0] != list(range(n)) and epochs[0] != epochs[1]  # shuffled, reshuffled
