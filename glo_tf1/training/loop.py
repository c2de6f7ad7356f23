"""The training run: prepare the run directory, build the graph and hooks, train.

`prepare_run` resolves the settings, the file list and the run directory (new or
resumed); `build_training` builds everything a session runs, purely; `train` runs it in a
MonitoredTrainingSession. cli/train.py is the program around them.
"""
import os

import numpy as np

from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import cache as cache_lib
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import devices
from glo_tf1.model import placement
from glo_tf1.model import towers as towers_lib
from glo_tf1.training import board
from glo_tf1.training import cluster as cluster_lib
from glo_tf1.training import faults
from glo_tf1.training import hooks as hooks_lib
from glo_tf1.training import input_cache
from glo_tf1.training import remap
from glo_tf1.training import run_dir as rundir


def pca_init_values(cfg, paths):
  """Codes from the PCA of the images (the paper), resized to at most pca_image_size px."""
  size = min(cfg['image_size'], cfg['pca_image_size'])
  with tf.Graph().as_default(), tf.Session() as sess:
    batches = [b for _, b in pipelines.iterate_in_order(sess, paths, 256, size,
                                                        cfg['tight_crop'], cfg['channels'])]
  return codes_lib.pca_codes(np.concatenate(batches), cfg['latent_dims'], cfg['seed'])


def prepare_run(run_dir, data_dir, file_list=None, preset=None, overrides=None, chief=True,
                skip_data_check=False, skip_bad_images=False, allow_changed_data=False,
                max_pixels=data_check.DEFAULT_MAX_PIXELS):
  """Resolves settings, file list and run directory; returns (cfg, paths, resumed).

  Args:
    run_dir: the run directory, new or to resume.
    data_dir, file_list: the training images (files.list_images).
    preset: a preset name for a new run (default blog; a resumed run keeps its own).
    overrides: {setting: value} given by the user.
    chief: False for a cluster's non-chief worker, which writes and checks nothing here
      (`train` compares its images with the chief's).
    skip_data_check, skip_bad_images, allow_changed_data: see cli/train.py's flags.
    max_pixels: the data check's limit (--max_megapixels).
  `num_gpus: auto` (and 0) is resolved here, so config.json records the towers used; a
  machine whose GPUs TensorFlow cannot see (devices.GpuSetupError), a driver too old for
  them (devices.DriverTooOldError) and a precision the towers' devices cannot run fast
  (precision.PrecisionError) stop here, before anything is written. The GPUs used are
  named and claimed here (devices.start_gpus), before any session.
  """
  if not run_dir:
    raise settings.ConfigError('--run_dir is required')
  cfg, resumed = rundir.resolve_for_run(run_dir, preset, overrides or {})
  cfg = devices.resolve_num_gpus(cfg)
  devices.check_precision(cfg)
  devices.start_gpus(cfg)
  names = files.list_images(data_dir, file_list)
  if cfg['num_samples']:
    names = names[:cfg['num_samples']]
  skipped = set(data_check.read_skipped(run_dir))  # a resume leaves them out too
  names = [n for n in names if n not in skipped]
  if len(names) < cfg['batch_size']:
    print('note: %d images, fewer than a batch of %d; images repeat within a batch'
          % (len(names), cfg['batch_size']))
  if not chief:  # its images are compared with the chief's in `train`
    return cfg, [os.path.abspath(os.path.join(data_dir, n)) for n in names], resumed
  rundir.make_writable_dir(run_dir)
  remap.finish_pending(run_dir)  # a changed-data rewrite that a crash interrupted
  rundir.repair_checkpoints(run_dir)  # relative paths, a rebuilt index, no torn newest
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
  manifest = files.build_manifest(data_dir, names)  # hashes every file: once
  if not skip_data_check:
    kept = names
    if not os.path.exists(manifest_path):
      kept = data_check.check_for_training(data_dir, names, run_dir,
                                           skip_bad_images, max_pixels=max_pixels,
                                           channels=cfg['channels'])
    elif allow_changed_data:  # check what is new since the run started
      kept = data_check.check_for_training(
          data_dir, names, run_dir, skip_bad_images, max_pixels=max_pixels,
          only=remap.changed_names(files.read_manifest(manifest_path), manifest),
          channels=cfg['channels'])
    if kept != names:  # --skip_bad_images dropped some
      names, manifest = kept, files.keep_only(manifest, kept)
  if allow_changed_data:
    remap.continue_with(run_dir, cfg, manifest)
  rundir.check_manifest(run_dir, manifest)
  rundir.write_config(run_dir, cfg)
  rundir.record_provenance(run_dir, cfg, data_dir, len(names), resumed)
  paths = [os.path.abspath(os.path.join(data_dir, n)) for n in names]
  return cfg, paths, resumed


