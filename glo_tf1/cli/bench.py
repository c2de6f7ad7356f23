"""glo-bench: where a training step's time goes, and whether it grows with the data.

  glo-bench [--quick] [--out bench.json]      (or: bash reproduce/bench.sh)
  glo-bench --mode precision                  (bf16 against fp32 only)
  glo-bench --mode towers --max_towers K [--tower_device cpu]   (reproduce/gpu_check.sh)
  glo-bench --mode placement --markdown figures/bench/placement.md   (GPU placement, no GPU)
  glo-bench --mode presets --out figures/bench/presets.json --markdown figures/bench/presets.md
                                              (the benchmark presets' CPU step times)
  glo-bench --estimate STEPS:IMAGES_PER_STEP:INPUT [--reports figures/bench]
                                              (a run's duration from the committed reports)

Prints a table of images/s, GFLOP/s, step times with 1k to 1M codes, peak memory and bf16
against fp32, and writes it as JSON (docs/performance.md); --markdown also writes the
printed table. --quick shrinks every size for a smoke test.
"""
import json
import os
import shutil
import tempfile
import time

from absl import flags

from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.bool('quick', False, 'Tiny sizes, a few steps: a smoke test (CI), not figures.')
_define.string('out', 'bench.json', 'Where to write the JSON results.')
_define.string('work_dir', None, 'Folder for the synthetic JPEG files and the cache (default: '
               'a temporary folder, removed at the end).')
_define.enum('mode', 'full', ['full', 'precision', 'towers', 'placement', 'presets'], 'full: every '
             'measurement; precision: bf16 against fp32 only; towers: images/s for 1 ... '
             '--max_towers towers, JPEG files and cache, each precision the towers can run; '
             'placement: where TensorFlow puts each GPU preset\'s training graph on GPUs '
             '(predicted from the kernel registry, no GPU needed), the host cost of what '
             'stays on the host, input rates per reader thread against a GPU step\'s needs; '
             'presets: the CPU training step of each benchmark preset (docs/benchmarks.md).')
_define.integer('max_towers', None, 'Most towers of --mode towers (default: every visible '
                'GPU, at least 1).')
_define.enum('tower_device', 'gpu', ['gpu', 'cpu'], 'Towers of --mode towers: on /gpu:i, '
             'or on /cpu:i (how the tests run it without a GPU).')
_define.string('markdown', None, 'Also write the printed report (Markdown) to this file.')
_define.string('estimate', None, 'STEPS:IMAGES_PER_STEP:INPUT (INPUT: files or cache): only '
               'print how long such a training run takes, estimated from the reports in '
               '--reports (bench.json, placement.json), and measure nothing '
               '(reproduce/celeba.sh).')
_define.string('reports', os.path.join('figures', 'bench'), 'Folder of the benchmark reports '
               'that --estimate reads (default: the committed ones, in a repository checkout).')
_define.string('probe_memory', None, 'OPTIMIZER:NUM_CODES: only run a few training steps '
               'with that many codes and print the peak resident memory as JSON (the '
               'benchmark runs this in a subprocess per size).')


def _measure(fv, s, work_dir, log):
  """(results, printed table) of the mode `--mode` asks for (glo_tf1/bench/<mode>.py)."""
  # pylint: disable=import-outside-toplevel
  from glo_tf1.bench import full, placement, precision, presets, towers
  if fv.mode == 'towers':
    from glo_tf1.deploy import devices
    max_towers = fv.max_towers or max(1, devices.visible_gpus())
    mode, res = towers, towers.run(s, work_dir, max_towers, fv.tower_device, log)
  elif fv.mode == 'placement':
    mode, res = placement, placement.run(s, work_dir, log)
  elif fv.mode == 'presets':
    mode, res = presets, presets.run(s, log)
  elif fv.mode == 'precision':
    mode, res = precision, precision.run(s, work_dir, log)
  else:
    mode, res = full, full.run(s, work_dir, fv.quick, log)
  return res, mode.table(res)


def _estimate(fv):
  """--estimate: the paragraph of bench/estimate.describe, from the reports of --reports."""
  from glo_tf1.bench import estimate  # pylint: disable=import-outside-toplevel
  parts = fv.estimate.split(':')
  if (len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts[:2]) or
      parts[2] not in estimate.INPUT_KINDS):
    raise settings.UserError('--estimate: must be STEPS:IMAGES_PER_STEP:INPUT with two '
                             'positive integers and INPUT one of %s, got %r' % (
                                 ', '.join(estimate.INPUT_KINDS), fv.estimate))
  print(estimate.describe(fv.reports, int(parts[0]), int(parts[1]), parts[2]))
  return 0


def main(fv):
  if fv.estimate:
    return _estimate(fv)
  from glo_tf1.bench import harness  # pylint: disable=import-outside-toplevel
  s = harness.QUICK if fv.quick else harness.FULL
  if fv.probe_memory:
    from glo_tf1.bench import memory  # pylint: disable=import-outside-toplevel
    opt, n = fv.probe_memory.split(':')
    print(json.dumps({'peak_rss_mib': memory.probe_memory(opt, int(n), s)}))
    return 0
  work_dir = fv.work_dir or tempfile.mkdtemp(prefix='glo_bench_')
  load_before = os.getloadavg()[0]  # other processes' load: is the machine idle?
  log = lambda m: print('[%s] %s' % (time.strftime('%H:%M:%S'), m), flush=True)
  try:
    res, table = _measure(fv, s, work_dir, log)
  finally:
    if not fv.work_dir:
      shutil.rmtree(work_dir, ignore_errors=True)
  res['machine']['load_average'] = {'before': load_before, 'after': os.getloadavg()[0]}
  report = ['%s, %d CPU(s), TensorFlow %s; %s; load average %.1f before, %.1f after' % (
      res['machine']['processor'], res['machine']['cpus'], res['machine']['tensorflow'],
      'QUICK (smoke test sizes)' if fv.quick else (
          'each benchmark preset at its own sizes' if fv.mode == 'presets' else 'blog sizes'),
      load_before,
      res['machine']['load_average']['after']), '', table]
  if res.get('targets'):
    report += ['', 'targets: ' + ', '.join('%s %s' % (k, 'met' if v else 'NOT met')
                                          for k, v in res['targets'].items())]
  print()
  print('\n'.join(report))
  print('%.0f s. JSON: %s' % (res['wall_seconds'], os.path.abspath(fv.out)))
  io.write_json(fv.out, res)
  if fv.markdown:
    io.write_text_atomic(fv.markdown, '\n'.join(report) + '\n')
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
