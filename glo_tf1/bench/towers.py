"""`glo-bench --mode towers` (reproduce/gpu_check.sh): training images/s for 1 ... K towers
(GPUs, or CPU towers), reading the JPEG files and the cache, for each precision the towers
can run."""
import time

from glo_tf1.bench import harness
from glo_tf1.bench import inputs
from glo_tf1.bench import table as table_lib
from glo_tf1.deploy import devices
from glo_tf1.deploy import precision as precision_lib


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


def run(s, work_dir, max_towers, tower_device, log=print):
  """Training images/s for 1 ... max_towers towers on `tower_device`, reading the JPEG
  files and the cache, for every precision these towers can run (glo-bench --mode towers,
  reproduce/gpu_check.sh). Each tower has batch_size images; every configuration is its
  own session, timed after warm-up and after its shuffle buffer emptied once."""
  t_start = time.time()
  paths, cache_file = inputs.files_and_cache(s, work_dir, s['image_size'])
  visible = devices.visible_gpus()
  precisions = tower_precisions(tower_device, visible)
  rows = []
  for k in tower_counts(max_towers):
    for p in [p for p, why in precisions.items() if why is None]:
      for source in ('jpeg', 'cache'):
        cfg = harness.bench_config(s, num_gpus=k, tower_device=tower_device, precision=p,
                                   input_cache='auto' if source == 'cache' else 'off')
        log('%s, %s, %s...' % (devices.describe_towers(cfg, visible), p, source))
        op, handles = harness.training_session(cfg, len(paths), paths,
                                               cache_file if source == 'cache' else None)
        b = cfg['batch_size'] * k
        rows.append({'towers': k, 'devices': devices.describe_towers(cfg, visible),
                     'precision': p, 'input': source, 'images_per_sec': b /
                     harness.median_seconds(handles[0], op, harness.drained(s, cfg, b))})
        harness.close(*handles)
  return {'settings': harness.recorded_settings(s, max_towers=max_towers,
                                                tower_device=tower_device),
          'machine': harness.machine(), 'precisions_refused': {
              p: why for p, why in precisions.items() if why is not None},
          'towers': rows, 'wall_seconds': time.time() - t_start}


def table(res):
  """Images/s per tower count and precision, JPEG files and cache, and what was refused."""
  s = res['settings']
  by = {(r['towers'], r['precision'], r['input']): r for r in res['towers']}
  rows = []
  for k, p in sorted({(r['towers'], r['precision']) for r in res['towers']},
                     key=lambda kp: (kp[1] != 'fp32', kp[1], kp[0])):
    one = by.get((1, p, 'cache'))
    cache = by[(k, p, 'cache')]['images_per_sec']
    rows.append((by[(k, p, 'cache')]['devices'], p,
                 '%.0f' % by[(k, p, 'jpeg')]['images_per_sec'], '%.0f' % cache,
                 'x%.2f' % (cache / one['images_per_sec'] if one else float('nan'))))
  lines = ['Training images/s at %d px, batch %d per tower, %s towers:' % (
      s['image_size'], s['batch_size'], s['tower_device']), '', table_lib.markdown(
          ['towers', 'precision', 'JPEG files', 'input cache', 'cache vs 1 tower'], rows)]
  for p, why in res['precisions_refused'].items():
    lines += ['', '%s not measured: %s' % (p, why)]
  return '\n'.join(lines)
