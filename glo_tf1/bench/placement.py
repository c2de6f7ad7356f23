"""`glo-bench --mode placement`: predicts, without a GPU, where TensorFlow places each GPU
preset's real training graph (deploy/placement.py) with every --variable_device, measures on
this CPU the host time of the updates a placement leaves on the host, and compares the
input pipelines' rate per reader thread with the rate a GPU step needs (an estimate from
the step's FLOPs and a stated GPU throughput). observed_placement is TensorFlow's own
placement on a real GPU (reproduce/gpu_check.sh)."""
import collections
import os
import statistics
import time

from glo_tf1 import settings
from glo_tf1.bench import flops
from glo_tf1.bench import harness
from glo_tf1.bench import inputs
from glo_tf1.bench import table as table_lib
from glo_tf1.compat import tf
from glo_tf1.data import celeba
from glo_tf1.deploy import devices
from glo_tf1.deploy import placement
from glo_tf1.model import towers
from glo_tf1.training import loop

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
    model = towers.build_training_graph(cfg, harness.synthetic_inputs(cfg, num_codes), num_codes,
                                        devices.deployment(cfg))
    pred = placement.predict(graph)
    host = {op.name for op in placement.step_ops([model['train_op']])
            if pred.device[op.name] == placement.HOST}
    sess, coord, threads = harness.session(cfg=cfg.replace(tower_device='cpu'))
  if not host:
    harness.close(sess, coord, threads)
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
  harness.close(sess, coord, threads)
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
    model = towers.build_training_graph(cfg, harness.synthetic_inputs(cfg, num_codes), num_codes,
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


def run(s, work_dir, log=print):
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
  cfg = harness.bench_config(s)
  pipe, _, _ = inputs.input_rates(s, work_dir, cfg, (1,), (1,), log)
  need = {p: GPU_TFLOPS * 1e12 / flops.training_flops_per_image(settings.resolve(p))
          for p in PLACEMENT_PRESETS}
  return {'settings': harness.recorded_settings(s), 'machine': harness.machine(),
          'placement': rows, 'input_per_thread': pipe, 'gpu_tflops': GPU_TFLOPS,
          'images_per_sec_needed': need, 'wall_seconds': time.time() - t_start}


def table(res):
  """The placement report (docs/gpus.md quotes it)."""
  rows = []
  for r in res['placement']:
    ms = r.get('host_update_ms')
    rows.append((r['preset'], '%d' % r['towers'], r['variable_device'],
                 '%d' % len(r['no_gpu_kernel']), '%.1f MB' % r['host_variable_mb'],
                 '%d' % r['host_updates'], '%s%.1f MB (%.1f MB)' % (
                     '>= ' if r['crossing_unknown'] else '', r['crossing_mb'], r['batch_mb']),
                 '-' if ms is None else '%.1f ms' % ms))
  lines = [table_lib.markdown(
      ['preset', 'towers', '--variable_device', 'ops on GPUs without a kernel',
       'variables on the host', 'updates on the host', 'host<->GPU per step (batch)',
       'host update time per step'], rows)]
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