def config_summary(cfg):
  """The notebook's `config` text summary: every resolved setting, one per line."""
  text = '### Configuration\n\n' + '\n'.join(
      '    %s = %s' % (k, cfg[k]) for k in sorted(cfg))
  return tf.summary.text('config', tf.constant(text), collections=[])


def build_training(cfg, paths, run_dir, pca=None, cluster=None, cache=None):
  """Builds, in the default graph, everything a training session runs; runs nothing.

  Returns (model, scaffold, hooks, progress): the training graph
  (towers.build_training_graph), the Scaffold (its Saver keeps `max_to_keep` checkpoints;
  `pca` codes, if given, are assigned at the first start), and every hook: progress line,
  NaN check, checkpoints every `save_checkpoint_secs`/`_steps` and at the end, scalar
  summaries and histograms every `save_summaries_steps`, image summaries every
  `image_summary_steps` (both also at `num_steps`), JPEG grids every `save_images_steps`,
  the configuration as a text summary at each start, the settings for HParams and the
  codes for the Projector (board.py), stop at `num_steps`. MonitoredTrainingSession gets
  no summary or checkpoint cadence of its own, so these hooks are the whole schedule
  (tests inspect them).

  On a `cluster` (call it under cluster.device_setter): this worker reads its share of
  the images, the codes are partitioned, the Saver is sharded (each parameter server
  writes its own variables), and only the chief checkpoints and writes summaries.
  With a `cache` (input_cache.prepare_run_cache), the images are read from it.
  """
  if cfg['deterministic']:
    tf.set_random_seed(cfg['seed'])
  num_towers = cfg['num_gpus']
  chief = cluster is None or cluster.is_chief
  extra, train_op_fn = {}, None
  # The input pipeline on the host (queues have CPU kernels only); the towers take the
  # batches from there (devices.INPUT_DEVICE, model_deploy's inputs_device).
  with tf.device(devices.INPUT_DEVICE):
    if cluster is None:
      tower_in = pipelines.tower_inputs(cfg, paths, num_towers, cache=cache)
    else:
      share = cluster_lib.worker_share(len(paths), cluster)
      tower_in = pipelines.tower_inputs(cfg, [paths[i] for i in share], num_towers, share)
  if cluster is not None:
    # The parameter servers hold the variables: replica_device_setter moves `/cpu:0`
    # variables to them (a GPU request would be merged into a ps device it lacks).
    cfg = cfg.replace(variable_device='cpu')
    if cluster.sync_replicas:
      train_op_fn = cluster_lib.sync_train_op_fn(cluster)
    extra = {'codes_partitioner': cluster_lib.codes_partitioner(cluster),
             'train_op_fn': train_op_fn}
  model = towers_lib.build_training_graph(cfg, tower_in, len(paths), **extra)
  board.histogram_summaries(model['codes'], len(paths), cfg['seed'])  # with the scalars
  init_fn = None
  if pca is not None:
    pca_ph = tf.placeholder(tf.float32, pca.shape)
    assign = model['codes'].assign(pca_ph)
    init_fn = lambda scaffold, sess: sess.run(assign, {pca_ph: pca})
  # Relative paths in RUN/checkpoint: a copied or moved run directory resumes from, and
  # prunes, its own files (TensorFlow's default records absolute paths).
  saver = tf.train.Saver(max_to_keep=cfg['max_to_keep'], sharded=cluster is not None,
                         save_relative_paths=True)
  scaffold = tf.train.Scaffold(saver=saver, init_fn=init_fn)
  # One process: the hooks read the step after the train op (exact); a cluster worker's
  # step also moves with the others, so they keep the read-during-the-run + 1.
  after = model['train_op'] if cluster is None else None
  progress = hooks_lib.ProgressHook(model['loss'], cfg['batch_size'] * num_towers,
                                    cfg['log_every_steps'], cfg['num_steps'],
                                    run_dir if chief else None, after)
  hooks = [
      progress,
      # before the saver: a NaN step is not saved
      faults.NonFiniteLossHook(model['loss'], after),
  ]
  if chief:
    hooks += [
        hooks_lib.saver_hook(run_dir, saver, cfg['save_checkpoint_secs'],
                             cfg['save_checkpoint_steps'],
                             listeners=[faults.FiniteCheckpointListener()]),
        # Scalars: the default summary collection, merged when the scaffold is finalized.
        hooks_lib.scalar_summary_hook(run_dir, scaffold, cfg['save_summaries_steps'],
                                      cfg['num_steps']),
        hooks_lib.ImageSummaryHook(save_steps=cfg['image_summary_steps'], output_dir=run_dir,
                                   summary_op=model['image_summary'],
                                   last_step=cfg['num_steps']),
        hooks_lib.TextSummaryHook(config_summary(cfg), run_dir),
        board.HParamsHook(cfg, run_dir),
        board.ProjectorHook(model['codes'], cfg, paths, run_dir),
    ]
    if cfg['save_images_steps']:
      hooks.append(hooks_lib.SaveImagesHook(model['grids'], os.path.join(run_dir, 'images'),
                                            cfg['save_images_steps'],
                                            cfg['stretch_saved_images'], after))
  if train_op_fn is not None:
    hooks.append(train_op_fn.sync.make_session_run_hook(chief))
  if cluster is not None:
    hooks.append(cluster_lib.StartBarrierHook(cluster))
  if cfg['num_steps']:
    hooks.append(tf.train.StopAtStepHook(last_step=cfg['num_steps']))
  return model, scaffold, hooks, progress


