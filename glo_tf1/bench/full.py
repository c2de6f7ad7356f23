r"""The full benchmark (`glo-bench`, reproduce/bench.sh): where a training step's time goes,
and whether it grows with the data.

  * matmul peak: float32 GFLOP/s of a 2048 x 2048 matmul, measured in this run;
  * decoder only: training images/s of the decoder with its codes, no input pipeline
    (images in memory), the GFLOP/s that achieves (flops.decoder_flops, counted from the
    built decoder graph) and its fraction of the matmul peak;
  * input pipeline alone: images/s from JPEG files through the queue pipeline at 1, 2 and
    4 reader threads, building the decoded-image cache, and reading it (inputs.py);
  * training step with the real pipeline (JPEG files, and the cache): images/s and their
    fraction of the decoder-only figure;
  * the blog step with its summary hooks against the bare step;
  * step time with 1k, 100k and 1M codes for each codes optimizer (the registry's);
  * peak resident memory with 1k and 1M codes (memory.py);
  * bf16 against fp32 (precision.py), or why bf16 was not measured.
Every figure is the median of several timed repeats after warm-up steps; the sizes of a
comparison are timed in alternating rounds so that load from other processes hits them
alike (harness.py). The JPEG files are synthetic, CelebA-sized (178 x 218) faces written to
a temporary folder (the embedded LFW faces upscaled, tinted and with sensor-like noise).
"""
import os
import statistics
import time

from glo_tf1.bench import flops
from glo_tf1.bench import harness
from glo_tf1.bench import inputs
from glo_tf1.bench import memory
from glo_tf1.bench import precision
from glo_tf1.bench import table as table_lib
from glo_tf1.compat import tf
from glo_tf1.model import optimizers

CODES_OPTIMIZERS = tuple(optimizers.OPTIMIZERS)
JPEG_THREADS = (1, 2, 4)
CACHE_THREADS = (1, 2)


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
    times['bare'].append(harness.seconds_per_run(sess, dec_op, s['steps']))
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


def _pipeline_steps(s, cfg, paths, cache_file, decoder_only, peak, log):
  """The training step with the cache and with the JPEG pipeline, against the decoder-only
  step `decoder_only` = (op, handles, its times so far), which it closes. Returns the
  report's decoder_only, train_step_images_per_sec and train_step_fraction_of_decoder_only.

  The cache's queues (its shuffle buffer of shuffle_capacity images, a few batches) cost
  milliseconds to refill, so its training step is timed, after a warm-up that has emptied
  the buffer once, in rounds alternating with the decoder-only step. The JPEG pipeline's
  shuffle buffer holds shuffle_capacity decoded images, seconds of work done ahead, so it
  is timed on its own, after a warm-up that has emptied it once.
  """
  dec_op, dec, dec_times = decoder_only
  b = cfg['batch_size']
  log('training step with the cache pipeline (alternating with decoder only)...')
  step = {}
  op, handles = harness.training_session(harness.bench_config(s, input_cache='auto'),
                                         len(paths), paths, cache_file)
  for _ in range(harness.drained(s, cfg, b)['warmup']):
    handles[0].run(op)
  cache_times, beside = [], []
  for _ in range(s['repeats']):
    beside.append(harness.seconds_per_run(dec[0], dec_op, s['steps']))
    cache_times.append(harness.seconds_per_run(handles[0], op, s['steps']))
  dec_times.extend(beside)
  step['cache'] = b / statistics.median(cache_times)
  harness.close(*handles)
  log('training step with the jpeg pipeline...')
  op, handles = harness.training_session(harness.bench_config(s), len(paths), paths)
  step['jpeg'] = b / harness.median_seconds(handles[0], op, harness.drained(s, cfg, b))
  harness.close(*handles)
  dec_times.extend(harness.seconds_per_run(dec[0], dec_op, s['steps']) for _ in range(2))
  harness.close(*dec)
  dec_ips = b / statistics.median(dec_times)
  per_image = flops.training_flops_per_image(cfg)
  return {
      'decoder_only': {
          'images_per_sec': dec_ips, 'step_ms': 1e3 * statistics.median(dec_times),
          'train_gflop_per_image': per_image / 1e9,
          'achieved_gflops': dec_ips * per_image / 1e9,
          'fraction_of_matmul_peak': dec_ips * per_image / 1e9 / peak},
      'train_step_images_per_sec': step,
      'train_step_fraction_of_decoder_only': {
          'jpeg': step['jpeg'] / dec_ips,
          'cache': statistics.median(beside) / statistics.median(cache_times)}}  # same rounds


