r"""Trains GLO: python -m glo_tf1.train --data_dir DIR --run_dir RUN [--preset blog] [flags].

Running the same command again resumes from RUN. Ctrl-C or SIGTERM saves a checkpoint and
exits cleanly. Every setting of the preset can be overridden by the flag of the same name
(see README, "Presets").
"""
import os
import signal
import sys
import time

from absl import app
from absl import flags

from glo_tf1 import checkpoints
from glo_tf1 import codes as codes_lib
from glo_tf1 import config as config_lib
from glo_tf1 import files
from glo_tf1 import inputs
from glo_tf1 import towers as towers_lib
from glo_tf1.compat import tf

FLAGS = flags.FLAGS

flags.DEFINE_string('data_dir', None, 'Folder of training images (searched recursively).')
flags.DEFINE_string('file_list', None, 'Optional text file of paths relative to --data_dir '
                    'to train on (e.g. the CelebA training partition).')
flags.DEFINE_string('run_dir', None, 'Run directory: checkpoints, events, config, manifest. '
                    'An existing one is resumed.')
flags.DEFINE_enum('preset', None, list(config_lib.PRESETS),
                  'Named configuration (default blog; a resumed run keeps its own).')
flags.DEFINE_bool('skip_data_check', False, 'Do not decode every image before a new run.')

_HELP = {
    'image_size': 'Output side in pixels (16 to 1024, a power of 2).',
    'tight_crop': 'Crop to 108x108 before resizing (CelebA faces).',
    'latent_dims': 'Code dimension.',
    'batch_size': 'Images per tower per step.',
    'decoder_filters': 'Filters of the 4x4 layer and of each stride-2 block.',
    'kernel_size': 'Kernel of the stride-2 blocks.',
    'normalizer': 'batch_norm (the post) or none.',
    'batch_norm_decay': 'Decay of the batch-norm moving averages.',
    'projection': 'sphere: z/||z|| (the post); ball: z/max(1,||z||) (the paper).',
    'project_stored_codes': 'Also write the projection back into the codes after each step '
                            '(the paper).',
    'codes_init': 'glorot (the post), gaussian, or pca of the images (the paper).',
    'loss': 'pairwise (what the post trained), mse (the post text), lap1 (the paper).',
    'lap1_levels': 'Levels of the Laplacian pyramid of the lap1 loss.',
    'optimizer': 'Optimizer of the decoder: adam or sgd.',
    'codes_optimizer': 'Optimizer of the codes: adam (dense TF1 Adam, the post), lazy_adam, '
                       'or sgd.',
    'learning_rate': 'Learning rate of the decoder.',
    'codes_learning_rate': 'Learning rate of the codes.',
    'num_steps': 'Stop at this global step (unbounded when unset, like the post).',
    'num_gpus': 'Number of towers.',
    'tower_device': 'gpu: towers on /gpu:i; cpu: on /cpu:i (tests).',
    'input_pipeline': 'fixed (default) or post (the notebook\'s, one reader thread only).',
    'num_samples': 'Use only the first N files of the sorted list (the notebook\'s '
                   'NUM_SAMPLES).',
    'num_reader_threads': 'Reader threads of the input pipeline.',
    'shuffle_capacity': 'Capacity of the shuffle buffer.',
    'min_after_dequeue': 'Minimum images left in the shuffle buffer.',
    'save_summaries_steps': 'Scalar summaries every N steps.',
    'image_summary_steps': 'Image grid summaries every N steps.',
    'save_checkpoint_secs': 'Checkpoint every N seconds.',
    'save_checkpoint_steps': 'Checkpoint every N steps (whichever of secs/steps first).',
    'max_to_keep': 'Checkpoints kept.',
    'log_every_steps': 'Progress line every N steps.',
    'seed': 'Random seed (used by every op when --deterministic).',
    'deterministic': 'Seeded producers and shuffles, one reader thread, deterministic ops: '
                     'bit-identical reruns on CPU.',
}


def _define_config_flags():
  for key, value in config_lib.BLOG.items():
    if key == 'preset':
      continue
    doc = _HELP[key] + ' [blog: %s]' % (value,)
    if isinstance(value, bool):
      flags.DEFINE_bool(key, None, doc)
    elif isinstance(value, list):
      flags.DEFINE_list(key, None, doc)
    elif isinstance(value, float):
      flags.DEFINE_float(key, None, doc)
    elif isinstance(value, str):
      flags.DEFINE_enum(key, None, list(config_lib.CHOICES[key]), doc)
    else:
      flags.DEFINE_integer(key, None, doc)


_define_config_flags()


