"""How long a training run will take, from the committed benchmark reports.

  estimate.describe(reports, steps, images_per_step, input_kind='files')
  glo-bench --estimate STEPS:IMAGES_PER_STEP:INPUT [--reports figures/bench]  # celeba.sh

Reads REPORTS/bench.json (a CPU training step with the JPEG pipeline and with the
decoded-image cache, `glo-bench`) and REPORTS/placement.json (the images a second a
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
from glo_tf1 import settings

INPUT_KINDS = ('files', 'cache')


def read_report(reports, name):
  """The report REPORTS/name (JSON); UserError naming the path when it is missing (the
  repository's figures/bench/ holds the committed ones; an installed package has none)."""
  path = os.path.join(reports, name)
  report = io.read_json(path)
  if report is None:
    raise settings.UserError(
        '%s: no such benchmark report (glo-bench writes it; the committed ones are in the '
        'repository\'s figures/bench/: run from its checkout or give their folder)' % path)
  return report


def training_time(reports, steps, images_per_step, input_kind='files'):
  """dict: images, cpu_rate / cpu_seconds (the bench's CPU, training step with this
  input), gpu_rate / gpu_seconds (the estimate, see the module doc), gpu_bound ('input' or
  'compute'), cpu_machine, gpu_tflops. `reports`: the folder of bench.json and
  placement.json."""
  bench = read_report(reports, 'bench.json')
  place = read_report(reports, 'placement.json')
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


def describe(reports, steps, images_per_step, input_kind='files'):
  """One paragraph: the estimate of training_time, with its sources."""
  t = training_time(reports, steps, images_per_step, input_kind)
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

