"""Training across processes and machines on TensorFlow 1's own distributed runtime.

Between-graph replication, as TF1 did it: every process runs a `tf.train.Server`; the
parameter servers (`--job_name ps`) only hold variables and join forever; each worker
builds the whole training graph under `replica_device_setter`, so variables go to the
parameter servers and compute stays on the worker (its towers, see towers.py).

* The codes table is a PartitionedVariable of `codes_shards` row blocks (default: one per
  parameter server), placed round-robin, so no process holds the whole (N, dims) table;
  lookups and sparse updates touch only the blocks of the batch's rows (codes.py). A
  checkpoint stores the blocks as slices of the one variable `codes`, so it restores into
  a single process with any or no partitioning, and the other way round.
* Worker t of W trains on the images i with i % W == t (its share, reshuffled every
  epoch by its own producer), so in an epoch the workers see disjoint images.
* Updates are asynchronous (each worker applies its own gradients) unless
  `--sync_replicas`: then a SyncReplicasOptimizer averages one gradient per worker per step.
* Worker 0 is the chief: it initialises or restores the variables and writes checkpoints
  (a sharded Saver: each parameter server writes its own variables, so the run directory
  must be a folder they all share) and summaries; the others wait until the variables
  are ready (MonitoredTrainingSession), and all start stepping together (StartBarrierHook).
"""
import collections
import signal
import time

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import optimizers


class ClusterError(settings.UserError):
  """The cluster flags do not describe a usable cluster. The message names the flag."""


class Cluster(collections.namedtuple(
    'Cluster', 'ps_hosts worker_hosts job_name task_index sync_replicas codes_shards')):
  """One process's view of the cluster (see `parse`)."""

  @property
  def num_ps(self):
    return len(self.ps_hosts)

  @property
  def num_workers(self):
    return len(self.worker_hosts)

  @property
  def is_chief(self):
    return self.job_name == 'worker' and self.task_index == 0

  @property
  def worker_device(self):
    return '/job:worker/task:%d' % self.task_index

  def spec(self):
    return tf.train.ClusterSpec({'ps': list(self.ps_hosts), 'worker': list(self.worker_hosts)})


def _hosts(flag, value):
  hosts = [h.strip() for h in (value or []) if h.strip()]
  if not hosts:
    raise ClusterError('--%s: needs at least one host:port' % flag)
  for h in hosts:
    host, _, port = h.rpartition(':')
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
      raise ClusterError('--%s: %r is not host:port' % (flag, h))
  if len(set(hosts)) != len(hosts):
    raise ClusterError('--%s: a host:port is listed twice in %s' % (flag, ','.join(hosts)))
  return tuple(hosts)


def parse(ps_hosts, worker_hosts, job_name, task_index, sync_replicas=False,
          codes_shards=None):
  """The Cluster of this process, or None for a single-process run (no cluster flags).

  Args:
    ps_hosts, worker_hosts: lists of 'host:port'.
    job_name: 'ps' or 'worker'.
    task_index: this process's position in its job's list.
    sync_replicas: synchronous updates (SyncReplicasOptimizer) instead of asynchronous.
    codes_shards: row blocks of the codes table (default: the number of parameter servers).
  Raises:
    ClusterError: naming the flag at fault.
  """
  if not ps_hosts and not worker_hosts and not job_name:
    return None
  ps = _hosts('ps_hosts', ps_hosts)
  workers = _hosts('worker_hosts', worker_hosts)
  if set(ps) & set(workers):
    raise ClusterError('--ps_hosts and --worker_hosts share %s'
                       % ','.join(sorted(set(ps) & set(workers))))
  if job_name not in ('ps', 'worker'):
    raise ClusterError('--job_name: must be ps or worker, got %r' % (job_name,))
  n = len(ps) if job_name == 'ps' else len(workers)
  if task_index is None or not 0 <= task_index < n:
    raise ClusterError('--task_index: must be in [0, %d) for job %s, got %r'
                       % (n, job_name, task_index))
  shards = len(ps) if codes_shards is None else codes_shards
  if not isinstance(shards, int) or shards < 1:
    raise ClusterError('--codes_shards: must be a positive integer, got %r' % (codes_shards,))
  return Cluster(ps, workers, job_name, task_index, bool(sync_replicas), shards)


