"""Times the blog training step (128 px, batch 32, 10,000 codes, synthetic in-memory images,
one CPU tower) in two Python environments, in alternating rounds, and prints the ratio.

  python reproduce/compare_stacks.py VENV_A VENV_B [--rounds 4] [--out report.md]

Each round starts one process per venv (A, then B, then B, then A, ...), which builds the
graph, warms up and times `--steps` steps; the report gives every round's ms/step, the
medians and B/A, with the load average before and after. Used once to choose the one
TensorFlow wheel (docs/gpus.md, figures/bench/stacks.md): tensorflow against tensorflow-cpu.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import json, sys, time
from glo_tf1.compat import tf
from glo_tf1.bench import harness
s = dict(harness.FULL, batch_size=32)
cfg = harness.bench_config(s)
op, handles = harness.training_session(cfg, 10000)
for _ in range(5):
  handles[0].run(op)
t = harness.seconds_per_run(handles[0], op, int(sys.argv[1]))
print(json.dumps({'ms': 1000 * t, 'tf': tf.__version__,
                  'cuda': tf.test.is_built_with_cuda()}))
'''


def one(venv, steps):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  out = subprocess.run([os.path.join(venv, 'bin', 'python'), '-c', CHILD, str(steps)],
                       capture_output=True, text=True, env=env, check=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def main():
  p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  p.add_argument('venv_a')
  p.add_argument('venv_b')
  p.add_argument('--rounds', type=int, default=4)
  p.add_argument('--steps', type=int, default=20)
  p.add_argument('--out')
  a = p.parse_args()
  load = [os.getloadavg()[0]]
  times = {a.venv_a: [], a.venv_b: []}
  info = {}
  for r in range(a.rounds):
    order = (a.venv_a, a.venv_b) if r % 2 == 0 else (a.venv_b, a.venv_a)
    for venv in order:
      res = one(venv, a.steps)
      times[venv].append(res['ms'])
      info[venv] = res
      print('round %d %s: %.1f ms/step' % (r + 1, venv, res['ms']), flush=True)
  load.append(os.getloadavg()[0])
  med = {v: statistics.median(t) for v, t in times.items()}
  lines = ['| venv | TensorFlow | CUDA build | ms/step, each round | median |',
           '| --- | --- | --- | --- | --- |']
  for v in (a.venv_a, a.venv_b):
    lines.append('| %s | %s | %s | %s | %.1f |' % (
        os.path.basename(v.rstrip('/')), info[v]['tf'], info[v]['cuda'],
        ', '.join('%.1f' % x for x in times[v]), med[v]))
  text = '\n'.join(
      ['Blog training step (128 px, batch 32, 10,000 codes, one CPU tower), %d alternating '
       'rounds of %d steps, load average %.1f before, %.1f after; %d CPU(s).'
       % (a.rounds, a.steps, load[0], load[1], os.cpu_count()), ''] + lines +
      ['', 'B/A = %.3f (%s / %s)' % (med[a.venv_b] / med[a.venv_a],
                                     os.path.basename(a.venv_b.rstrip('/')),
                                     os.path.basename(a.venv_a.rstrip('/')))])
  print(text)
  if a.out:
    with open(a.out, 'w') as f:
      f.write(text + '\n')
  return 0


if __name__ == '__main__':
  sys.exit(main())
