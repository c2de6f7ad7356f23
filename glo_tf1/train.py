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

from glo_tf1 import cache as cache_lib
from glo_tf1 import check_data
from glo_tf1 import checkpoints
from glo_tf1 import cluster as cluster_lib
from glo_tf1 import codes as codes_lib
from glo_tf1 import compat
from glo_tf1 import config as config_lib
from glo_tf1 import faults
from glo_tf1 import files
from glo_tf1 import inputs
from glo_tf1 import remap
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
flags.DEFINE_bool('skip_data_check', False, 'Do not check the images before a new run '
                  '(glo_tf1.check_data).')
flags.DEFINE_bool('skip_bad_images', False, 'Train without the images the data check finds '
                  'bad; they are listed in RUN/skipped_images.tsv and stay out on resume.')
flags.DEFINE_bool('allow_changed_data', False, 'Resume although files were added, removed, '
                  'renamed or modified: codes stay with their files by name, new files get '
                  'fresh codes (remap.py rewrites the checkpoint).')
flags.DEFINE_string('cache_dir', None, 'Folder of the --input_cache=auto file (default '
                    'RUN/input_cache); one beside the data can be shared by runs.')
# A cluster (README, "Scaling out"; cluster.py). All unset: one process.
flags.DEFINE_list('ps_hosts', None, 'Parameter servers, host:port,...')
flags.DEFINE_list('worker_hosts', None, 'Workers, host:port,...; worker 0 is the chief.')
flags.DEFINE_enum('job_name', None, ['ps', 'worker'], 'Role of this process in the cluster.')
flags.DEFINE_integer('task_index', 0, 'Index of this process in its job\'s host list.')
flags.DEFINE_bool('sync_replicas', False, 'Synchronous updates (SyncReplicasOptimizer, one '
                  'gradient per worker per step); asynchronous by default.')
flags.DEFINE_integer('codes_shards', None, 'Row blocks of the codes table on a cluster '
                     '(default: one per parameter server).')

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
    'num_gpus': 'Number of towers, or auto: one per visible GPU (one on the CPU when none).',
    'tower_device': 'gpu: towers on /gpu:i; cpu: on /cpu:i (tests).',
    'input_pipeline': 'fixed (default) or post (the notebook\'s, one reader thread only).',
    'input_cache': 'off: read the image files every epoch; auto: decode, crop and resize '
                   'them once into a uint8 cache file (--cache_dir) and train from it.',
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
    'seed': 'Random seed: the graph seed under --deterministic (each random op derives '
            'its own from it).',
    'deterministic': 'Graph seed, seeded per-epoch shuffle with a first-in first-out batch '
                     'queue, one reader thread, TensorFlow op determinism: bit-identical '
                     'reruns on CPU (fixed pipeline only).',
}


def _define_config_flags():
  for key, value in config_lib.BLOG.items():
    if key == 'preset':
      continue
    doc = _HELP[key] + ' [blog: %s]' % (value,)
    if key == 'num_gpus':  # an integer or 'auto'
      flags.DEFINE_string(key, None, doc)
    elif isinstance(value, bool):
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
      if key == 'num_gpus' and value != 'auto':
        try:
          value = int(value)
        except ValueError:
          raise config_lib.ConfigError('--num_gpus: must be a positive integer or auto, '
                                       'got %r' % value)
      out[key] = value
  return out


class ProgressHook(faults.StepLossHook):
  """Prints step, loss, images/s and ETA every N steps; writes images/s to TensorBoard."""

  def __init__(self, loss, images_per_step, every, last_step, run_dir):
    super().__init__(loss)
    self._ips, self._every = images_per_step, every
    self._last_step, self._run_dir = last_step, run_dir
    self._t0 = self._s0 = None
    self.step = None

  def on_step(self, step, loss):
    self.step = step
    now = time.time()
    if self._t0 is None:  # first step of this session: no rate yet
      self._t0, self._s0 = now, self.step
      print('step %d  loss %.4f' % (self.step, loss), flush=True)
      return
    # A line whenever the step reaches a multiple of N (on a cluster the global step
    # also moves with the other workers, so it may jump past the multiple itself).
    if self.step // self._every == self._s0 // self._every and self.step != self._last_step:
      return
    rate = (self.step - self._s0) * self._ips / max(now - self._t0, 1e-9)
    line = 'step %d  loss %.4f  %.1f img/s' % (self.step, loss, rate)
    if self._last_step and rate > 0:
      left = (self._last_step - self.step) * self._ips / rate
      line = 'step %d/%d  loss %.4f  %.1f img/s  ETA %s' % (
          self.step, self._last_step, loss, rate, _hms(left))
    print(line, flush=True)
    if self._run_dir:  # None on a cluster's non-chief workers: only the chief writes
      writer = tf.summary.FileWriterCache.get(self._run_dir)
      writer.add_summary(tf.Summary(value=[
          tf.Summary.Value(tag='perf/images_per_sec', simple_value=rate)]), self.step)
    self._t0, self._s0 = now, self.step


