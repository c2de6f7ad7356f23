"""`glo-bench --mode precision` (and part of the full benchmark): bf16 against fp32 on this
CPU, one tower, decoder only and the full training step, in alternating rounds, and their
ratio (target: the step with the cache >= BF16_TARGET x fp32's on a CPU with native bf16),
or why bf16 was not measured."""
import time

from glo_tf1.bench import harness
from glo_tf1.bench import inputs
from glo_tf1.bench import table as table_lib
from glo_tf1.deploy import precision as precision_lib

BF16_TARGET = 1.4  # the bf16 training step with the input cache vs fp32's (docs/gpus.md)
PRECISIONS = ('fp32', 'bf16')
NAMES = {'decoder_only': 'decoder only (alternating)',
         'train_step_cache': 'training step, cache pipeline (alternating)',
         'train_step_jpeg': 'training step, JPEG pipeline (each on its own)'}


def _alternating_images_per_sec(s, num_codes, paths=None, cache_file=None, **overrides):
  """{precision: img/s} of fp32 and bf16 timed in alternating rounds (harness.alternating)."""
  sessions = [harness.training_session(harness.bench_config(s, precision=p, **overrides),
                                       num_codes, paths, cache_file) for p in PRECISIONS]
  out = {p: s['batch_size'] / t for p, t in zip(PRECISIONS, harness.alternating(sessions, s))}
  for _, handles in sessions:
    harness.close(*handles)
  return out


def compare_precisions(s, paths, cache_file, log=print):
  """fp32 against bf16 on this CPU (one tower): training images/s of the decoder only, and
  of the full step with the cache pipeline, fp32 and bf16 in alternating rounds; and of the
  full step with the JPEG pipeline, each timed on its own after its shuffle buffer emptied
  once (as in full.run). Returns {'images_per_sec': {measurement: {precision: img/s}},
  'ratio': {measurement: bf16 / fp32}}, or {'skipped': why} where bf16 cannot run."""
  try:
    precision_lib.check('bf16', on_gpu=False)
  except precision_lib.PrecisionError as e:
    return {'skipped': str(e)}
  b = s['batch_size']
  ips = {}
  log('precision: decoder only, fp32 and bf16 alternating...')
  ips['decoder_only'] = _alternating_images_per_sec(s, s['num_codes'][0])
  log('precision: training step with the cache pipeline, fp32 and bf16 alternating...')
  ips['train_step_cache'] = _alternating_images_per_sec(s, len(paths), paths, cache_file,
                                                        input_cache='auto')
  ips['train_step_jpeg'] = {}
  for p in PRECISIONS:
    log('precision: training step with the jpeg pipeline, %s...' % p)
    cfg = harness.bench_config(s, precision=p)
    op, handles = harness.training_session(cfg, len(paths), paths)
    ips['train_step_jpeg'][p] = b / harness.median_seconds(handles[0], op,
                                                           harness.drained(s, cfg, b))
    harness.close(*handles)
  return {'images_per_sec': ips,
          'ratio': {k: v['bf16'] / v['fp32'] for k, v in ips.items()}}


def targets(prec):
  """{target: met} of a compare_precisions result (none where bf16 was not measured)."""
  if 'ratio' not in prec:
    return {}
  return {'bf16_cache_train_step_at_least_1.4x_fp32':
          prec['ratio']['train_step_cache'] >= BF16_TARGET}


def run(s, work_dir, log=print):
  """Only the precision comparison (glo-bench --mode precision), with its own files."""
  t_start = time.time()
  paths, cache_file = inputs.files_and_cache(s, work_dir, harness.bench_config(s)['image_size'])
  res = {'settings': harness.recorded_settings(s), 'machine': harness.machine(),
         'precision': compare_precisions(s, paths, cache_file, log)}
  res['targets'] = targets(res['precision'])
  res['wall_seconds'] = time.time() - t_start
  return res


def table(res):
  """The comparison of run(res) as a Markdown table, or why bf16 was not measured."""
  prec = res['precision']
  if 'skipped' in prec:
    return 'bf16 not measured: %s' % prec['skipped']
  return table_lib.markdown(
      ['measurement', 'fp32', 'bf16', 'bf16 / fp32'],
      [(name, '%.0f img/s' % prec['images_per_sec'][key]['fp32'],
        '%.0f img/s' % prec['images_per_sec'][key]['bf16'], 'x%.2f' % prec['ratio'][key])
       for key, name in NAMES.items()])