def check_config(cfg, cluster, num_images):
  """Raises ClusterError when `cfg` cannot run on `cluster`."""
  if cfg['input_pipeline'] != 'fixed':
    raise ClusterError('--input_pipeline=%s: a worker reads its share of the images through '
                       'the fixed pipeline only' % cfg['input_pipeline'])
  if cluster.sync_replicas and cfg['precision'] == 'fp16':
    raise ClusterError('--sync_replicas: its SyncReplicasOptimizer has no loss scaling, '
                       'which --precision=fp16 needs; use asynchronous updates or fp32')
  if num_images < cluster.num_workers:
    raise ClusterError('--worker_hosts: %d workers but only %d images; every worker needs '
                       'at least one' % (cluster.num_workers, num_images))
  if cluster.codes_shards > num_images:
    raise ClusterError('--codes_shards=%d: more row blocks than the %d images'
                       % (cluster.codes_shards, num_images))


def start_server(cluster, config=None):
  """This process's tf.train.Server (it serves until the process exits)."""
  return tf.train.Server(cluster.spec(), job_name=cluster.job_name,
                         task_index=cluster.task_index, config=config)


def run_ps(cluster):
  """A parameter server: holds its variables and serves until killed. Never returns."""
  # A SIGTERM/SIGINT handler written in Python never runs while join() blocks in C++:
  # back to the default actions, so that `kill` (and Ctrl-C) stop a parameter server.
  signal.signal(signal.SIGTERM, signal.SIG_DFL)
  signal.signal(signal.SIGINT, signal.SIG_DFL)
  server = start_server(cluster)
  print('Parameter server %d of %d listening on %s; serving until killed.'
        % (cluster.task_index, cluster.num_ps, cluster.ps_hosts[cluster.task_index]),
        flush=True)
  server.join()


def device_setter(cluster):
  """Variables round-robin on the parameter servers, every other op on this worker.

  Variable ops that towers.py pins to '/cpu:0' land on '/job:ps/task:k/cpu:0'; tower ops
  on '/gpu:i' land on this worker's '/gpu:i'.
  """
  return tf.train.replica_device_setter(cluster=cluster.spec(),
                                        worker_device=cluster.worker_device)


def codes_partitioner(cluster):
  """Row blocks of the codes table: `codes_shards` of them, contiguous ("div" layout)."""
  return tf.fixed_size_partitioner(cluster.codes_shards, axis=0)


def worker_share(num_images, cluster):
  """Global indices this worker trains on: i with i % num_workers == task_index."""
  return list(range(cluster.task_index, num_images, cluster.num_workers))


def session_config(cluster, config):
  """`config` that sees only the parameter servers and this worker: a worker does not
  wait for the other workers to start, nor talk to them."""
  out = tf.ConfigProto()
  out.CopyFrom(config)
  del out.device_filters[:]
  out.device_filters.extend(['/job:ps', cluster.worker_device])
  return out


def stop_grace_secs(cluster):
  """How long the chief's session waits at the end for its threads to stop.

  TensorFlow's 120 s, except with --sync_replicas: there the chief's token thread waits
  for gradients that the stopped workers will never send, so the full grace period would
  be lost at every end; after 5 s the session closes and cancels it (its thread then
  reports a cancelled op, which is harmless).
  """
  return 5 if cluster is not None and cluster.sync_replicas else 120


class SplitOptimizer(tf.train.Optimizer):
  """Presents the network's and the codes' optimizers as one, so that one
  SyncReplicasOptimizer can wrap both (the paper's separate learning rates)."""

  def __init__(self, network_opt, codes_opt, codes_blocks):
    super().__init__(use_locking=False, name='Split')
    self._network_opt, self._codes_opt = network_opt, codes_opt
    self._codes_blocks = list(codes_blocks)

  def _is_code(self, var):
    return any(var is block for block in self._codes_blocks)

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    grads_and_vars = list(grads_and_vars)
    net = [(g, v) for g, v in grads_and_vars if not self._is_code(v)]
    codes = [(g, v) for g, v in grads_and_vars if self._is_code(v)]
    return tf.group(self._network_opt.apply_gradients(net, global_step=global_step),
                    self._codes_opt.apply_gradients(codes), name=name or 'split_apply')


