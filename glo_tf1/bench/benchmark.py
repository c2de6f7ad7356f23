r"""Benchmark: where a training step's time goes, and whether it grows with the data.

  glo-bench [--quick] [--out bench.json]      (or: bash reproduce/bench.sh)

Prints a table and writes it as JSON:
  * matmul peak: float32 GFLOP/s of a 2048 x 2048 matmul, measured in this run;
  * decoder only: training images/s of the decoder with its codes, no input pipeline
    (images in memory), the GFLOP/s that achieves (`decoder_flops`, counted from the
    built decoder graph) and its fraction of the matmul peak;
  * input pipeline alone: images/s from JPEG files through the queue pipeline at 1, 2 and
    4 reader threads, building the decoded-image cache, and reading it (cache.py);
  * training step with the real pipeline (JPEG files, and the cache): images/s and their
    fraction of the decoder-only figure;
  * step time with 1k, 100k and 1M codes for each codes optimizer (adam, lazy_adam, sgd);
  * peak resident memory with 1k and 1M codes (one subprocess each, `ru_maxrss`), beside
    the bytes of the codes table and its optimizer slots;
  * --precision: bf16 against fp32, decoder only and the full training step, in
    alternating rounds, and their ratio (target: the step with the cache >= 1.4x fp32's
    on a CPU with native bf16), or why bf16 was not measured.
`--mode precision` runs the last comparison alone; `--mode towers` measures training
images/s for 1 ... K towers (GPUs, or CPU towers), with and without the cache, for each
precision the towers can run (reproduce/gpu_check.sh). `--mode placement` predicts, without
a GPU, where TensorFlow places each GPU preset's real training graph (deploy/placement.py)
with every --variable_device, measures on this CPU the host time of the updates a
placement leaves on the host, and compares the input pipelines' rate per reader thread with
the rate a GPU step needs (an estimate from the step's FLOPs and a stated GPU throughput).
Every figure is the median of several timed repeats after warm-up steps; the sizes of a
comparison are timed in alternating rounds so that load from other processes hits them
alike. The default sizes are the blog's (128 px, the notebook's decoder; batch 64, one
tower on the CPU) and take a few minutes on 2 cores; `--quick` shrinks everything for a CI
smoke test. The JPEG files are synthetic, CelebA-sized (178 x 218) faces written to a
temporary folder (the embedded LFW faces upscaled, tinted and with sensor-like noise).
"""
import collections
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.compat import TF_VERSION
from glo_tf1.data import cache as cache_lib
from glo_tf1.data import celeba
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.data import prepare
from glo_tf1.deploy import devices
from glo_tf1.deploy import placement
from glo_tf1.deploy import precision as precision_lib
from glo_tf1.model import decoders
from glo_tf1.model import towers
from glo_tf1.training import input_cache
from glo_tf1.training import loop

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
}
CODES_OPTIMIZERS = ('adam', 'lazy_adam', 'sgd')
JPEG_THREADS = (1, 2, 4)
CACHE_THREADS = (1, 2)


# ----------------------------------------------------------------------------- FLOPs


def graph_flops(ops):
  """Forward FLOPs (2 per multiply-add) of the convolutions and matmuls among `ops`, from
  their static shapes. A transpose convolution (Conv2DBackpropInput; filter [k, k, out,
  in]) spreads each of its h * w * in input values over a k x k window of every output
  channel: h * w * in * k * k * out multiply-adds, zero padding included, as usual; a
  Conv2D costs out_h * out_w * k * k * in * out; a MatMul [m, n] x [n, p] m * n * p. Batch
  norm, ReLU, tanh, the loss and the optimizers are elementwise, under 1% at the blog's
  size, and left out."""
  total = 0
  for op in ops:
    if op.type == 'Conv2DBackpropInput':
      k_h, k_w, c_out, c_in = op.inputs[1].shape.as_list()
      n, h, w, _ = op.inputs[2].shape.as_list()
      total += 2 * n * h * w * c_in * k_h * k_w * c_out
    elif op.type == 'Conv2D':
      k_h, k_w, c_in, c_out = op.inputs[1].shape.as_list()
      n, h, w, _ = op.outputs[0].shape.as_list()
      total += 2 * n * h * w * k_h * k_w * c_in * c_out
    elif op.type == 'MatMul':
      a, b = (t.shape.as_list() for t in op.inputs)
      m, k = a[::-1] if op.get_attr('transpose_a') else a
      p = b[0] if op.get_attr('transpose_b') else b[1]
      total += 2 * m * k * p
  return total


def decoder_flops(cfg):
  """Forward FLOPs of the decoder of `cfg` for one image, counted from the graph that
  model/decoders/ builds: any registered decoder is counted as it is."""
  with tf.Graph().as_default() as graph:
    decoders.decode(tf.zeros([1, cfg['latent_dims']]), cfg, is_training=True)
    return graph_flops(graph.get_operations())


def training_flops_per_image(cfg):
  """Training costs 3x the forward pass: forward, the gradient with respect to the inputs
  and with respect to the weights, each the same multiply-adds."""
  return 3 * decoder_flops(cfg)


# ----------------------------------------------------------------------------- timing


def _session(uses_cache=False, cfg=None):
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


def _close(sess, coord, threads, model=None):  # pylint: disable=unused-argument
  coord.request_stop()
  coord.join(threads, stop_grace_period_secs=10, ignore_live_threads=True)
  sess.close()


