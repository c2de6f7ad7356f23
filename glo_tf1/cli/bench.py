"""glo-bench: where a training step's time goes, and whether it grows with the data.

  glo-bench [--quick] [--out bench.json]      (or: bash reproduce/bench.sh)

Prints a table of images/s, GFLOP/s, step times with 1k to 1M codes and peak memory, and
writes it as JSON (docs/performance.md). --quick shrinks every size for a smoke test.
"""
import json
import os
import shutil
import tempfile
import time

from absl import flags

from glo_tf1 import io
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.bool('quick', False, 'Tiny sizes, a few steps: a smoke test (CI), not figures.')
_define.string('out', 'bench.json', 'Where to write the JSON results.')
_define.string('work_dir', None, 'Folder for the synthetic JPEG files and the cache (default: '
               'a temporary folder, removed at the end).')
_define.string('probe_memory', None, 'OPTIMIZER:NUM_CODES: only run a few training steps '
               'with that many codes and print the peak resident memory as JSON (the '
               'benchmark runs this in a subprocess per size).')


def main(fv):
  from glo_tf1.bench import benchmark  # pylint: disable=import-outside-toplevel
  s = benchmark.QUICK if fv.quick else benchmark.FULL
  if fv.probe_memory:
    opt, n = fv.probe_memory.split(':')
    print(json.dumps({'peak_rss_mib': benchmark.probe_memory(opt, int(n), s)}))
    return 0
  work_dir = fv.work_dir or tempfile.mkdtemp(prefix='glo_bench_')
  try:
    res = benchmark.run_benchmark(
        s, work_dir, fv.quick,
        log=lambda m: print('[%s] %s' % (time.strftime('%H:%M:%S'), m), flush=True))
  finally:
    if not fv.work_dir:
      shutil.rmtree(work_dir, ignore_errors=True)
  print()
  print('%s, %d CPU(s), TensorFlow %s; %s' % (
      res['machine']['processor'], res['machine']['cpus'], res['machine']['tensorflow'],
      'QUICK (smoke test sizes)' if fv.quick else 'blog sizes'))
  print(benchmark.format_table(res))
  print('targets: ' + ', '.join('%s %s' % (k, 'met' if v else 'NOT met')
                               for k, v in res['targets'].items()))
  print('%.0f s. JSON: %s' % (res['wall_seconds'], os.path.abspath(fv.out)))
  io.write_json(fv.out, res)
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
