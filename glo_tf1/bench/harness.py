"""The timing harness of every benchmark mode: the sizes (FULL, QUICK), the benchmark's
config, sessions set up as training sets them up, synthetic in-memory inputs, and timed
runs (medians of repeats after warm-up; alternating rounds, so that load from other
processes hits the compared sizes alike)."""
import os
import platform
import statistics
import time

import numpy as np

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.compat import TF_VERSION
from glo_tf1.data import cache as cache_lib
from glo_tf1.data import pipelines
from glo_tf1.deploy import devices
from glo_tf1.model import towers

# The default sizes are the blog's (128 px, the notebook's decoder; batch 64, one tower on
# the CPU) and take a few minutes on 2 cores; QUICK shrinks everything for a smoke test.
FULL = {
    'image_size': 128, 'batch_size': 64, 'decoder_filters': [256, 128, 64, 64, 32],
    'kernel_size': 5, 'latent_dims': 100, 'num_files': 1024, 'file_shape': (218, 178),
    'num_codes': [1000, 100000, 1000000], 'matmul_n': 2048,
    'warmup': 3, 'repeats': 5, 'steps': 3, 'pipeline_batches': 6, 'preset_steps': 10,
    'memory_optimizers': ['adam', 'lazy_adam', 'sgd'],
}
QUICK = {
    'image_size': 32, 'batch_size': 16, 'decoder_filters': [64, 32, 16],
    'kernel_size': 5, 'latent_dims': 32, 'num_files': 64, 'file_shape': (54, 44),
    'num_codes': [1000, 100000], 'matmul_n': 256,
    'warmup': 1, 'repeats': 2, 'steps': 2, 'pipeline_batches': 2, 'preset_steps': 1,
    'memory_optimizers': ['lazy_adam'], 'placement_codes': 1000,
    # A shuffle buffer of a few batches: every timing drains it first (drained), and the
    # blog's 800 images made most of a smoke test's time.
    'shuffle_capacity': 64, 'min_after_dequeue': 16,
}


def recorded_settings(s, **extra):
  """The sizes `s` as a report records them (JSON: the file shape as a list)."""
  return dict(s, file_shape=list(s['file_shape']), **extra)


def session(uses_cache=False, cfg=None):
  """A session of the default graph, started; with a training `cfg`, configured as
  training configures it (devices.session_config: CPU towers, cache, precision)."""
  if cfg is not None:
    conf = devices.session_config(cfg.replace(input_cache='auto' if uses_cache else 'off'))
  else:
    conf = tf.ConfigProto(allow_soft_placement=True)
    if uses_cache:
      cache_lib.configure_session(conf)
  init = [tf.global_variables_initializer(), tf.local_variables_initializer()]
  tf.get_default_graph().finalize()  # a timed step must not add ops
  sess = tf.Session(config=conf)
  sess.run(init)
  coord = tf.train.Coordinator()
  threads = tf.train.start_queue_runners(sess, coord)
  return sess, coord, threads


def close(sess, coord, threads, model=None):  # pylint: disable=unused-argument
  """Stops the queue runners of session()/training_session() and closes the session."""
  coord.request_stop()
  coord.join(threads, stop_grace_period_secs=10, ignore_live_threads=True)
  sess.close()


def seconds_per_run(sess, op, runs):
  """Mean seconds of `runs` runs of `op`."""
  start = time.perf_counter()
  for _ in range(runs):
    sess.run(op)
  return (time.perf_counter() - start) / runs


def median_seconds(sess, op, s):
  """Seconds per run of `op`: the median of s['repeats'] timings after s['warmup'] runs."""
  for _ in range(s['warmup']):
    sess.run(op)
  return statistics.median(seconds_per_run(sess, op, s['steps'])
                           for _ in range(s['repeats']))