def sync_train_op_fn(cluster):
  """A `train_op_fn` for towers.build_training_graph with synchronous updates.

  One SyncReplicasOptimizer aggregates one gradient from each worker per step (sparse
  accumulators for the codes' IndexedSlices). Its hook (`fn.sync.make_session_run_hook`,
  set once fn has run) must run on every worker; training/loop.py adds it.
  """
  def fn(loss, codes, network_vars, cfg, global_step):
    blocks = codes_lib.parts(codes)
    same = (cfg['optimizer'] == cfg['codes_optimizer'] and
            cfg['learning_rate'] == cfg['codes_learning_rate'])
    net_opt = optimizers.make_optimizer(cfg['optimizer'], cfg['learning_rate'])
    codes_opt = net_opt if same else optimizers.make_optimizer(
        cfg['codes_optimizer'], cfg['codes_learning_rate'])
    inner = net_opt if same else SplitOptimizer(net_opt, codes_opt, blocks)
    sync = tf.train.SyncReplicasOptimizer(inner, replicas_to_aggregate=cluster.num_workers,
                                          total_num_replicas=cluster.num_workers)
    op = sync.minimize(loss, global_step=global_step, var_list=blocks + list(network_vars),
                       colocate_gradients_with_ops=True)
    fn.sync = sync
    return op, {'network': net_opt, 'codes': codes_opt}
  fn.sync = None
  return fn


class _PromptWorkerSessionCreator(tf.train.WorkerSessionCreator):
  """A WorkerSessionCreator that checks every second, not every 30 s (TF's default),
  whether the chief has initialised the variables, so workers start with the chief."""

  def _get_session_manager(self):
    if self._session_manager is None:
      self._session_manager = tf.train.SessionManager(
          local_init_op=self._scaffold.local_init_op,
          local_init_feed_dict=self._scaffold.local_init_feed_dict,
          ready_op=self._scaffold.ready_op,
          ready_for_local_init_op=self._scaffold.ready_for_local_init_op,
          graph=tf.get_default_graph(), recovery_wait_secs=1)
    return self._session_manager


def worker_session(scaffold, master, config, hooks):
  """What MonitoredTrainingSession(is_chief=False) returns, but prompt to start (above)."""
  return tf.train.MonitoredSession(
      session_creator=_PromptWorkerSessionCreator(scaffold=scaffold, master=master,
                                                  config=config),
      hooks=hooks)


class StartBarrierHook(tf.train.SessionRunHook):
  """Lets the workers start stepping together.

  Without it the chief, which initialises or restores the variables and then writes its
  first checkpoint, starts last: a fast worker could take many steps (on its share of the
  images only) before the chief takes any. Each worker, once its session is ready, puts
  a token in a queue on the first parameter server and waits until the queue holds one
  token per worker, or `timeout_secs` (then it goes on alone, saying so). Tokens stay
  while that parameter server lives, so a worker that restarts does not wait. Build it
  under `device_setter`.
  """

  def __init__(self, cluster, timeout_secs=300.0):
    self._cluster, self._timeout = cluster, timeout_secs
    with tf.device('/job:ps/task:0'), tf.name_scope('start_barrier'):
      queue = tf.FIFOQueue(1 << 20, [tf.int32], shapes=[[]],
                           shared_name='glo_tf1_start_barrier', name='tokens')
      self._arrive = queue.enqueue(cluster.task_index)
      self._arrived = queue.size()

  def after_create_session(self, session, coord):  # pylint: disable=unused-argument
    session.run(self._arrive)
    deadline, said = time.time() + self._timeout, False
    while session.run(self._arrived) < self._cluster.num_workers:
      if time.time() > deadline:
        print('worker %d: not every worker arrived within %ds; starting anyway'
              % (self._cluster.task_index, self._timeout), flush=True)
        return
      if not said:
        print('worker %d: waiting for the other workers...' % self._cluster.task_index,
              flush=True)
        said = True
      time.sleep(0.1)