class _NoSessionLog:
  """A summary writer that drops session logs and passes everything else through."""

  def __init__(self, writer):
    self._writer = writer

  def add_session_log(self, *args, **kwargs):
    pass

  def __getattr__(self, name):
    return getattr(self._writer, name)


class ImageSummaryHook(tf.train.SummarySaverHook):
  """A SummarySaverHook that logs no session START of its own.

  Every SummarySaverHook logs START at its first step, and TensorBoard treats a START as a
  restart that discards what was logged at that step or later: a second hook would make
  it drop the first step's scalars. The scalar hook's START is the one a session needs.
  """

  def begin(self):
    super().begin()
    self._summary_writer = _NoSessionLog(self._summary_writer)


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
  if cfg.get('input_cache', 'off') != 'off':
    cache_lib.configure_session(conf)
  return conf


def pca_init_values(cfg, paths):
  """Codes from the PCA of the images (the paper), at no more than 32 px."""
  size = min(cfg['image_size'], 32)
  with tf.Graph().as_default(), tf.Session() as sess:
    batches = [b for _, b in inputs.iterate_in_order(sess, paths, 256, size,
                                                     cfg['tight_crop'])]
  import numpy as np  # pylint: disable=import-outside-toplevel
  return codes_lib.pca_codes(np.concatenate(batches), cfg['latent_dims'], cfg['seed'])


def prepare(argv_overrides=None, chief=True):
  """Resolves config, file list and run directory; returns (cfg, paths, resumed).

  `num_gpus: auto` is resolved here, so config.json records the towers used. A cluster's
  non-chief worker (`chief=False`) writes nothing and checks nothing but the manifest,
  if the chief's run directory is visible.
  """
  overrides = config_overrides() if argv_overrides is None else argv_overrides
  if not FLAGS.run_dir:
    raise config_lib.ConfigError('--run_dir is required')
  cfg, resumed = checkpoints.resolve_for_run(FLAGS.run_dir, FLAGS.preset, overrides)
  cfg = towers_lib.resolve_num_gpus(cfg)
  names = files.list_images(FLAGS.data_dir, FLAGS.file_list)
  if cfg['num_samples']:
    names = names[:cfg['num_samples']]
  skipped = set(check_data.read_skipped(FLAGS.run_dir))  # a resume leaves them out too
  names = [n for n in names if n not in skipped]
  if len(names) < cfg['batch_size']:
    print('note: %d images, fewer than a batch of %d; images repeat within a batch'
          % (len(names), cfg['batch_size']))
  if not chief:
    manifest_path = os.path.join(FLAGS.run_dir, files.MANIFEST_NAME)
    if os.path.exists(manifest_path):
      checkpoints.check_manifest(FLAGS.run_dir, files.build_manifest(FLAGS.data_dir, names))
    return cfg, [os.path.abspath(os.path.join(FLAGS.data_dir, n)) for n in names], resumed
  checkpoints.make_writable_dir(FLAGS.run_dir)
  remap.finish_pending(FLAGS.run_dir)  # a changed-data rewrite that a crash interrupted
  manifest_path = os.path.join(FLAGS.run_dir, files.MANIFEST_NAME)
  manifest = files.build_manifest(FLAGS.data_dir, names)  # hashes every file: once
  if not FLAGS.skip_data_check:
    kept = names
    if not os.path.exists(manifest_path):
      kept = check_data.check_for_training(FLAGS.data_dir, names, FLAGS.run_dir,
                                           FLAGS.skip_bad_images)
    elif FLAGS.allow_changed_data:  # check what is new since the run started
      kept = check_data.check_for_training(
          FLAGS.data_dir, names, FLAGS.run_dir, FLAGS.skip_bad_images,
          only=remap.changed_names(files.read_manifest(manifest_path), manifest))
    if kept != names:  # --skip_bad_images dropped some
      names, manifest = kept, files.keep_only(manifest, kept)
  if FLAGS.allow_changed_data:
    remap.continue_with(FLAGS.run_dir, cfg, manifest)
  checkpoints.check_manifest(FLAGS.run_dir, manifest)
  checkpoints.write_json(os.path.join(FLAGS.run_dir, checkpoints.CONFIG_NAME), cfg)
  checkpoints.record_provenance(FLAGS.run_dir, cfg, FLAGS.data_dir, len(names), resumed)
  paths = [os.path.abspath(os.path.join(FLAGS.data_dir, n)) for n in names]
  return cfg, paths, resumed


