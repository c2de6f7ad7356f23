"""The training run: prepare the run directory, build the graph and hooks, train.

`prepare_run` resolves the settings, the file list and the run directory (new or
resumed); `initial_inputs` builds the input cache and the PCA codes; `build_training`
builds everything a session runs, purely; `train` runs it in a MonitoredTrainingSession.
Where it runs (one process or a cluster) is the strategy's business (distribute.py).
training/launch.py, and cli/train.py around it, are the program.
"""
import os

import numpy as np

from glo_tf1 import rundir
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.deploy import devices
from glo_tf1.deploy import placement
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import towers as towers_lib
from glo_tf1.rundir import checkpoints as run_checkpoints
from glo_tf1.rundir import config as run_config
from glo_tf1.rundir import lock as run_lock
from glo_tf1.rundir import manifest as run_manifest
from glo_tf1.rundir import provenance as run_provenance
from glo_tf1.training import board
from glo_tf1.training import distribute
from glo_tf1.training import faults
from glo_tf1.training import hooks as hooks_lib
from glo_tf1.training import input_cache
from glo_tf1.training import remap


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
    run_dir: the run directory, new or to resume (launch.run refuses none given).
    data_dir, file_list: the training images (files.list_images).
    preset: a preset name for a new run (default blog; a resumed run keeps its own).
    overrides: {setting: value} given by the user.
    chief: False for a cluster's non-chief worker, which writes and checks nothing here
      (distribute.Worker compares its images with the chief's).
    skip_data_check, skip_bad_images, allow_changed_data: see cli/train.py's flags.
    max_pixels: the data check's limit (--max_megapixels).
  `num_gpus: auto` (and 0) is resolved here, so config.json records the towers used; a
  machine whose GPUs TensorFlow cannot see (devices.GpuSetupError), a driver too old for
  them (devices.DriverTooOldError) and a precision the towers' devices cannot run fast
  (precision.PrecisionError) stop here, before anything is written. The GPUs used are
  named and claimed here (devices.start_gpus), before any session.
  """
  cfg, resumed = run_config.resolve_for_run(run_dir, preset, overrides or {})
  cfg = devices.resolve_num_gpus(cfg)
  devices.check_precision(cfg)
  devices.start_gpus(cfg)
  names = _image_names(cfg, run_dir, data_dir, file_list)
  if not chief:  # its images are compared with the chief's (distribute.Worker)
    return cfg, [os.path.abspath(os.path.join(data_dir, n)) for n in names], resumed
  run_lock.make_writable_dir(run_dir)
  remap.finish_pending(run_dir)  # a changed-data rewrite that a crash interrupted
  run_checkpoints.repair_checkpoints(run_dir)  # relative paths, rebuilt index, no torn newest
  manifest = files.build_manifest(data_dir, names)  # hashes every file: once
  if not skip_data_check:
    names, manifest = _checked_images(cfg, run_dir, data_dir, names, manifest,
                                      skip_bad_images, allow_changed_data, max_pixels)
  if allow_changed_data:
    remap.continue_with(run_dir, cfg, manifest)
  run_manifest.check_manifest(run_dir, manifest)
  run_config.write_config(run_dir, cfg)
  run_provenance.record_provenance(run_dir, cfg, data_dir, len(names), resumed)
  paths = [os.path.abspath(os.path.join(data_dir, n)) for n in names]
  return cfg, paths, resumed


def _image_names(cfg, run_dir, data_dir, file_list):
  """The training images' names: the listing, cut to `num_samples`, less the images an
  earlier --skip_bad_images left out (a resume leaves them out too)."""
  names = files.list_images(data_dir, file_list)
  if cfg['num_samples']:
    names = names[:cfg['num_samples']]
  skipped = set(data_check.read_skipped(run_dir))
  names = [n for n in names if n not in skipped]
  if len(names) < cfg['batch_size']:
    print('note: %d images, fewer than a batch of %d; images repeat within a batch'
          % (len(names), cfg['batch_size']))
  return names


def _checked_images(cfg, run_dir, data_dir, names, manifest, skip_bad_images,
                    allow_changed_data, max_pixels):
  """The data check before training: every image of a new run, or with
  `allow_changed_data` those new since the run started; returns (names, manifest) less
  the images --skip_bad_images dropped."""
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
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
    return kept, files.keep_only(manifest, kept)
  return names, manifest


def config_summary(cfg):
  """The notebook's `config` text summary: every resolved setting, one per line."""
  text = '### Configuration\n\n' + '\n'.join(
      '    %s = %s' % (k, cfg[k]) for k in sorted(cfg))
  return tf.summary.text('config', tf.constant(text), collections=[])


def initial_inputs(cfg, paths, run_dir, cache_dir=None, chief=True):
  """What training needs before its graph: (cache, pca).

  cache: with `input_cache: auto`, the decoded-image cache in `cache_dir` (default
  RUN/input_cache), checked and (re)built if needed, else None. pca: the PCA codes
  (`codes_init: pca`) for a run that has no checkpoint yet, computed by the chief (it
  initialises the variables), else None.
  """
  run_dir = os.path.abspath(run_dir)
  cache = None
  if cfg['input_cache'] != 'off':
    cache = input_cache.prepare_run_cache(cfg, paths, run_dir, cache_dir)
  checkpoints, _ = run_checkpoints.find_checkpoints(run_dir)
  pca = pca_init_values(cfg, paths) \
      if cfg['codes_init'] == 'pca' and not checkpoints and chief else None
  return cache, pca


def _pca_init_fn(model, pca):
  """The Scaffold's init_fn: assigns the `pca` codes at the first start (None: none)."""
  if pca is None:
    return None
  pca_ph = tf.placeholder(tf.float32, pca.shape)
  assign = model['codes'].assign(pca_ph)
  return lambda scaffold, sess: sess.run(assign, {pca_ph: pca})


def _writer_hooks(cfg, model, saver, scaffold, run_dir, after, paths):
  """The chief's hooks: checkpoints, scalar, image and text summaries (the last step's
  too), the settings for HParams, the codes for the Projector (board.py), JPEG grids."""
  hooks = [
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
  return hooks


def build_training(cfg, paths, run_dir, pca=None, strategy=distribute.LOCAL, cache=None):
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

  The `strategy` (distribute.py; call it under strategy.device_scope()) answers what
  differs on a cluster: the images this process reads, the codes' partitioner and the
  train op, the Saver, who writes, and its own hooks. With a `cache`
  (initial_inputs), the images are read from it.
  """
  if cfg['deterministic']:
    tf.set_random_seed(cfg['seed'])
  # The input pipeline on the host (queues have CPU kernels only); the towers take the
  # batches from there (devices.INPUT_DEVICE, model_deploy's inputs_device).
  with tf.device(devices.INPUT_DEVICE):
    tower_in = strategy.tower_inputs(cfg, paths, cache)
  cfg, options = strategy.model_options(cfg)
  model = towers_lib.build_training_graph(cfg, tower_in, len(paths),
                                         devices.deployment(cfg), **options)
  board.histogram_summaries(model['codes'], len(paths), cfg['seed'])  # with the scalars
  init_fn = _pca_init_fn(model, pca)
  saver = strategy.saver(cfg['max_to_keep'])
  scaffold = tf.train.Scaffold(saver=saver, init_fn=init_fn)
  after = strategy.exact_step_after(model['train_op'])
  progress = hooks_lib.ProgressHook(model['loss'], cfg['batch_size'] * cfg['num_gpus'],
                                    cfg['log_every_steps'], cfg['num_steps'],
                                    run_dir if strategy.is_chief else None, after)
  hooks = [progress, faults.NonFiniteLossHook(model['loss'], after)]  # NaN: not saved
  if strategy.is_chief:
    hooks += _writer_hooks(cfg, model, saver, scaffold, run_dir, after, paths)
  hooks += strategy.hooks()
  if cfg['num_steps']:
    hooks.append(tf.train.StopAtStepHook(last_step=cfg['num_steps']))
  return model, scaffold, hooks, progress


def interrupted_line(step, run_dir, chief):
  """What a stopped trainer says. Only the chief saves (MonitoredTrainingSession's saver
  runs on the chief alone, when it stops), so another worker must not claim a save."""
  if chief:
    return 'Interrupted at step %d; checkpoint saved in %s' % (step, run_dir)
  return ('Interrupted at step %d; this worker saves nothing: the chief saves the checkpoint '
          'in %s when it stops' % (step, run_dir))


def check_graph(cfg, graph, run_dir, chief=True):
  """Refuses now, never at step 1: a --deterministic graph with an op that is not, and
  (the chief, which restores) a checkpoint that does not fit the graph's variables."""
  if cfg['deterministic']:
    placement.check_deterministic(graph, gpus=devices.towers_on_gpu(cfg))
  checkpoints, _ = run_checkpoints.find_checkpoints(run_dir)
  if checkpoints and chief:  # a clear error, not a restore traceback
    run_checkpoints.check_fits(checkpoints[-1],
                               run_checkpoints.variable_shapes(tf.global_variables()),
                               os.path.join(run_dir, rundir.CONFIG_NAME))


def train(cfg, paths, run_dir, strategy=distribute.LOCAL, cache=None, pca=None):
  """Builds the graph and runs MonitoredTrainingSession; returns the last global step.

  The notebook's training cell: the towers and train op (build_training), the session,
  `while not sess.should_stop(): sess.run(train_op)`. The `strategy` (distribute.py)
  says where it runs: one process, or one worker of a cluster, whose chief (worker 0)
  initialises, restores and saves. `cache` and `pca`: initial_inputs.
  """
  run_dir = os.path.abspath(run_dir)
  graph = tf.Graph()
  with graph.as_default():
    with strategy.device_scope():
      model, scaffold, hooks, progress = build_training(cfg, paths, run_dir, pca,
                                                        strategy, cache)
    check_graph(cfg, graph, run_dir, strategy.is_chief)
    stopper = hooks_lib.StopOnSignal()
    try:
      start, local_steps = None, 0
      with strategy.session(scaffold, hooks, run_dir, devices.session_config(cfg)) as sess:
        start = sess.run_step_fn(
            lambda step_context: step_context.session.run(model['global_step']))
        if cfg['num_steps'] and start >= cfg['num_steps']:
          print('Run %s is already at step %d >= --num_steps=%d; nothing to do.'
                % (run_dir, start, cfg['num_steps']))
        else:
          print('%s at step %d: %d images, %s x batch %d, %s, %s, preset %s.'
                % ('Resuming' if start else 'Starting', start, len(paths),
                   devices.describe_towers(cfg), cfg['batch_size'],
                   strategy.describe_variables(cfg), cfg['precision'], cfg['preset']),
                flush=True)
          while not sess.should_stop() and stopper.signal is None:
            sess.run(model['train_op'])
            local_steps += 1
      step = progress.step if progress.step is not None else start
      strategy.finish(local_steps, step)
      if stopper.signal is not None:
        print(interrupted_line(step, run_dir, strategy.is_chief))
      return step
    finally:  # the caller's handlers again (a notebook, training.launch)
      stopper.restore()