def train(cfg, paths, run_dir, cluster=None, cache_dir=None, worker_manifest=None):
  """Builds the graph and runs MonitoredTrainingSession; returns the last global step.

  On a `cluster`, this process is one worker: it starts its server and trains against
  the parameter servers; the chief (worker 0) initialises, restores and saves. A
  non-chief worker's `worker_manifest` (files.build_manifest of its images) is compared
  with the chief's RUN/manifest.tsv once the chief is ready, before its first step.
  With `input_cache: auto`, the decoded-image cache in `cache_dir` (default
  RUN/input_cache) is checked, (re)built if needed, and read instead of the files.
  """
  run_dir = os.path.abspath(run_dir)
  cache = None
  if cfg['input_cache'] != 'off':
    if cluster is not None:
      raise settings.ConfigError('--input_cache: not supported on a cluster yet (each '
                                   'worker reads its own share of the files); use off')
    cache = input_cache.prepare_run_cache(cfg, paths, run_dir, cache_dir)
  chief = cluster is None or cluster.is_chief
  checkpoints, _ = rundir.find_checkpoints(run_dir)
  has_checkpoint = bool(checkpoints)
  pca = pca_init_values(cfg, paths) \
      if cfg['codes_init'] == 'pca' and not has_checkpoint and chief else None
  graph = tf.Graph()
  with graph.as_default():
    config, master = devices.session_config(cfg), ''
    if cluster is not None:
      master = cluster_lib.start_server(cluster, config).target
      config = cluster_lib.session_config(cluster, config)
    with tf.device(cluster_lib.device_setter(cluster) if cluster else None):
      model, scaffold, hooks, progress = build_training(cfg, paths, run_dir, pca, cluster, cache)
    if cfg['deterministic']:  # refused now, never at step 1
      placement.check_deterministic(graph, gpus=devices.towers_on_gpu(cfg))
    if has_checkpoint and chief:  # a clear error, not a restore traceback
      rundir.check_fits(checkpoints[-1], rundir.variable_shapes(tf.global_variables()),
                        os.path.join(run_dir, rundir.CONFIG_NAME))
    stopper = hooks_lib.StopOnSignal()
    try:
      start, local_steps = None, 0
      session = tf.train.MonitoredTrainingSession(
          master=master, is_chief=chief,
          checkpoint_dir=run_dir, scaffold=scaffold, hooks=hooks,
          save_checkpoint_secs=None, save_checkpoint_steps=None,
          save_summaries_steps=None, log_step_count_steps=None,
          stop_grace_period_secs=cluster_lib.stop_grace_secs(cluster),
          config=config) if chief else cluster_lib.worker_session(scaffold, master, config,
                                                                  hooks)
      with session as sess:
        if worker_manifest is not None:  # the chief is ready: its manifest is written
          rundir.check_same_images(run_dir, worker_manifest)
        start = sess.run_step_fn(
            lambda step_context: step_context.session.run(model['global_step']))
        if cfg['num_steps'] and start >= cfg['num_steps']:
          print('Run %s is already at step %d >= --num_steps=%d; nothing to do.'
                % (run_dir, start, cfg['num_steps']))
        else:
          print('%s at step %d: %d images, %s x batch %d, %s, %s, preset %s.'
                % ('Resuming' if start else 'Starting', start, len(paths),
                   devices.describe_towers(cfg), cfg['batch_size'],
                   devices.describe_variables(cfg, cluster=cluster is not None),
                   cfg['precision'], cfg['preset']), flush=True)
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
    finally:  # the caller's handlers again (a notebook, training.launch)
      stopper.restore()