def build(cfg, paths, run_dir, pca=None, cluster=None, cache=None):
  """Builds, in the default graph, everything a training session runs; runs nothing.

  Returns (model, scaffold, hooks, progress): the training graph
  (towers.build_training_graph), the Scaffold (its Saver keeps `max_to_keep` checkpoints;
  `pca` codes, if given, are assigned at the first start), and every hook: progress line,
  NaN check, checkpoints every `save_checkpoint_secs`/`_steps` and at the end, scalar
  summaries every `save_summaries_steps`, image summaries every `image_summary_steps`,
  stop at `num_steps`. MonitoredTrainingSession gets no summary or checkpoint cadence of
  its own, so these hooks are the whole schedule (tests inspect them).

  On a `cluster` (call it under cluster.device_setter): this worker reads its share of
  the images, the codes are partitioned, the Saver is sharded (each parameter server
  writes its own variables), and only the chief checkpoints and writes summaries.
  With a `cache` (cache.prepare_for_run), the images are read from it.
  """
  if cfg['deterministic']:
    tf.set_random_seed(cfg['seed'])
  num_towers = cfg['num_gpus']
  chief = cluster is None or cluster.is_chief
  extra, train_op_fn = {}, None
  if cluster is None:
    tower_in = inputs.tower_inputs(cfg, paths, num_towers, cache=cache)
  else:
    share = cluster_lib.worker_share(len(paths), cluster)
    tower_in = inputs.tower_inputs(cfg, [paths[i] for i in share], num_towers, share)
    if cluster.sync_replicas:
      train_op_fn = cluster_lib.sync_train_op_fn(cluster)
    extra = {'codes_partitioner': cluster_lib.codes_partitioner(cluster),
             'train_op_fn': train_op_fn}
  model = towers_lib.build_training_graph(cfg, tower_in, len(paths), **extra)
  init_fn = None
  if pca is not None:
    pca_ph = tf.placeholder(tf.float32, pca.shape)
    assign = model['codes'].assign(pca_ph)
    init_fn = lambda scaffold, sess: sess.run(assign, {pca_ph: pca})
  saver = tf.train.Saver(max_to_keep=cfg['max_to_keep'], sharded=cluster is not None)
  scaffold = tf.train.Scaffold(saver=saver, init_fn=init_fn)
  progress = ProgressHook(model['loss'], cfg['batch_size'] * num_towers,
                          cfg['log_every_steps'], cfg['num_steps'], run_dir if chief else None)
  hooks = [
      progress,
      faults.NonFiniteLossHook(model['loss']),  # before the saver: a NaN step is not saved
  ] + ([] if not chief else [
      checkpoints.saver_hook(run_dir, saver, cfg['save_checkpoint_secs'],
                             cfg['save_checkpoint_steps'],
                             listeners=[faults.FiniteCheckpointListener()]),
      # Scalars: the default summary collection, merged when the scaffold is finalized.
      tf.train.SummarySaverHook(save_steps=cfg['save_summaries_steps'], output_dir=run_dir,
                                scaffold=scaffold),
      ImageSummaryHook(save_steps=cfg['image_summary_steps'], output_dir=run_dir,
                       summary_op=model['image_summary']),
  ])
  if train_op_fn is not None:
    hooks.append(train_op_fn.sync.make_session_run_hook(chief))
  if cluster is not None:
    hooks.append(cluster_lib.StartBarrierHook(cluster))
  if cfg['num_steps']:
    hooks.append(tf.train.StopAtStepHook(last_step=cfg['num_steps']))
  return model, scaffold, hooks, progress


