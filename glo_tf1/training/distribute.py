"""Where training runs: one process or a cluster, behind one interface.

The training loop (loop.py) asks a strategy everything that differs between a single
process and TensorFlow 1's between-graph replication (cluster.py), and never branches on
which it has, as slim's `DeploymentConfig` (deployment/model_deploy.py) answers the
devices and tf_cnn_benchmarks' `VariableMgr` classes (variable_mgr.py) answer the
variable placement and updates for a benchmark loop that does not branch on the mode:

* `running(run_dir)`: around the whole run: the run directory's lock for its one writer;
  a worker first checks the cluster and then watches the parameter servers;
* `check(cfg, data_dir, paths)`: refuses settings the strategy cannot run;
* `device_scope()`, `tower_inputs`: where the graph's ops go, which images this
  process reads;
* `model_options(cfg)`: the codes partitioner and the train-op wrapper (sync replicas);
* `saver(max_to_keep)`: sharded on a cluster (each parameter server writes its own);
* `is_chief`: who writes checkpoints, summaries and the progress file;
* `exact_step_after(train_op)`, `hooks()`: what the hooks read the step after, and the
  strategy's own hooks (barrier, sync replicas);
* `session(...)`: the MonitoredSession this process trains in;
* `describe_variables(cfg)`, `finish(...)`: the start and end lines.

`for_cluster(cluster)` picks one: `Local` (no cluster), `Worker`, or `ParameterServer`,
which only serves. One strategy instance builds one training graph.
"""
import contextlib
import os

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.deploy import devices
from glo_tf1.rundir import lock as run_lock
from glo_tf1.rundir import manifest as run_manifest
from glo_tf1.training import cluster as cluster_lib


class Local:
  """One process: every image, every variable here, a plain Saver, the chief's session."""

  is_chief = True  # writes the checkpoints, summaries and progress file
  handles_signals = True  # SIGTERM and SIGHUP save and stop (launch.run)
  sharded = False  # the Saver writes one file
  stop_grace_secs = 120  # TensorFlow's default

  def serve(self):
    """A parameter server serves here and never returns; nothing to do otherwise."""

  @contextlib.contextmanager
  def running(self, run_dir):
    """One writer per run directory: RUN/lock is held until training ends."""
    with run_lock.exclusive(run_dir):
      yield

  def check(self, cfg, data_dir, paths):  # pylint: disable=unused-argument
    """Raises settings.UserError when `cfg` cannot run here; one process runs them all."""

  def device_scope(self):
    """The scope the training graph is built under (the towers place their own ops)."""
    return contextlib.nullcontext()

  def tower_inputs(self, cfg, paths, cache=None):
    """Every image, from the files or the decoded-image `cache`."""
    return pipelines.tower_inputs(cfg, paths, cfg['num_gpus'], cache=cache)

  def model_options(self, cfg):
    """(cfg, towers.build_training_graph keyword arguments): one codes table, the
    optimizers' own train op."""
    return cfg, {}

  def saver(self, max_to_keep):
    """The run's Saver. Relative paths in RUN/checkpoint: a copied or moved run directory
    resumes from, and prunes, its own files (TensorFlow's default records absolute ones)."""
    return tf.train.Saver(max_to_keep=max_to_keep, sharded=self.sharded,
                          save_relative_paths=True)

  def exact_step_after(self, train_op):
    """What the hooks read the global step after: the train op, so the step is exact."""
    return train_op

  def hooks(self):
    """The strategy's own session hooks, after the run's."""
    return []

  def session(self, scaffold, hooks, run_dir, config):
    """The MonitoredTrainingSession that initialises or restores, and checkpoints through
    the hooks only (no cadence of its own)."""
    return self._chief_session(scaffold, hooks, run_dir, config, master='')

  def _chief_session(self, scaffold, hooks, run_dir, config, master):
    return tf.train.MonitoredTrainingSession(
        master=master, is_chief=True, checkpoint_dir=run_dir, scaffold=scaffold,
        hooks=hooks, save_checkpoint_secs=None, save_checkpoint_steps=None,
        save_summaries_steps=None, log_step_count_steps=None,
        stop_grace_period_secs=self.stop_grace_secs, config=config)

  def describe_variables(self, cfg):
    return devices.describe_variables(cfg)

  def finish(self, local_steps, step):
    """Says what this process did, where a cluster needs it said."""


LOCAL = Local()