def _seconds_per_run(sess, op, runs):
  start = time.perf_counter()
  for _ in range(runs):
    sess.run(op)
  return (time.perf_counter() - start) / runs


def _median_seconds(sess, op, s):
  for _ in range(s['warmup']):
    sess.run(op)
  return statistics.median(_seconds_per_run(sess, op, s['steps'])
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
    sess, coord, threads = _session()
    sess.run(op)
    t = statistics.median(_seconds_per_run(sess, op, 2) for _ in range(repeats))
    _close(sess, coord, threads)
  return 4 * 2. * n ** 3 / t / 1e9


def bench_config(s, **overrides):
  """The blog preset at the benchmark's sizes: one tower of batch_size on the CPU."""
  values = {k: s[k] for k in ('image_size', 'batch_size', 'decoder_filters', 'kernel_size',
                              'latent_dims')}
  values.update(tower_device='cpu', num_gpus=1)
  values.update(overrides)
  return settings.resolve('blog', values)


def _synthetic_inputs(cfg, num_codes):
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


def _training_session(cfg, num_codes, paths=None, cache_file=None):
  """A training graph and its running session, configured as training does (towers,
  precision); inputs synthetic unless paths given."""
  graph = tf.Graph()
  with graph.as_default():
    if paths is None:
      tower_in = _synthetic_inputs(cfg, num_codes)
    else:
      tower_in = pipelines.tower_inputs(cfg, paths, cfg['num_gpus'], cache=cache_file)
    model = towers.build_training_graph(cfg, tower_in, num_codes, devices.deployment(cfg))
    model['scalar_summary'] = tf.summary.merge_all()
    sess, coord, threads = _session(uses_cache=cache_file is not None, cfg=cfg)
  return model['train_op'], (sess, coord, threads, model)


def summary_overhead(dec, dec_op, cfg, s, out_dir):
  """How much slower the `blog` step is with its summary hooks than bare, amortized.

  Every step the progress and NaN hooks fetch the loss and the global step with the train
  op; every `save_summaries_steps` the scalars and every `image_summary_steps` the four
  image grids are also fetched and written to an events file. Times, in alternating rounds:
  the bare step, the step with the per-step fetches, and the step with everything a
  summary step fetches and writes. Returns the per-step overhead as a fraction of the bare
  step, amortized over the preset's cadences.
  """
  sess, model = dec[0], dec[3]
  writer = tf.summary.FileWriter(out_dir)
  every = [dec_op, model['loss'], model['global_step']]
  full = every + [model['scalar_summary'], model['image_summary']]

  def timed(fetches, write):
    start = time.perf_counter()
    for _ in range(s['steps']):
      out = sess.run(fetches)
      if write:
        writer.add_summary(out[-1], out[2])
        writer.add_summary(out[-2], out[2])
    return (time.perf_counter() - start) / s['steps']

  for fetches, write in ((every, False), (full, True)):
    for _ in range(s['warmup']):
      timed(fetches, write)
  times = {'bare': [], 'every_step': [], 'summary_step': []}
  for _ in range(s['repeats']):
    times['bare'].append(_seconds_per_run(sess, dec_op, s['steps']))
    times['every_step'].append(timed(every, False))
    times['summary_step'].append(timed(full, True))
  writer.close()
  med = {k: statistics.median(v) for k, v in times.items()}
  extra = med['summary_step'] - med['every_step']
  # blog writes the scalars and the grids at one cadence (100 steps, the notebook's hook).
  assert cfg['image_summary_steps'] == cfg['save_summaries_steps']
  per_step = (med['every_step'] - med['bare']) + extra / cfg['image_summary_steps']
  return {'bare_step_ms': 1e3 * med['bare'], 'every_step_ms': 1e3 * med['every_step'],
          'summary_step_ms': 1e3 * med['summary_step'],
          'amortized_overhead_fraction': per_step / med['bare']}


def _pipeline_images_per_sec(batch, batch_size, s, uses_cache=False, drain_images=0):
  """Images/s of a pipeline alone: dequeue batches (no copy back to Python)."""
  op = batch['index'][0] + tf.cast(batch['image'][0, 0, 0, 0], tf.int32)
  sess, coord, threads = _session(uses_cache)  # in the pipeline's graph
  for _ in range(-(-drain_images // batch_size) + 2):  # empty what was buffered
    sess.run(op)
  t = statistics.median(_seconds_per_run(sess, op, s['pipeline_batches'])
                        for _ in range(s['repeats']))
  _close(sess, coord, threads)
  return batch_size / t


# ----------------------------------------------------------------------------- data


def write_jpeg_files(folder, num_files, shape, seed=0):
  """CelebA-like JPEG files: the embedded LFW faces upscaled to `shape` (h, w), tinted,
  with noise; quality 90. Returns their paths in index order."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from glo_tf1.data import embedded as embedded_data  # pylint: disable=import-outside-toplevel
  os.makedirs(folder, exist_ok=True)
  faces = embedded_data.faces()
  rng = np.random.RandomState(seed)
  paths = []
  for i in range(num_files):
    face = Image.fromarray(faces[i % len(faces)]).resize((shape[1], shape[0]), Image.BICUBIC)
    x = np.asarray(face, np.float32)[..., None] * rng.uniform(0.6, 1.0, 3)
    x += rng.normal(0, 6, x.shape)
    path = os.path.join(folder, 'img_%06d.jpg' % i)
    Image.fromarray(np.clip(x, 0, 255).astype(np.uint8)).save(path, quality=90)
    paths.append(path)
  return paths


# ----------------------------------------------------------------------------- memory


def codes_and_slots_bytes(optimizer, num_codes, dims):
  """The codes table plus its optimizer's per-row slots (Adam: m and v; SGD: none)."""
  return num_codes * dims * 4 * (3 if optimizer in ('adam', 'lazy_adam') else 1)


def peak_rss_mib():
  """This process's peak resident memory in MiB: VmHWM, which starts afresh at exec (ru_maxrss
  of a child starts from its parent's resident size at fork)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) / 1024.
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.


def probe_memory(optimizer, num_codes, s):
  """Peak resident memory (MiB) of this process after building and running a few steps."""
  cfg = bench_config(s, codes_optimizer=optimizer)
  op, handles = _training_session(cfg, num_codes)
  for _ in range(3):
    handles[0].run(op)
  _close(*handles)
  return peak_rss_mib()


def _memory_in_subprocess(optimizer, num_codes, quick):
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))
  cmd = [sys.executable, '-m', 'glo_tf1.bench', '--probe_memory=%s:%d' % (optimizer, num_codes)]
  out = subprocess.run(cmd + (['--quick'] if quick else []), capture_output=True, text=True,
                       env=env, check=True, timeout=600)
  return json.loads(out.stdout.strip().splitlines()[-1])['peak_rss_mib']


# ----------------------------------------------------------------------------- run


def input_rates(s, work_dir, cfg, jpeg_threads, cache_threads, log=print):
  """Images/s of the JPEG pipeline and of the cache pipeline alone, per reader-thread count,
  on synthetic JPEG files of CelebA's shape; returns (rates, paths, cache_file)."""
  b = cfg['batch_size']
  log('writing %d JPEG files...' % s['num_files'])
  paths = write_jpeg_files(os.path.join(work_dir, 'jpeg'), s['num_files'], s['file_shape'])
  pipe = {}
  for threads in jpeg_threads:
    log('JPEG pipeline alone, %d reader thread(s)...' % threads)
    with tf.Graph().as_default():
      batch = pipelines.fixed_pipeline(paths, b, cfg['image_size'], num_threads=threads,
                                    capacity=cfg['shuffle_capacity'],
                                    min_after_dequeue=cfg['min_after_dequeue'])
      pipe['jpeg_%d_threads' % threads] = _pipeline_images_per_sec(
          batch, b, s, drain_images=cfg['shuffle_capacity'])
  log('building the decoded-image cache...')
  t0 = time.perf_counter()
  manifest = files.build_manifest('', paths)
  cache_file = input_cache.build_cache(paths, manifest, cfg['image_size'], False,
                               os.path.join(work_dir, 'cache'), log=lambda *_: None)
  pipe['cache_build'] = len(paths) / (time.perf_counter() - t0)
  for threads in cache_threads:
    log('cache pipeline alone, %d thread(s)...' % threads)
    with tf.Graph().as_default():
      batch = cache_lib.cache_pipeline(cache_file, b, num_threads=threads,
                                       capacity=cfg['shuffle_capacity'],
                                       min_after_dequeue=cfg['min_after_dequeue'])
      pipe['cache_%d_threads' % threads] = _pipeline_images_per_sec(
          batch, b, s, uses_cache=True,
          drain_images=cache_lib.PREFETCH_BATCHES * b + cfg['shuffle_capacity'])
  return pipe, paths, cache_file


def run_benchmark(s, work_dir, quick, log=print):
  """Runs every measurement; returns the results dict (see module doc)."""
  t_start = time.time()
  cfg = bench_config(s)
  b = cfg['batch_size']
  res = {'settings': dict(s, file_shape=list(s['file_shape']), quick=quick),
         'machine': _machine()}

  log('matmul peak (%d x %d)...' % (s['matmul_n'], s['matmul_n']))
  peak = matmul_peak_gflops(s['matmul_n'])
  res['matmul_peak_gflops'] = peak

  log('decoder only...')
  dec_op, dec = _training_session(cfg, s['num_codes'][0])
  for _ in range(s['warmup']):
    dec[0].run(dec_op)
  dec_times = [_seconds_per_run(dec[0], dec_op, s['steps']) for _ in range(s['repeats'])]

  log('blog summary hooks against the bare step...')
  res['blog_summaries'] = summary_overhead(dec, dec_op, cfg, s,
                                           os.path.join(work_dir, 'events'))

  pipe, paths, cache_file = input_rates(s, work_dir, cfg, JPEG_THREADS, CACHE_THREADS, log)
  res['input_pipeline_images_per_sec'] = pipe

  # The cache's queues (its shuffle buffer of shuffle_capacity images, a few batches)
  # cost milliseconds to refill, so its training step is timed, after a warm-up that has
  # emptied the buffer once, in rounds alternating with the decoder-only step. The JPEG
  # pipeline's shuffle buffer holds shuffle_capacity decoded images, seconds of work
  # done ahead, so it is timed on its own, after a warm-up that has emptied it once.
  log('training step with the cache pipeline (alternating with decoder only)...')
  step = {}
  op, handles = _training_session(bench_config(s, input_cache='auto'), len(paths), paths,
                                  cache_file)
  for _ in range(s['warmup'] + -(-cfg['shuffle_capacity'] // b)):
    handles[0].run(op)
  cache_times, beside = [], []
  for _ in range(s['repeats']):
    beside.append(_seconds_per_run(dec[0], dec_op, s['steps']))
    cache_times.append(_seconds_per_run(handles[0], op, s['steps']))
  dec_times.extend(beside)
  step['cache'] = b / statistics.median(cache_times)
  _close(*handles)
  log('training step with the jpeg pipeline...')
  op, handles = _training_session(bench_config(s), len(paths), paths)
  drain = dict(s, warmup=s['warmup'] + -(-cfg['shuffle_capacity'] // b))
  step['jpeg'] = b / _median_seconds(handles[0], op, drain)
  _close(*handles)
  dec_times.extend(_seconds_per_run(dec[0], dec_op, s['steps']) for _ in range(2))
  _close(*dec)
  dec_ips = b / statistics.median(dec_times)
  flops = training_flops_per_image(cfg)
  res['decoder_only'] = {
      'images_per_sec': dec_ips, 'step_ms': 1e3 * statistics.median(dec_times),
      'train_gflop_per_image': flops / 1e9, 'achieved_gflops': dec_ips * flops / 1e9,
      'fraction_of_matmul_peak': dec_ips * flops / 1e9 / peak}
  res['train_step_images_per_sec'] = step
  res['train_step_fraction_of_decoder_only'] = {
      'jpeg': step['jpeg'] / dec_ips,
      'cache': statistics.median(beside) / statistics.median(cache_times)}  # same rounds

  steps_ms = {}
  for opt in CODES_OPTIMIZERS:
    log('codes optimizer %s at %s codes...' % (opt, ', '.join(map(str, s['num_codes']))))
    c = bench_config(s, codes_optimizer=opt)
    sessions = [_training_session(c, n) for n in s['num_codes']]
    for op, handles in sessions:
      for _ in range(s['warmup']):
        handles[0].run(op)
    times = [[] for _ in sessions]
    for _ in range(s['repeats']):  # alternate the sizes: load hits them alike
      for t, (op, handles) in zip(times, sessions):
        t.append(_seconds_per_run(handles[0], op, s['steps']))
    for _, handles in sessions:
      _close(*handles)
    steps_ms[opt] = {str(n): 1e3 * statistics.median(t)
                     for n, t in zip(s['num_codes'], times)}
  res['codes_step_ms'] = steps_ms
  small, large = str(s['num_codes'][0]), str(s['num_codes'][-1])
  res['codes_step_ratio_largest_to_smallest'] = {
      opt: v[large] / v[small] for opt, v in steps_ms.items()}

  memory = {}
  for opt in s['memory_optimizers']:
    log('peak memory, %s...' % opt)
    lo, hi = (_memory_in_subprocess(opt, int(n), quick) for n in (small, large))
    memory[opt] = {'peak_rss_mib_' + small: lo, 'peak_rss_mib_' + large: hi,
                   'growth_mib': hi - lo,
                   'codes_and_slots_growth_mib': (
                       codes_and_slots_bytes(opt, int(large), cfg['latent_dims']) -
                       codes_and_slots_bytes(opt, int(small), cfg['latent_dims'])) / 2.**20}
  res['memory'] = memory

  res['precision'] = compare_precisions(s, paths, cache_file, log)

  res['targets'] = {
      'lazy_adam_largest_within_5pct': res['codes_step_ratio_largest_to_smallest'][
          'lazy_adam'] <= 1.05,
      'sgd_largest_within_5pct': res['codes_step_ratio_largest_to_smallest']['sgd'] <= 1.05,
      'cache_input_at_least_3x_train_step': max(
          pipe['cache_%d_threads' % t] for t in CACHE_THREADS) >= 3 * step['cache'],
      'cache_train_step_at_least_90pct_of_decoder_only':
          res['train_step_fraction_of_decoder_only']['cache'] >= 0.9,
      'blog_summaries_at_most_3pct_slower':
          res['blog_summaries']['amortized_overhead_fraction'] <= 0.03,
  }
  if 'ratio' in res['precision']:
    res['targets']['bf16_cache_train_step_at_least_1.4x_fp32'] = \
        res['precision']['ratio']['train_step_cache'] >= BF16_TARGET
  res['wall_seconds'] = time.time() - t_start
  return res


# ----------------------------------------------------------------------------- precision

BF16_TARGET = 1.4  # the bf16 training step with the input cache vs fp32's (docs/gpus.md)


def _alternating(sessions, s):
  """Seconds per step of each (op, handles), timed in alternating rounds after warm-up."""
  for op, handles in sessions:
    for _ in range(s['warmup']):
      handles[0].run(op)
  times = [[] for _ in sessions]
  for _ in range(s['repeats']):
    for t, (op, handles) in zip(times, sessions):
      t.append(_seconds_per_run(handles[0], op, s['steps']))
  return [statistics.median(t) for t in times]


def compare_precisions(s, paths, cache_file, log=print):
  """fp32 against bf16 on this CPU (one tower): training images/s of the decoder only, and
  of the full step with the cache pipeline, fp32 and bf16 in alternating rounds; and of the
  full step with the JPEG pipeline, each timed on its own after its shuffle buffer emptied
  once (as in run_benchmark). Returns {'images_per_sec': {measurement: {precision: img/s}},
  'ratio': {measurement: bf16 / fp32}}, or {'skipped': why} where bf16 cannot run."""
  try:
    precision_lib.check('bf16', on_gpu=False)
  except precision_lib.PrecisionError as e:
    return {'skipped': str(e)}
  b = s['batch_size']
  ips = {'decoder_only': {}, 'train_step_cache': {}, 'train_step_jpeg': {}}
  log('precision: decoder only, fp32 and bf16 alternating...')
  sessions = [_training_session(bench_config(s, precision=p), s['num_codes'][0])
              for p in ('fp32', 'bf16')]
  for p, t in zip(('fp32', 'bf16'), _alternating(sessions, s)):
    ips['decoder_only'][p] = b / t
  for _, handles in sessions:
    _close(*handles)
  log('precision: training step with the cache pipeline, fp32 and bf16 alternating...')
  sessions = [_training_session(bench_config(s, precision=p, input_cache='auto'),
                                len(paths), paths, cache_file) for p in ('fp32', 'bf16')]
  for p, t in zip(('fp32', 'bf16'), _alternating(sessions, s)):
    ips['train_step_cache'][p] = b / t
  for _, handles in sessions:
    _close(*handles)
  for p in ('fp32', 'bf16'):
    log('precision: training step with the jpeg pipeline, %s...' % p)
    cfg = bench_config(s, precision=p)
    op, handles = _training_session(cfg, len(paths), paths)
    drain = dict(s, warmup=s['warmup'] + -(-cfg['shuffle_capacity'] // b))
    ips['train_step_jpeg'][p] = b / _median_seconds(handles[0], op, drain)
    _close(*handles)
  return {'images_per_sec': ips,
          'ratio': {k: v['bf16'] / v['fp32'] for k, v in ips.items()}}


def run_precision(s, work_dir, log=print):
  """Only the precision comparison (glo-bench --mode precision), with its own files."""
  t_start = time.time()
  cfg = bench_config(s)
  paths = write_jpeg_files(os.path.join(work_dir, 'jpeg'), s['num_files'], s['file_shape'])
  cache_file = input_cache.build_cache(paths, files.build_manifest('', paths),
                                       cfg['image_size'], False,
                                       os.path.join(work_dir, 'cache'), log=lambda *_: None)
  res = {'settings': dict(s, file_shape=list(s['file_shape'])), 'machine': _machine(),
         'precision': compare_precisions(s, paths, cache_file, log)}
  res['targets'] = {}
  if 'ratio' in res['precision']:
    res['targets']['bf16_cache_train_step_at_least_1.4x_fp32'] = \
        res['precision']['ratio']['train_step_cache'] >= BF16_TARGET
  res['wall_seconds'] = time.time() - t_start
  return res


def format_precision_table(prec):
  if 'skipped' in prec:
    return 'bf16 not measured: %s' % prec['skipped']
  names = {'decoder_only': 'decoder only (alternating)',
           'train_step_cache': 'training step, cache pipeline (alternating)',
           'train_step_jpeg': 'training step, JPEG pipeline (each on its own)'}
  lines = ['| measurement | fp32 | bf16 | bf16 / fp32 |', '| --- | --- | --- | --- |']
  for key, name in names.items():
    v = prec['images_per_sec'][key]
    lines.append('| %s | %.0f img/s | %.0f img/s | x%.2f |' % (name, v['fp32'], v['bf16'],
                                                               prec['ratio'][key]))
  return '\n'.join(lines)


# ----------------------------------------------------------------------------- towers


def tower_counts(max_towers):
  """1, 2, ... max_towers; above 4 the powers of two and max_towers itself."""
  if max_towers <= 4:
    return list(range(1, max_towers + 1))
  counts = [2 ** k for k in range(max_towers.bit_length()) if 2 ** k <= max_towers]
  return counts + ([max_towers] if counts[-1] != max_towers else [])


def tower_precisions(tower_device, num_visible_gpus):
  """{precision: None if it runs on these towers, else why not} (precision.check)."""
  cfg = {'tower_device': tower_device}
  on_gpu = devices.towers_on_gpu(cfg, num_visible_gpus)
  out = {}
  for p in precision_lib.PRECISIONS:
    try:
      precision_lib.check(p, on_gpu, gpu_capabilities=(
          devices.gpu_compute_capabilities() if on_gpu else ()))
      out[p] = None
    except precision_lib.PrecisionError as e:
      out[p] = str(e)
  return out


def run_towers(s, work_dir, max_towers, tower_device, log=print):
  """Training images/s for 1 ... max_towers towers on `tower_device`, reading the JPEG
  files and the cache, for every precision these towers can run (glo-bench --mode towers,
  reproduce/gpu_check.sh). Each tower has batch_size images; every configuration is its
  own session, timed after warm-up and after its shuffle buffer emptied once."""
  t_start = time.time()
  paths = write_jpeg_files(os.path.join(work_dir, 'jpeg'), s['num_files'], s['file_shape'])
  cache_file = input_cache.build_cache(paths, files.build_manifest('', paths),
                                       s['image_size'], False,
                                       os.path.join(work_dir, 'cache'), log=lambda *_: None)
  visible = devices.visible_gpus()
  precisions = tower_precisions(tower_device, visible)
  rows = []
  for k in tower_counts(max_towers):
    for p in [p for p, why in precisions.items() if why is None]:
      for source in ('jpeg', 'cache'):
        cfg = bench_config(s, num_gpus=k, tower_device=tower_device, precision=p,
                           input_cache='auto' if source == 'cache' else 'off')
        log('%s, %s, %s...' % (devices.describe_towers(cfg, visible), p, source))
        op, handles = _training_session(cfg, len(paths), paths,
                                        cache_file if source == 'cache' else None)
        b = cfg['batch_size'] * k
        drain = dict(s, warmup=s['warmup'] + -(-cfg['shuffle_capacity'] // b))
        rows.append({'towers': k, 'devices': devices.describe_towers(cfg, visible),
                     'precision': p, 'input': source,
                     'images_per_sec': b / _median_seconds(handles[0], op, drain)})
        _close(*handles)
  return {'settings': dict(s, file_shape=list(s['file_shape']), max_towers=max_towers,
                           tower_device=tower_device),
          'machine': _machine(), 'precisions_refused': {
              p: why for p, why in precisions.items() if why is not None},
          'towers': rows, 'wall_seconds': time.time() - t_start}


def format_towers_table(res):
  s = res['settings']
  lines = ['Training images/s at %d px, batch %d per tower, %s towers:' % (
      s['image_size'], s['batch_size'], s['tower_device']), '',
           '| towers | precision | JPEG files | input cache | cache vs 1 tower |',
           '| --- | --- | --- | --- | --- |']
  by = {(r['towers'], r['precision'], r['input']): r for r in res['towers']}
  for k, p in sorted({(r['towers'], r['precision']) for r in res['towers']},
                     key=lambda kp: (kp[1] != 'fp32', kp[1], kp[0])):
    one = by.get((1, p, 'cache'))
    cache = by[(k, p, 'cache')]['images_per_sec']
    lines.append('| %s | %s | %.0f | %.0f | x%.2f |' % (
        by[(k, p, 'cache')]['devices'], p, by[(k, p, 'jpeg')]['images_per_sec'], cache,
        cache / one['images_per_sec'] if one else float('nan')))
  for p, why in res['precisions_refused'].items():
    lines.append('')
    lines.append('%s not measured: %s' % (p, why))
  return '\n'.join(lines)


PLACEMENT_PRESETS = ('blog', 'paper', 'paper64')
CELEBA_TRAIN_IMAGES = celeba.STANDARD_COUNTS[0]
# The stated GPU throughput behind "the rate a GPU step needs": sustained float32 TFLOP/s
# of the transpose convolutions, about an A100's FP32 peak (19.5) and a third of an
# H100's. An estimate, not a measurement: no GPU here runs TensorFlow.
GPU_TFLOPS = 20.0


def placement_row(preset, towers_count, variable_device, num_codes=CELEBA_TRAIN_IMAGES):
  """The predicted placement of `preset`'s real training graph (loop.build_training) with
  `towers_count` towers on GPUs: a dict of the figures of placement.summarize and the
  batch's own size (images and indices, float32 / int32)."""
  cfg = devices.resolve_num_gpus(settings.resolve(
      preset, {'num_gpus': towers_count, 'tower_device': 'gpu',
               'variable_device': variable_device}))
  paths = ['/celeba/%06d.jpg' % (i + 1) for i in range(num_codes)]
  with tf.Graph().as_default() as graph:
    model, _, _, _ = loop.build_training(cfg, paths, os.path.join('/nonexistent', 'run'))
    fetches = [model['train_op'], model['loss'], model['global_step']]
    summ = placement.summarize(graph, fetches, tf.global_variables())
  return {'preset': preset, 'towers': towers_count, 'variable_device': variable_device,
          'no_gpu_kernel': summ['no_gpu_kernel'],
          'host_variable_mb': summ['host_variable_bytes'] / 1e6,
          'host_updates': len(summ['host_updates']),
          'crossing_mb': (summ['crossing_bytes'] or 0) / 1e6,
          'crossing_unknown': summ['crossing_bytes'] is None,
          'batch_mb': (towers_count * cfg['batch_size'] *
                       (cfg['image_size'] ** 2 * 3 + 1) * 4 / 1e6)}


def host_update_ms(preset, variable_device, s, num_codes=CELEBA_TRAIN_IMAGES):
  """Milliseconds per step, measured on this CPU, of the ops that `variable_device`'s
  placement leaves on the host in one tower's step (sum of their traced op times; the
  whole graph runs on the CPU here, the host ops are those placement.predict leaves
  there). Synthetic in-memory images: the input pipeline is not counted."""
  cfg = settings.resolve(preset, {'num_gpus': 1, 'tower_device': 'gpu',
                                  'variable_device': variable_device})
  graph = tf.Graph()
  with graph.as_default():
    model = towers.build_training_graph(cfg, _synthetic_inputs(cfg, num_codes), num_codes,
                                        devices.deployment(cfg))
    pred = placement.predict(graph)
    host = {op.name for op in placement.step_ops([model['train_op']])
            if pred.device[op.name] == placement.HOST}
    sess, coord, threads = _session(cfg=cfg.replace(tower_device='cpu'))
  if not host:
    _close(sess, coord, threads)
    return 0.0
  for _ in range(s['warmup']):
    sess.run(model['train_op'])
  per_step = []
  opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
  for _ in range(s['repeats']):
    meta = tf.RunMetadata()
    sess.run(model['train_op'], options=opts, run_metadata=meta)
    per_step.append(sum(n.all_end_rel_micros for d in meta.step_stats.dev_stats
                        for n in d.node_stats if n.node_name in host) / 1e3)
  _close(sess, coord, threads)
  return statistics.median(per_step)


def observed_placement(preset, towers_count, tower_device='gpu', num_codes=1000):
  """TensorFlow's own placement of one training step of `preset` (synthetic in-memory
  images): the session logs every op's device (`log_device_placement`, to stderr) and one
  traced step says where each op ran. Returns {'ran': {device: ops}, 'unexpected': [op
  names run on the host that placement.predict put on a GPU]} (reproduce/gpu_check.sh)."""
  cfg = devices.resolve_num_gpus(settings.resolve(
      preset, {'num_gpus': towers_count, 'tower_device': tower_device}))
  graph = tf.Graph()
  with graph.as_default():
    model = towers.build_training_graph(cfg, _synthetic_inputs(cfg, num_codes), num_codes,
                                        devices.deployment(cfg))
    pred = placement.predict(graph, gpus=devices.visible_gpus() > 0)
    conf = devices.session_config(cfg)
    conf.log_device_placement = True
    init = [tf.global_variables_initializer(), tf.local_variables_initializer()]
    with tf.Session(config=conf) as sess:
      sess.run(init)
      meta = tf.RunMetadata()
      sess.run(model['train_op'], options=tf.RunOptions(
          trace_level=tf.RunOptions.FULL_TRACE), run_metadata=meta)
  ran, unexpected = collections.Counter(), []
  for dev in meta.step_stats.dev_stats:
    if '/stream:' in dev.device or '/memcpy' in dev.device:
      continue  # the GPU tracer's per-stream copies of the same kernels
    for node in dev.node_stats:
      name = node.node_name.split(':')[0]
      ran[dev.device] += 1
      if 'CPU' in dev.device.upper() and pred.device.get(name) == placement.GPU:
        unexpected.append(name)
  return {'ran': dict(ran), 'unexpected': sorted(set(unexpected))}


def run_placement(s, work_dir, log=print):
  """--mode placement: the placement table of every GPU preset x 1, 2 towers x
  --variable_device, the host update cost, and the input rates (see module doc)."""
  t_start = time.time()
  rows = []
  for preset in PLACEMENT_PRESETS:
    for k in (1, 2):
      for vd in ('auto', 'cpu'):
        log('placement: %s, %d tower(s) on GPUs, --variable_device %s...' % (preset, k, vd))
        row = placement_row(preset, k, vd, s.get('placement_codes', CELEBA_TRAIN_IMAGES))
        if k == 1:
          log('host update time: %s, --variable_device %s...' % (preset, vd))
          row['host_update_ms'] = host_update_ms(
              preset, vd, s, s.get('placement_codes', CELEBA_TRAIN_IMAGES))
        rows.append(row)
  cfg = bench_config(s)
  pipe, _, _ = input_rates(s, work_dir, cfg, (1,), (1,), log)
  need = {p: GPU_TFLOPS * 1e12 / training_flops_per_image(settings.resolve(p))
          for p in PLACEMENT_PRESETS}
  return {'settings': dict(s, file_shape=list(s['file_shape'])), 'machine': _machine(),
          'placement': rows, 'input_per_thread': pipe, 'gpu_tflops': GPU_TFLOPS,
          'images_per_sec_needed': need, 'wall_seconds': time.time() - t_start}


# The training images of each benchmark preset's data set (the codes table's rows).
PRESET_TRAIN_IMAGES = dict(
    {name: ds.standard_counts[0] for name, ds in prepare.DATASETS.items()},
    **{name: CELEBA_TRAIN_IMAGES for name in prepare.CELEBA_DATASETS})


def run_presets(s, log=print):
  """--mode presets: the training step of every benchmark preset (settings.DATASET_PRESETS)
  on this machine's CPU, one tower, synthetic images in memory (no input cost), its data
  set's number of codes: seconds per step, per 1,000 steps, and per epoch. The presets run
  in turn, twice (alternating rounds), and the faster round counts."""
  t_start = time.time()
  rounds = {p: [] for p in settings.DATASET_PRESETS}
  for r in range(2):
    for preset in settings.DATASET_PRESETS:
      log('presets: %s, round %d of 2...' % (preset, r + 1))
      cfg = settings.resolve(preset, {'tower_device': 'cpu', 'num_gpus': 1})
      op, (sess, coord, threads, _) = _training_session(cfg, PRESET_TRAIN_IMAGES[preset])
      try:
        _seconds_per_run(sess, op, s['warmup'])
        rounds[preset].append(_seconds_per_run(sess, op, s['preset_steps']))
      finally:
        coord.request_stop()
        coord.join(threads)
        sess.close()
  rows = []
  for preset, times in rounds.items():
    cfg = settings.resolve(preset)
    step = min(times)
    rows.append({'preset': preset, 'batch_size': cfg['batch_size'],
                 'image_size': cfg['image_size'], 'channels': cfg['channels'],
                 'seconds_per_step': step, 'rounds': times,
                 'minutes_per_1000_steps': step * 1000 / 60,
                 'hours_per_epoch': step * PRESET_TRAIN_IMAGES[preset] / cfg['batch_size'] / 3600,
                 'hours_num_steps': step * cfg['num_steps'] / 3600})
  return {'settings': {'steps': s['preset_steps'], 'warmup': s['warmup']},
          'machine': _machine(), 'presets': rows, 'wall_seconds': time.time() - t_start}


def format_presets_table(res):
  """The benchmark presets' CPU step times (docs/benchmarks.md quotes it)."""
  lines = ['| preset | batch | image | s/step | min per 1,000 steps | h per epoch | h for '
           'num_steps |', '| --- | ---: | --- | ---: | ---: | ---: | ---: |']
  for r in res['presets']:
    lines.append('| `%s` | %d | %d px x %d | %.2f | %.0f | %.1f | %.0f |' % (
        r['preset'], r['batch_size'], r['image_size'], r['channels'], r['seconds_per_step'],
        r['minutes_per_1000_steps'], r['hours_per_epoch'], r['hours_num_steps']))
  return '\n'.join(lines)


def format_placement_table(res):
  """The placement report (docs/gpus.md quotes it)."""
  lines = ['| preset | towers | --variable_device | ops on GPUs without a kernel | '
           'variables on the host | updates on the host | host<->GPU per step (batch) | '
           'host update time per step |', '| --- | --- | --- | --- | --- | --- | --- | --- |']
  for r in res['placement']:
    ms = r.get('host_update_ms')
    lines.append('| %s | %d | %s | %d | %.1f MB | %d | %s%.1f MB (%.1f MB) | %s |' % (
        r['preset'], r['towers'], r['variable_device'], len(r['no_gpu_kernel']),
        r['host_variable_mb'], r['host_updates'], '>= ' if r['crossing_unknown'] else '',
        r['crossing_mb'], r['batch_mb'], '-' if ms is None else '%.1f ms' % ms))
  pipe = res['input_per_thread']
  lines += ['', 'Input, one reader thread, %s px from %s JPEG files on this CPU: JPEG '
            'files %.0f img/s, the decoded-image cache %.0f img/s (building it: %.0f img/s).'
            % (res['settings']['image_size'], 'x'.join(map(str, res['settings']['file_shape'])),
               pipe['jpeg_1_threads'], pipe['cache_1_threads'], pipe['cache_build'])]
  lines += ['A GPU step needs, at an assumed %.0f TFLOP/s sustained (an estimate, from the '
            'training FLOPs per image = 3 x the decoder\'s forward pass): %s.' % (
                res['gpu_tflops'], ', '.join('%s %.0f img/s' % (p, n) for p, n in
                                             res['images_per_sec_needed'].items()))]
  return '\n'.join(lines)


def _machine():
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


def format_table(res):
  """The results as the README's Markdown table."""
  s = res['settings']
  dec = res['decoder_only']
  pipe = res['input_pipeline_images_per_sec']
  step = res['train_step_images_per_sec']
  frac = res['train_step_fraction_of_decoder_only']
  rows = [
      ('matmul peak (float32, %d x %d)' % (s['matmul_n'], s['matmul_n']),
       '%.0f GFLOP/s' % res['matmul_peak_gflops']),
      ('decoder only: training', '%.0f img/s (%.0f ms/step)' % (dec['images_per_sec'],
                                                                 dec['step_ms'])),
      ('decoder only: arithmetic', '%.3f GFLOP/img, %.0f GFLOP/s = %.0f%% of peak' % (
          dec['train_gflop_per_image'], dec['achieved_gflops'],
          100 * dec['fraction_of_matmul_peak'])),
  ]
  for t in JPEG_THREADS:
    rows.append(('input alone: JPEG files, %d thread(s)' % t,
                 '%.0f img/s' % pipe['jpeg_%d_threads' % t]))
  rows.append(('input alone: building the cache', '%.0f img/s' % pipe['cache_build']))
  for t in CACHE_THREADS:
    rows.append(('input alone: cache, %d thread(s)' % t,
                 '%.0f img/s' % pipe['cache_%d_threads' % t]))
  for src in ('jpeg', 'cache'):
    rows.append(('training step with the %s pipeline' % src,
                 '%.0f img/s = %.0f%% of decoder only' % (step[src], 100 * frac[src])))
  summ = res['blog_summaries']
  rows.append(('blog step with its summary hooks (grids every 100 steps)',
               '%+.1f%% vs the bare step (bare %.0f ms, summary step %.0f ms)' % (
                   100 * summ['amortized_overhead_fraction'], summ['bare_step_ms'],
                   summ['summary_step_ms'])))
  ratios = res['codes_step_ratio_largest_to_smallest']
  for opt, v in res['codes_step_ms'].items():
    rows.append(('step time, codes optimizer %s' % opt, ', '.join(
        '%s codes %.0f ms' % (_short(n), ms) for n, ms in v.items()) +
                 ' (x%.2f)' % ratios[opt]))
  for opt, m in res['memory'].items():
    keys = sorted((k for k in m if k.startswith('peak_rss_mib_')),
                  key=lambda k: int(k.rsplit('_', 1)[1]))
    rows.append(('peak memory, %s' % opt, ', '.join(
        '%s codes %.0f MiB' % (_short(k.rsplit('_', 1)[1]), m[k]) for k in keys) +
                 ' (+%.0f MiB; codes and slots: +%.0f MiB)' % (
                     m['growth_mib'], m['codes_and_slots_growth_mib'])))
  prec = res.get('precision', {})
  if 'ratio' in prec:
    for key, name in (('decoder_only', 'decoder only'),
                      ('train_step_cache', 'training step, cache pipeline'),
                      ('train_step_jpeg', 'training step, jpeg pipeline')):
      v = prec['images_per_sec'][key]
      rows.append(('bf16 vs fp32: %s' % name, '%.0f vs %.0f img/s = x%.2f' % (
          v['bf16'], v['fp32'], prec['ratio'][key])))
  elif prec:
    rows.append(('bf16 vs fp32', 'not measured: %s' % prec['skipped']))
  lines = ['| measurement | result |', '| --- | --- |']
  lines += ['| %s | %s |' % r for r in rows]
  return '\n'.join(lines)


def _short(n):
  n = int(n)
  return '%dM' % (n // 10 ** 6) if n >= 10 ** 6 and n % 10 ** 6 == 0 else \
      '%dk' % (n // 1000) if n >= 1000 and n % 1000 == 0 else str(n)