def train(cfg, paths, run_dir, cluster=None, cache_dir=None):
  """Builds the graph and runs MonitoredTrainingSession; returns the last global step.

  On a `cluster`, this process is one worker: it starts its server and trains against
  the parameter servers; the chief (worker 0) initialises, restores and saves.
  With `input_cache: auto`, the decoded-image cache in `cache_dir` (default
  RUN/input_cache) is checked, (re)built if needed, and read instead of the files.
  """
  run_dir = os.path.abspath(run_dir)
  cache = None
  if cfg.get('input_cache', 'off') != 'off':
    if cluster is not None:
      raise config_lib.ConfigError('--input_cache: not supported on a cluster yet (each '
                                   'worker reads its own share of the files); use off')
    cache = cache_lib.prepare_for_run(cfg, paths, run_dir, cache_dir)
  chief = cluster is None or cluster.is_chief
  has_checkpoint = tf.train.latest_checkpoint(run_dir) is not None
  pca = pca_init_values(cfg, paths) \
      if cfg['codes_init'] == 'pca' and not has_checkpoint and chief else None
  graph = tf.Graph()
  with graph.as_default():
    num_towers = cfg['num_gpus']
    config, master = session_config(cfg), ''
    if cluster is not None:
      master = cluster_lib.start_server(cluster, config).target
      config = cluster_lib.session_config(cluster, config)
    with tf.device(cluster_lib.device_setter(cluster) if cluster else None):
      model, scaffold, hooks, progress = build(cfg, paths, run_dir, pca, cluster, cache)
    stopper = _StopOnSignal()
    start, local_steps = None, 0
    session = tf.train.MonitoredTrainingSession(
        master=master, is_chief=chief,
        checkpoint_dir=run_dir, scaffold=scaffold, hooks=hooks,
        save_checkpoint_secs=None, save_checkpoint_steps=None,
        save_summaries_steps=None, log_step_count_steps=None,
        stop_grace_period_secs=cluster_lib.stop_grace_secs(cluster),
        config=config) if chief else cluster_lib.worker_session(scaffold, master, config, hooks)
    with session as sess:
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
          local_steps += 1
    step = progress.step if progress.step is not None else start
    if cluster is not None:
      print('Worker %d ran %d steps; global step %s.'
            % (cluster.task_index, local_steps, step), flush=True)
    if stopper.signal is not None:
      print('Interrupted at step %d; checkpoint saved in %s' % (step, run_dir))
    return step


def _interrupt(signum, frame):  # pylint: disable=unused-argument
  raise KeyboardInterrupt  # until training starts (then _StopOnSignal takes over)


def main(argv):
  del argv
  paths = []
  signal.signal(signal.SIGTERM, _interrupt)
  try:
    cluster = cluster_lib.parse(FLAGS.ps_hosts, FLAGS.worker_hosts, FLAGS.job_name,
                                FLAGS.task_index, FLAGS.sync_replicas, FLAGS.codes_shards)
    if cluster is not None and cluster.job_name == 'ps':
      cluster_lib.run_ps(cluster)  # serves until killed
    cfg, paths, _ = prepare(chief=cluster is None or cluster.is_chief)
    if cluster is not None:
      cluster_lib.check_config(cfg, cluster, len(paths))
    if cfg['deterministic']:
      compat.enable_op_determinism()  # process-wide, so here and not in train()
    step = train(cfg, paths, FLAGS.run_dir, cluster, FLAGS.cache_dir)
  except (config_lib.ConfigError, files.DataError, checkpoints.RunDirError,
          cluster_lib.ClusterError) as e:
    print('error: %s' % e, file=sys.stderr)
    return 2
  except tf.train.NanLossDuringTrainingError as e:
    print('error: %s; training stopped. Nothing was saved after the fault; the newest '
          'checkpoint is %s.' % (e, faults.surviving_checkpoint(FLAGS.run_dir)),
          file=sys.stderr)
    return 3
  except (tf.errors.OpError, OSError) as e:
    root = os.path.abspath(FLAGS.data_dir or '.')
    names = [os.path.relpath(p, root) for p in paths]
    message = faults.describe_training_error(e, root, names, FLAGS.run_dir)
    if message is None:
      raise
    print('error: %s' % message, file=sys.stderr)
    return 4
  except KeyboardInterrupt:  # before training started, or a second Ctrl-C
    print('Interrupted; the newest checkpoint is %s.'
          % faults.surviving_checkpoint(FLAGS.run_dir), file=sys.stderr)
    return 130
  print('Done at step %d. Run directory: %s  (TensorBoard: tensorboard --logdir %s)'
        % (step, FLAGS.run_dir, FLAGS.run_dir))
  return 0


def run():
  app.run(main)


if __name__ == '__main__':
  run()