class Worker(Local):
  """A cluster worker (cluster.py): its share of the images, the variables on the parameter
  servers (codes partitioned, a sharded Saver), asynchronous or synchronous updates, a
  start barrier; worker 0 is the chief, which initialises, restores and writes."""

  sharded = True  # each parameter server writes its own variables

  def __init__(self, cluster):
    self.cluster = cluster
    self._sync_fn = None
    self._manifest = None  # a non-chief worker's images, compared with the chief's

  @property
  def is_chief(self):
    return self.cluster.is_chief

  @property
  def stop_grace_secs(self):
    return cluster_lib.stop_grace_secs(self.cluster)

  @contextlib.contextmanager
  def running(self, run_dir):
    """The same cluster as the parameter servers' first; then the chief holds RUN/lock and
    every worker stops when a parameter server stays away (cluster.ServerWatch)."""
    cluster_lib.check_same_cluster(self.cluster)
    lock = run_lock.exclusive(run_dir) if self.is_chief else contextlib.nullcontext()
    with lock, cluster_lib.ServerWatch(self.cluster):
      yield

  def check(self, cfg, data_dir, paths):
    cluster_lib.check_config(cfg, self.cluster, len(paths))
    if cfg['deterministic']:
      print('note: --deterministic on a cluster: each worker reads its images in a '
            'fixed order, but the updates reach the parameter servers in arrival '
            'order, so reruns are not bit for bit (docs/gpus.md).', flush=True)
    if cfg['input_cache'] != 'off':
      raise settings.ConfigError('--input_cache: not supported on a cluster yet (each '
                                 'worker reads its own share of the files); use off')
    if not self.is_chief:  # compared with the chief's manifest once it is ready
      self._manifest = files.build_manifest(
          data_dir, [os.path.relpath(p, os.path.abspath(data_dir)) for p in paths])

  def device_scope(self):
    """Variables round-robin on the parameter servers, other ops on this worker."""
    return tf.device(cluster_lib.device_setter(self.cluster))

  def tower_inputs(self, cfg, paths, cache=None):
    """This worker's share of the images, each with its global code index."""
    del cache  # refused by `check`
    share = cluster_lib.worker_share(len(paths), self.cluster)
    return pipelines.tower_inputs(cfg, [paths[i] for i in share], cfg['num_gpus'], share)

  def model_options(self, cfg):
    """The parameter servers hold the variables: replica_device_setter moves `/cpu:0`
    variables to them (a GPU request would be merged into a ps device it lacks)."""
    if self.cluster.sync_replicas:
      self._sync_fn = cluster_lib.sync_train_op_fn(self.cluster)
    return cfg.replace(variable_device='cpu'), {
        'codes_partitioner': cluster_lib.codes_partitioner(self.cluster),
        'train_op_fn': self._sync_fn}

  def exact_step_after(self, train_op):
    """None: a worker's step also moves with the others, so the hooks keep the
    read-during-the-run + 1."""
    return None

  def hooks(self):
    """The sync replicas' hook (every worker runs it) and the start barrier."""
    sync = [] if self._sync_fn is None else [
        self._sync_fn.sync.make_session_run_hook(self.is_chief)]
    return sync + [cluster_lib.StartBarrierHook(self.cluster)]

  @contextlib.contextmanager
  def session(self, scaffold, hooks, run_dir, config):
    """This worker's server, then a session that sees only the parameter servers and this
    worker; a non-chief waits for the chief's variables, then checks its images."""
    master = cluster_lib.start_server(self.cluster, config).target
    print(cluster_lib.started_line(self.cluster), flush=True)
    config = cluster_lib.session_config(self.cluster, config)
    if self.is_chief:
      with self._chief_session(scaffold, hooks, run_dir, config, master) as sess:
        yield sess
      return
    with cluster_lib.worker_session(scaffold, master, config, hooks) as sess:
      # the chief's manifest is written
      run_manifest.check_same_images(run_dir, self._manifest)
      yield sess

  def describe_variables(self, cfg):
    return devices.describe_variables(cfg, cluster=True)

  def finish(self, local_steps, step):
    print('Worker %d ran %d steps; global step %s.'
          % (self.cluster.task_index, local_steps, step), flush=True)


class ParameterServer(Worker):
  """A parameter server: holds its variables and serves until killed (cluster.run_ps).
  It keeps the signal handlers it started with."""

  handles_signals = False

  def serve(self):
    cluster_lib.run_ps(self.cluster)  # never returns


def for_cluster(cluster):
  """The strategy of this process: Local for None (one process), else its cluster role."""
  if cluster is None:
    return LOCAL
  return ParameterServer(cluster) if cluster.job_name == 'ps' else Worker(cluster)