def config_overrides():
  """{setting: value} for every config flag given on the command line."""
  out = {}
  for key in config_lib.BLOG:
    if key != 'preset' and FLAGS[key].present:
      value = FLAGS[key].value
      if key == 'decoder_filters':
        try:
          value = [int(v) for v in value]
        except ValueError:
          raise config_lib.ConfigError('--decoder_filters: must be a comma-separated list '
                                       'of positive integers, got %r' % ','.join(value))
      out[key] = value
  return out


class ProgressHook(tf.train.SessionRunHook):
  """Prints step, loss, images/s and ETA every N steps; writes images/s to TensorBoard."""

  def __init__(self, loss, images_per_step, every, last_step, run_dir):
    self._loss, self._ips, self._every = loss, images_per_step, every
    self._last_step, self._run_dir = last_step, run_dir
    self._t0 = self._s0 = None
    self.step = None

  def begin(self):
    self._global_step = tf.train.get_global_step()

  def before_run(self, run_context):
    return tf.train.SessionRunArgs([self._global_step, self._loss])

  def after_run(self, run_context, run_values):
    step, loss = run_values.results
    self.step = step + 1  # the train op has incremented it
    now = time.time()
    if self._t0 is None:
      self._t0, self._s0 = now, self.step
      return
    if self.step % self._every and self.step != self._last_step:
      return
    rate = (self.step - self._s0) * self._ips / max(now - self._t0, 1e-9)
    line = 'step %d  loss %.4f  %.1f img/s' % (self.step, loss, rate)
    if self._last_step and rate > 0:
      left = (self._last_step - self.step) * self._ips / rate
      line = 'step %d/%d  loss %.4f  %.1f img/s  ETA %s' % (
          self.step, self._last_step, loss, rate, _hms(left))
    print(line, flush=True)
    writer = tf.summary.FileWriterCache.get(self._run_dir)
    writer.add_summary(tf.Summary(value=[
        tf.Summary.Value(tag='perf/images_per_sec', simple_value=rate)]), self.step)
    self._t0, self._s0 = now, self.step