def matmul_peak_gflops(n, repeats=5):
  """float32 matmul GFLOP/s (2 n^3 per product), four products per run, median of runs."""
  with tf.Graph().as_default():
    rng = np.random.RandomState(0)
    b = tf.Variable(rng.rand(n, n).astype(np.float32))
    a = [tf.Variable(rng.rand(n, n).astype(np.float32)) for _ in range(4)]
    # Fetch every product's sum: with only control dependencies (tf.group), Grappler
    # prunes the products and the "peak" is the session overhead.
    op = tf.add_n([tf.reduce_sum(tf.matmul(x, b)) for x in a])
    sess, coord, threads = session()
    sess.run(op)
    t = statistics.median(seconds_per_run(sess, op, 2) for _ in range(repeats))
    close(sess, coord, threads)
  return 4 * 2. * n ** 3 / t / 1e9


def bench_config(s, **overrides):
  """The blog preset at the benchmark's sizes: one tower of batch_size on the CPU."""
  values = {k: s[k] for k in ('image_size', 'batch_size', 'decoder_filters', 'kernel_size',
                              'latent_dims', 'shuffle_capacity', 'min_after_dequeue')
            if k in s}  # FULL: the blog's shuffle buffer
  values.update(tower_device='cpu', num_gpus=1)
  values.update(overrides)
  return settings.resolve('blog', values)


def synthetic_inputs(cfg, num_codes):
  """Images held in memory (a local variable) and random indices: no pipeline cost. One
  batch per tower."""
  b, size = cfg['batch_size'], cfg['image_size']
  out = []
  for i in range(cfg['num_gpus']):
    images = tf.Variable(tf.random_uniform([b, size, size, cfg['channels']], -1., 1.,
                                           seed=1 + 2 * i),
                         trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES],
                         name='bench_images_%d' % i)
    index = tf.random_uniform([b], 0, num_codes, dtype=tf.int32, seed=2 + 2 * i)
    out.append({'image': images.read_value(), 'index': index})
  return out


def training_session(cfg, num_codes, paths=None, cache_file=None):
  """A training graph and its running session, configured as training does (towers,
  precision); inputs synthetic unless paths given."""
  graph = tf.Graph()
  with graph.as_default():
    if paths is None:
      tower_in = synthetic_inputs(cfg, num_codes)
    else:
      tower_in = pipelines.tower_inputs(cfg, paths, cfg['num_gpus'], cache=cache_file)
    model = towers.build_training_graph(cfg, tower_in, num_codes, devices.deployment(cfg))
    model['scalar_summary'] = tf.summary.merge_all()
    sess, coord, threads = session(uses_cache=cache_file is not None, cfg=cfg)
  return model['train_op'], (sess, coord, threads, model)


def drained(s, cfg, images_per_step):
  """The sizes `s` with enough more warm-up steps to empty `cfg`'s shuffle buffer once (a
  pipeline's buffer is seconds of work done ahead: timing it full would flatter it)."""
  return dict(s, warmup=s['warmup'] + -(-cfg['shuffle_capacity'] // images_per_step))


def alternating(sessions, s):
  """Seconds per step of each (op, handles), timed in alternating rounds after warm-up."""
  for op, handles in sessions:
    for _ in range(s['warmup']):
      handles[0].run(op)
  times = [[] for _ in sessions]
  for _ in range(s['repeats']):
    for t, (op, handles) in zip(times, sessions):
      t.append(seconds_per_run(handles[0], op, s['steps']))
  return [statistics.median(t) for t in times]


def pipeline_images_per_sec(batch, batch_size, s, uses_cache=False, drain_images=0):
  """Images/s of a pipeline alone: dequeue batches (no copy back to Python)."""
  op = batch['index'][0] + tf.cast(batch['image'][0, 0, 0, 0], tf.int32)
  sess, coord, threads = session(uses_cache)  # in the pipeline's graph
  for _ in range(-(-drain_images // batch_size) + 2):  # empty what was buffered
    sess.run(op)
  t = statistics.median(seconds_per_run(sess, op, s['pipeline_batches'])
                        for _ in range(s['repeats']))
  close(sess, coord, threads)
  return batch_size / t




def machine():
  """What a report says of the machine that measured it."""
  return {'cpus': os.cpu_count(), 'platform': platform.platform(), 'processor': _cpu_name(),
          'tensorflow': TF_VERSION}


def _cpu_name():
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or 'unknown'
