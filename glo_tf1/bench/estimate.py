"""How long a training run will take, from the committed benchmark reports.

  estimate.describe(steps, images_per_step, input_kind='files')  # reproduce/celeba.sh

Reads figures/bench/bench.json (a CPU training step with the JPEG pipeline and with the
decoded-image cache, `glo-bench`) and figures/bench/placement.json (the images a second a
GPU step would need at an assumed sustained rate, and one reader thread's input rate,
`glo-bench --mode placement`). CPU: the measured rate of that machine. GPU: an estimate,
never a measurement (nothing has trained on a GPU here): the slower of the assumed GPU
rate and the input's (four JPEG reader threads at the measured 4-thread rate, or one
cache reader). reproduce/celeba.sh prints it before training; docs/celeba.md quotes the
default run's. glo-train's progress line then gives the run's own ETA.
"""
import os

from glo_tf1 import io
from glo_tf1 import progress

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'figures', 'bench')


def training_time(steps, images_per_step, input_kind='files', bench_dir=BENCH_DIR):
  """dict: images, cpu_rate / cpu_seconds (the bench's CPU, training step with this
  input), gpu_rate / gpu_seconds (the estimate, see the module doc), gpu_bound ('input' or
  'compute'), cpu_machine, gpu_tflops."""
  bench = io.read_json(os.path.join(bench_dir, 'bench.json'))
  place = io.read_json(os.path.join(bench_dir, 'placement.json'))
  images = steps * images_per_step
  cache = input_kind == 'cache'
  cpu_rate = bench['train_step_images_per_sec']['cache' if cache else 'jpeg']
  feed = (place['input_per_thread']['cache_1_threads'] if cache else
          bench['input_pipeline_images_per_sec']['jpeg_4_threads'])
  compute = place['images_per_sec_needed']['blog']
  gpu_rate = min(feed, compute)
  return {'images': images, 'cpu_rate': cpu_rate, 'cpu_seconds': images / cpu_rate,
          'gpu_rate': gpu_rate, 'gpu_seconds': images / gpu_rate,
          'gpu_bound': 'input' if feed < compute else 'compute',
          'cpu_machine': bench['machine'], 'gpu_tflops': place['gpu_tflops']}


def describe(steps, images_per_step, input_kind='files', bench_dir=BENCH_DIR):
  """One paragraph: the estimate of training_time, with its sources."""
  t = training_time(steps, images_per_step, input_kind, bench_dir)
  return ('Time: %d steps of %d images (%s images). On a CPU like the benchmark\'s (%s): '
          '%.0f img/s, about %s. On a GPU, an estimate: %s-bound at about %s img/s (%s; '
          'the GPU at an assumed %g TFLOP/s sustained), about %s, plus the per-step '
          'overhead of session.run and kernel launches, not measured here (at 1 to 10 ms a '
          'step: %s to %s more). Sources: figures/bench/bench.md, '
          'figures/bench/placement.md; glo-train\'s progress line gives this run\'s own ETA.'
          % (steps, images_per_step, '{:,}'.format(t['images']), '%s, %d CPUs' % (
              t['cpu_machine']['processor'], t['cpu_machine']['cpus']),
             t['cpu_rate'], progress.format_duration(t['cpu_seconds']), t['gpu_bound'],
             '{:,}'.format(int(round(t['gpu_rate'], -2))),
             'the decoded-image cache, one reader' if input_kind == 'cache' else
             'JPEG files, 4 reader threads on its 2 cores', t['gpu_tflops'],
             progress.format_duration(t['gpu_seconds']),
             progress.format_duration(steps * 0.001), progress.format_duration(steps * 0.010)))