def _hms(seconds):
  seconds = int(max(0, seconds))
  return '%d:%02d:%02d' % (seconds // 3600, seconds // 60 % 60, seconds % 60)


class _StopOnSignal:
  """Turns the first SIGINT/SIGTERM into a clean stop (checkpoint, then exit)."""

  def __init__(self):
    self.signal = None
    for sig in (signal.SIGINT, signal.SIGTERM):
      signal.signal(sig, self._handle)

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    if self.signal is not None:  # second signal: give up at once
      raise KeyboardInterrupt
    self.signal = signum
    print('\n%s received: saving a checkpoint and stopping...'
          % signal.Signals(signum).name, flush=True)


def session_config(cfg):
  n_cpu = cfg['num_gpus'] if cfg['tower_device'] == 'cpu' else 1
  conf = tf.ConfigProto(allow_soft_placement=True, device_count={'CPU': max(1, n_cpu)})
  return conf


def pca_init_values(cfg, paths):
  """Codes from the PCA of the images (the paper), at no more than 32 px."""
  size = min(cfg['image_size'], 32)
  with tf.Graph().as_default(), tf.Session() as sess:
    batches = [b for _, b in inputs.iterate_in_order(sess, paths, 256, size,
                                                     cfg['tight_crop'])]
  import numpy as np  # pylint: disable=import-outside-toplevel
  return codes_lib.pca_codes(np.concatenate(batches), cfg['latent_dims'], cfg['seed'])


def prepare(argv_overrides=None):
  """Resolves config, file list and run directory; returns (cfg, paths, resumed)."""
  overrides = config_overrides() if argv_overrides is None else argv_overrides
  if not FLAGS.run_dir:
    raise config_lib.ConfigError('--run_dir is required')
  cfg, resumed = checkpoints.resolve_for_run(FLAGS.run_dir, FLAGS.preset, overrides)
  names = files.list_images(FLAGS.data_dir, FLAGS.file_list)
  if cfg['num_samples']:
    names = names[:cfg['num_samples']]
  if len(names) < cfg['batch_size']:
    print('note: %d images, fewer than a batch of %d; images repeat within a batch'
          % (len(names), cfg['batch_size']))
  checkpoints.make_writable_dir(FLAGS.run_dir)
  manifest = files.build_manifest(FLAGS.data_dir, names)
  manifest_path = os.path.join(FLAGS.run_dir, files.MANIFEST_NAME)
  if not os.path.exists(manifest_path) and not FLAGS.skip_data_check:
    print('Checking that %d images decode...' % len(names), flush=True)
    bad = files.find_undecodable(FLAGS.data_dir, names)
    if bad:
      raise files.DataError('%d image(s) in %s cannot be decoded:\n%s' % (
          len(bad), FLAGS.data_dir, '\n'.join('  %s: %s' % b for b in bad[:20])))
  checkpoints.check_manifest(FLAGS.run_dir, manifest)
  checkpoints.write_json(os.path.join(FLAGS.run_dir, checkpoints.CONFIG_NAME), cfg)
  if not resumed:
    checkpoints.write_json(os.path.join(FLAGS.run_dir, checkpoints.PROVENANCE_NAME),
                           checkpoints.provenance(cfg, FLAGS.data_dir, len(names)))
  paths = [os.path.abspath(os.path.join(FLAGS.data_dir, n)) for n in names]
  return cfg, paths, resumed


def train(cfg, paths, run_dir):
  """Builds the graph and runs MonitoredTrainingSession; returns the last global step."""
  run_dir = os.path.abspath(run_dir)
  has_checkpoint = tf.train.latest_checkpoint(run_dir) is not None
  pca = pca_init_values(cfg, paths) if cfg['codes_init'] == 'pca' and not has_checkpoint \
      else None
  graph = tf.Graph()
  with graph.as_default():
    if cfg['deterministic']:
      tf.set_random_seed(cfg['seed'])
    num_towers = cfg['num_gpus']
    model = towers_lib.build_training_graph(
        cfg, inputs.tower_inputs(cfg, paths, num_towers), len(paths))
    init_fn = None
    if pca is not None:
      pca_ph = tf.placeholder(tf.float32, pca.shape)
      assign = model['codes'].assign(pca_ph)
      init_fn = lambda scaffold, sess: sess.run(assign, {pca_ph: pca})
    saver = tf.train.Saver(max_to_keep=cfg['max_to_keep'], sharded=False)
    scaffold = tf.train.Scaffold(saver=saver, init_fn=init_fn)
    progress = ProgressHook(model['loss'], cfg['batch_size'] * num_towers,
                            cfg['log_every_steps'], cfg['num_steps'], run_dir)
    hooks = [
        progress,
        tf.train.NanTensorHook(model['loss'], fail_on_nan_loss=True),
        checkpoints.saver_hook(run_dir, saver, cfg['save_checkpoint_secs'],
                               cfg['save_checkpoint_steps']),
        tf.train.SummarySaverHook(save_steps=cfg['image_summary_steps'], output_dir=run_dir,
                                  summary_op=model['image_summary']),
    ]
    if cfg['num_steps']:
      hooks.append(tf.train.StopAtStepHook(last_step=cfg['num_steps']))
    stopper = _StopOnSignal()
    start = None
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=run_dir, scaffold=scaffold, hooks=hooks,
        save_checkpoint_secs=None, save_checkpoint_steps=None,
        save_summaries_steps=cfg['save_summaries_steps'], log_step_count_steps=None,
        config=session_config(cfg)) as sess:
      start = sess.run_step_fn(lambda step_context: step_context.session.run(model['global_step']))
      if cfg['num_steps'] and start >= cfg['num_steps']:
        print('Run %s is already at step %d >= --num_steps=%d; nothing to do.'
              % (run_dir, start, cfg['num_steps']))
      else:
        print('%s at step %d: %d images, %d tower(s) x batch %d, preset %s.'
              % ('Resuming' if start else 'Starting', start, len(paths), num_towers,
                 cfg['batch_size'], cfg['preset']), flush=True)
      while not sess.should_stop() and stopper.signal is None:
        sess.run(model['train_op'])
    step = progress.step if progress.step is not None else start
    if stopper.signal is not None:
      print('Interrupted at step %d; checkpoint saved in %s' % (step, run_dir))
    return step


def main(argv):
  del argv
  try:
    cfg, paths, _ = prepare()
    step = train(cfg, paths, FLAGS.run_dir)
  except (config_lib.ConfigError, files.DataError, checkpoints.RunDirError) as e:
    print('error: %s' % e, file=sys.stderr)
    return 2
  except tf.train.NanLossDuringTrainingError:
    print('error: the loss became NaN or Inf; training stopped. The last good checkpoint '
          'in %s was kept (nothing was saved after the fault).' % FLAGS.run_dir,
          file=sys.stderr)
    return 3
  print('Done at step %d. Run directory: %s  (TensorBoard: tensorboard --logdir %s)'
        % (step, FLAGS.run_dir, FLAGS.run_dir))
  return 0


def run():
  app.run(main)


if __name__ == '__main__':
  run()
