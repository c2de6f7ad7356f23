"""`glo-bench --mode presets`: the training step of every benchmark preset on this CPU
(docs/benchmarks.md quotes the table)."""
import time

from glo_tf1 import settings
from glo_tf1.bench import harness
from glo_tf1.bench import table as table_lib
from glo_tf1.data import celeba
from glo_tf1.data import prepare

# The training images of each benchmark preset's data set (the codes table's rows).
PRESET_TRAIN_IMAGES = dict(
    {name: ds.standard_counts[0] for name, ds in prepare.DATASETS.items()},
    **{name: celeba.STANDARD_COUNTS[0] for name in prepare.CELEBA_DATASETS})


def run(s, log=print):
  """--mode presets: the training step of every benchmark preset (settings.DATASET_PRESETS)
  on this machine's CPU, one tower, synthetic images in memory (no input cost), its data
  set's number of codes: seconds per step, per 1,000 steps, and per epoch. The presets run
  in turn, twice (alternating rounds), and the faster round counts."""
  t_start = time.time()
  rounds = {p: [] for p in settings.DATASET_PRESETS}
  for r in range(2):
    for preset in settings.DATASET_PRESETS:
      log('presets: %s, round %d of 2...' % (preset, r + 1))
      cfg = settings.resolve(preset, {'tower_device': 'cpu', 'num_gpus': 1})
      op, (sess, coord, threads, _) = harness.training_session(
          cfg, PRESET_TRAIN_IMAGES[preset])
      try:
        harness.seconds_per_run(sess, op, s['warmup'])
        rounds[preset].append(harness.seconds_per_run(sess, op, s['preset_steps']))
      finally:
        coord.request_stop()
        coord.join(threads)
        sess.close()
  rows = []
  for preset, times in rounds.items():
    cfg = settings.resolve(preset)
    step = min(times)
    rows.append({'preset': preset, 'batch_size': cfg['batch_size'],
                 'image_size': cfg['image_size'], 'channels': cfg['channels'],
                 'seconds_per_step': step, 'rounds': times,
                 'minutes_per_1000_steps': step * 1000 / 60,
                 'hours_per_epoch': step * PRESET_TRAIN_IMAGES[preset] / cfg['batch_size'] / 3600,
                 'hours_num_steps': step * cfg['num_steps'] / 3600})
  return {'settings': {'steps': s['preset_steps'], 'warmup': s['warmup']},
          'machine': harness.machine(), 'presets': rows, 'wall_seconds': time.time() - t_start}


def table(res):
  """The benchmark presets' CPU step times (docs/benchmarks.md quotes it)."""
  return table_lib.markdown(
      ['preset', ('batch', 'right'), 'image', ('s/step', 'right'),
       ('min per 1,000 steps', 'right'), ('h per epoch', 'right'),
       ('h for num_steps', 'right')],
      [('`%s`' % r['preset'], '%d' % r['batch_size'],
        '%d px x %d' % (r['image_size'], r['channels']), '%.2f' % r['seconds_per_step'],
        '%.0f' % r['minutes_per_1000_steps'], '%.1f' % r['hours_per_epoch'],
        '%.0f' % r['hours_num_steps']) for r in res['presets']])