def codes_steps(s, log=print):
  """{codes optimizer: {number of codes: ms per step}}, the sizes in alternating rounds."""
  steps_ms = {}
  for opt in CODES_OPTIMIZERS:
    log('codes optimizer %s at %s codes...' % (opt, ', '.join(map(str, s['num_codes']))))
    c = harness.bench_config(s, codes_optimizer=opt)
    sessions = [harness.training_session(c, n) for n in s['num_codes']]
    seconds = harness.alternating(sessions, s)  # alternate the sizes: load hits them alike
    for _, handles in sessions:
      harness.close(*handles)
    steps_ms[opt] = {str(n): 1e3 * t for n, t in zip(s['num_codes'], seconds)}
  return steps_ms


def targets(res):
  """{target: met} of a full report (docs/performance.md states them)."""
  ratio = res['codes_step_ratio_largest_to_smallest']
  pipe = res['input_pipeline_images_per_sec']
  return dict({
      'lazy_adam_largest_within_5pct': ratio['lazy_adam'] <= 1.05,
      'sgd_largest_within_5pct': ratio['sgd'] <= 1.05,
      'cache_input_at_least_3x_train_step': max(
          pipe['cache_%d_threads' % t] for t in CACHE_THREADS) >= 3 * res[
              'train_step_images_per_sec']['cache'],
      'cache_train_step_at_least_90pct_of_decoder_only':
          res['train_step_fraction_of_decoder_only']['cache'] >= 0.9,
      'blog_summaries_at_most_3pct_slower':
          res['blog_summaries']['amortized_overhead_fraction'] <= 0.03,
  }, **precision.targets(res['precision']))


def run(s, work_dir, quick, log=print):
  """Runs every measurement; returns the results dict (see module doc)."""
  t_start = time.time()
  cfg = harness.bench_config(s)
  res = {'settings': harness.recorded_settings(s, quick=quick), 'machine': harness.machine()}
  log('matmul peak (%d x %d)...' % (s['matmul_n'], s['matmul_n']))
  res['matmul_peak_gflops'] = harness.matmul_peak_gflops(s['matmul_n'])
  log('decoder only...')
  dec_op, dec = harness.training_session(cfg, s['num_codes'][0])
  for _ in range(s['warmup']):
    dec[0].run(dec_op)
  dec_times = [harness.seconds_per_run(dec[0], dec_op, s['steps']) for _ in range(s['repeats'])]
  log('blog summary hooks against the bare step...')
  res['blog_summaries'] = summary_overhead(dec, dec_op, cfg, s,
                                           os.path.join(work_dir, 'events'))
  pipe, paths, cache_file = inputs.input_rates(s, work_dir, cfg, JPEG_THREADS, CACHE_THREADS,
                                               log)
  res['input_pipeline_images_per_sec'] = pipe
  res.update(_pipeline_steps(s, cfg, paths, cache_file, (dec_op, dec, dec_times),
                             res['matmul_peak_gflops'], log))
  steps_ms = res['codes_step_ms'] = codes_steps(s, log)
  small, large = str(s['num_codes'][0]), str(s['num_codes'][-1])
  res['codes_step_ratio_largest_to_smallest'] = {
      opt: v[large] / v[small] for opt, v in steps_ms.items()}
  res['memory'] = memory.measure(s, quick, cfg['latent_dims'], log)
  res['precision'] = precision.compare_precisions(s, paths, cache_file, log)
  res['targets'] = targets(res)
  res['wall_seconds'] = time.time() - t_start
  return res


def _speed_rows(res):
  """The table's rows of the matmul peak, the decoder alone, the inputs and the steps."""
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
  return rows


def _growth_rows(res):
  """The table's rows of the step time and the memory with few and many codes, and bf16."""
  rows = []
  ratios = res['codes_step_ratio_largest_to_smallest']
  for opt, v in res['codes_step_ms'].items():
    rows.append(('step time, codes optimizer %s' % opt, ', '.join(
        '%s codes %.0f ms' % (table_lib.short(n), ms) for n, ms in v.items()) +
                 ' (x%.2f)' % ratios[opt]))
  for opt, m in res['memory'].items():
    keys = sorted((k for k in m if k.startswith('peak_rss_mib_')),
                  key=lambda k: int(k.rsplit('_', 1)[1]))
    rows.append(('peak memory, %s' % opt, ', '.join(
        '%s codes %.0f MiB' % (table_lib.short(k.rsplit('_', 1)[1]), m[k]) for k in keys) +
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
  return rows


def table(res):
  """The results as the README's Markdown table."""
  return table_lib.markdown(['measurement', 'result'], _speed_rows(res) + _growth_rows(res))
