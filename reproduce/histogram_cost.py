r"""What the code-norm and decoder-weight histograms cost a training step.

  nice python reproduce/histogram_cost.py [PRESET [ROUNDS [STEPS]]]   # default: blog 7 5

Builds PRESET's training graph (synthetic in-memory images, board.MAX_PROJECTED codes: the
histogram reads at most that many rows on any data set) and times, in alternating rounds
of STEPS steps, the summary step as the scalar hook runs it (train op + the scalars,
written to an events file) with and without board.histogram_summaries. Prints the
medians, their ratio, the per-step cost amortized over --save_summaries_steps as a
fraction of the summary step without, and `uptime` (the machine's load during the
measurement). docs/training.md quotes its output.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from glo_tf1 import settings  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.bench import benchmark  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.compat import tf  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.model import towers  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.training import board  # noqa: E402  pylint: disable=wrong-import-position


def measure(preset='blog', rounds=7, steps=5):
  """{'without_ms', 'with_ms', 'ratio', 'amortized_fraction'}: medians over the rounds."""
  cfg = settings.resolve(preset, {'num_gpus': 1, 'tower_device': 'cpu'})
  n = board.MAX_PROJECTED
  with tf.Graph().as_default():
    inputs = benchmark._synthetic_inputs(cfg, n)  # pylint: disable=protected-access
    model = towers.build_training_graph(cfg, inputs, n)
    scalars = tf.summary.merge_all()
    hist = tf.summary.merge(board.histogram_summaries(model['codes'], n, cfg['seed'],
                                                      collections=[]))
    sess, _, _ = benchmark._session(cfg=cfg)  # pylint: disable=protected-access
    writer = tf.summary.FileWriter(tempfile.mkdtemp(prefix='histogram_cost'))
    variants = {'without': [model['train_op'], model['global_step'], scalars],
                'with': [model['train_op'], model['global_step'], scalars, hist]}

    def timed(fetches):
      start = time.perf_counter()
      for _ in range(steps):
        out = sess.run(fetches)
        for summary in out[2:]:
          writer.add_summary(summary, out[1])
      return (time.perf_counter() - start) / steps

    for fetches in variants.values():  # warm up both
      timed(fetches)
    times = {k: [] for k in variants}
    for _ in range(rounds):
      for name, fetches in variants.items():
        times[name].append(timed(fetches))
    writer.close()
  med = {k: statistics.median(v) for k, v in times.items()}
  extra = med['with'] - med['without']
  return {'without_ms': 1e3 * med['without'], 'with_ms': 1e3 * med['with'],
          'ratio': med['with'] / med['without'],
          'amortized_fraction': extra / cfg['save_summaries_steps'] / med['without'],
          'save_summaries_steps': cfg['save_summaries_steps'], 'image_size': cfg['image_size']}


def main(argv):
  preset = argv[1] if len(argv) > 1 else 'blog'
  rounds, steps = (int(argv[2]) if len(argv) > 2 else 7), (int(argv[3]) if len(argv) > 3 else 5)
  r = measure(preset, rounds, steps)
  print('%s (%d px, %d codes): summary step %.1f ms without histograms, %.1f ms with '
        '(ratio %.3f); amortized over %d steps: %+.2f%% per step'
        % (preset, r['image_size'], board.MAX_PROJECTED, r['without_ms'], r['with_ms'],
           r['ratio'], r['save_summaries_steps'], 100 * r['amortized_fraction']))
  print('uptime:', subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip())


if __name__ == '__main__':
  main(sys.argv)
