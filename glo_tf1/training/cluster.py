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
* Every parameter server publishes the cluster it was started with (a variable on
  itself); every worker reads it from each parameter server before anything else and
  stops on a difference (`check_same_cluster`), so processes given different host lists
  never wait on each other. While a worker runs, `ServerWatch` says so at once when a
  parameter server stops answering, and stops the worker when it stays away.
* Who can connect: TensorFlow's gRPC server listens on every interface (it binds
  0.0.0.0 whatever host the cluster names) and has no authentication; `exposure` says
  what the kernel reports for a server's port (docs/scaling.md, "Who can connect").
"""
import json
import os
import signal
import socket
import sys
import threading
import time

from glo_tf1.compat import tf
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import optimizers
from glo_tf1.training import resolvers


# The flags' cluster, its refusals and the wait for a lost parameter server live in
# resolvers.py, which needs no TensorFlow: a launcher's bad values are refused at once.
ClusterError = resolvers.ClusterError
Cluster = resolvers.Cluster
parse = resolvers.parse
DEFAULT_PS_TIMEOUT = resolvers.DEFAULT_PS_TIMEOUT
# The exit status of a worker that lost a parameter server (cli/common.py's
# EXIT_TRAINING_FAULT: training stopped on a fault, described).
EXIT_LOST_SERVER = 4


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
  """A parameter server: holds its variables and serves until killed. Never returns.

  It takes no GPU (its variables live on its CPU), so it leaves a GPU it shares with a
  worker alone. A SIGTERM or SIGINT that was ignored when the process started stays
  ignored: a launcher that sends SIGTERM to every task at once (Slurm's scancel and time
  limit, a Kubernetes pod's end) then keeps the parameter server serving while the
  chief saves, until its SIGKILL (reproduce/slurm.sbatch, docs/tfjob.yaml).
  """
  # A SIGTERM/SIGINT handler written in Python never runs while join() blocks in C++:
  # back to the default actions, so that `kill` (and Ctrl-C) stop a parameter server.
  for sig in (signal.SIGTERM, signal.SIGINT):
    if signal.getsignal(sig) is not signal.SIG_IGN:
      signal.signal(sig, signal.SIG_DFL)
  server = start_server(cluster, tf.ConfigProto(device_count={'GPU': 0}))
  publish_description(server, cluster)
  print(started_line(cluster), flush=True)
  server.join()


def started_line(cluster):
  """What a cluster process prints once its server runs: where it listens, and who can
  connect (`exposure`). A worker's server is as open as a parameter server's, so every
  process says it, whoever launched it."""
  if cluster.job_name == 'ps':
    hosts, what = cluster.ps_hosts, 'Parameter server %d of %d listening on %s; serving until ' \
        'killed.'
  else:
    hosts, what = cluster.worker_hosts, 'Worker %d of %d listening on %s.'
  host = hosts[cluster.task_index]
  return '%s\nWho can connect: %s' % (what % (cluster.task_index, len(hosts), host),
                                      exposure(_host_port(host)[1]))


# ----------------------------------------------------------------- the same cluster everywhere

_DESCRIPTION = 'glo_tf1_cluster_description'  # a string variable on each parameter server


def describe(cluster):
  """The host lists every process of one run must share, as canonical JSON."""
  return json.dumps({'ps': list(cluster.ps_hosts), 'worker': list(cluster.worker_hosts)},
                    sort_keys=True)


def _on_ps(task, initial):
  with tf.device('/job:ps/task:%d' % task):
    return tf.Variable(initial, name=_DESCRIPTION, trainable=False, collections=[])


def _probe_config(task, timeout_secs):
  """A session that involves parameter server `task` only, and gives up after a while."""
  return tf.ConfigProto(device_filters=['/job:ps/task:%d' % task],
                        operation_timeout_in_ms=int(timeout_secs * 1000))


def publish_description(server, cluster):
  """Stores `describe(cluster)` on this parameter server (it lives as long as the server)."""
  with tf.Graph().as_default():
    var = _on_ps(cluster.task_index, describe(cluster))
    with tf.Session(server.target, config=_probe_config(cluster.task_index, 60)) as sess:
      sess.run(var.initializer)


def _host_port(host):
  name, _, port = host.rpartition(':')
  return name.strip('[]'), int(port)


def answers(host, timeout=2.0):
  """Whether something accepts TCP connections at 'host:port'."""
  try:
    with socket.create_connection(_host_port(host), timeout=timeout):
      return True
  except OSError:
    return False


def _wait_until_answers(cluster, host, deadline, log):
  said = False
  while not answers(host):
    if time.time() > deadline:
      raise ClusterError('the parameter server at %s (ps task %d) did not answer within '
                         '%gs (--ps_timeout_secs): is it started, and is this the host list '
                         'of the run?' % (host, cluster.ps_hosts.index(host),
                                          cluster.ps_timeout_secs))
    if not said:
      log('%s: waiting for the parameter server at %s ...' % (_me(cluster), host))
      said = True
    time.sleep(0.5)


def _me(cluster):
  return '%s %d' % (cluster.job_name, cluster.task_index)


def _read_description(cluster, task, deadline):
  with tf.Graph().as_default():
    value = tf.identity(_on_ps(task, ''))
    while True:
      try:
        left = max(1.0, deadline - time.time())
        with tf.Session('grpc://' + cluster.ps_hosts[task],
                        config=_probe_config(task, min(left, 30))) as sess:
          return sess.run(value).decode('utf-8')
      except (tf.errors.FailedPreconditionError, tf.errors.NotFoundError,
              tf.errors.UnavailableError, tf.errors.DeadlineExceededError):
        pass  # a parameter server that is starting (not published yet) or busy
      except tf.errors.OpError as e:
        raise ClusterError('the server at %s is not parameter server %d of this cluster '
                           '(%s); every process of a run must be given the same host '
                           'lists' % (cluster.ps_hosts[task], task,
                                      e.message.splitlines()[0])) from None
      if time.time() > deadline:
        raise ClusterError('the server at %s gave no cluster description within %gs '
                           '(--ps_timeout_secs): is it a glo-train parameter server of '
                           'this version?' % (cluster.ps_hosts[task], cluster.ps_timeout_secs))
      time.sleep(0.5)


def check_same_cluster(cluster, log=print):
  """Refuses to go on unless every parameter server was started with this process's
  host lists (so all processes agree: each worker checks each parameter server).

  Waits up to the cluster's ps_timeout_secs for a parameter server not up yet.
  Raises:
    ClusterError: a parameter server does not answer, or lists other hosts (both lists
      shown, the parameter server's -> this process's).
  """
  mine = describe(cluster)
  deadline = time.time() + cluster.ps_timeout_secs
  for task, host in enumerate(cluster.ps_hosts):
    _wait_until_answers(cluster, host, deadline, log)
    theirs = _read_description(cluster, task, deadline)
    if theirs != mine:
      a, b = json.loads(theirs), json.loads(mine)
      raise ClusterError(
          'this %s was given another cluster than the parameter server at %s was '
          'started with; every process of a run must be given the same host lists '
          '(docs/scaling.md):\n%s' % (_me(cluster), host, '\n'.join(
              '  %s hosts: %s -> %s' % (job, ','.join(a.get(job, [])), ','.join(b[job]))
              for job in ('ps', 'worker') if a.get(job) != b[job])))


class ServerWatch:
  """Watches the parameter servers from a worker: a TCP connect to each every `every`
  seconds (cheap: no RPC, nothing sent). One that stops answering is reported at once
  (TensorFlow's own messages are hidden by our log level, and its session would wait
  for it forever); if it stays away for the cluster's ps_timeout_secs, the process
  exits with EXIT_LOST_SERVER (a parameter server restarted within that time is picked
  up by the training session: the chief restores the newest checkpoint).
  Use as a context manager around the training.
  """

  def __init__(self, cluster, every=2.0, log=None, stop_process=os._exit):
    self._cluster, self._every, self._exit = cluster, every, stop_process
    self._log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, name='ServerWatch', daemon=True)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    self._thread.join()

  def _run(self):
    lost = {}  # host -> when it stopped answering
    while not self._stop.wait(self._every):
      for host in self._cluster.ps_hosts:
        if answers(host, timeout=self._every):
          if lost.pop(host, None) is not None:
            self._log('%s: the parameter server at %s answers again'
                      % (_me(self._cluster), host))
          continue
        if self._stop.is_set():
          return
        timeout = self._cluster.ps_timeout_secs
        if host not in lost:
          lost[host] = time.time()
          self._log('%s: lost the parameter server at %s (it does not answer); waiting up '
                    'to %gs (--ps_timeout_secs) for it to come back'
                    % (_me(self._cluster), host, timeout))
        elif time.time() - lost[host] >= timeout:
          self._log('%s: the parameter server at %s did not come back within %gs; '
                    'stopping (exit %d). Restart it, then the workers: the chief resumes '
                    'from the newest checkpoint.'
                    % (_me(self._cluster), host, timeout, EXIT_LOST_SERVER))
          self._exit(EXIT_LOST_SERVER)
          return


# ----------------------------------------------------------------------------- who can connect

def listening_addresses(port):
  """The local addresses of the TCP sockets listening on `port` in this network
  namespace, as Linux reports them (/proc/net/tcp and tcp6): '0.0.0.0' or '::' is every
  interface. None where /proc/net cannot be read (not Linux)."""
  found = []
  for name, family in (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6)):
    try:
      with open('/proc/net/' + name) as f:
        rows = f.read().splitlines()[1:]
    except OSError:
      return None
    for row in rows:
      fields = row.split()
      address, _, hexport = fields[1].partition(':')
      if fields[3] == '0A' and int(hexport, 16) == port:  # 0A: TCP_LISTEN
        raw = b''.join(bytes.fromhex(address[i:i + 8])[::-1]
                       for i in range(0, len(address), 8))
        found.append(socket.inet_ntop(family, raw))
  return found


def network_interfaces():
  """The network interfaces of this namespace (/proc/net/dev), or None."""
  try:
    with open('/proc/net/dev') as f:
      return [line.split(':')[0].strip() for line in f.read().splitlines()[2:]]
  except OSError:
    return None


def exposure(port):
  """One sentence on who can connect to this process's server on `port`, measured."""
  bound = listening_addresses(port)
  interfaces = network_interfaces()
  tail = ('TensorFlow\'s gRPC server has no authentication: whoever connects can read and '
          'change the model and run any graph, files included, as this user '
          '(docs/scaling.md, "Who can connect").')
  if not bound:
    return ('TensorFlow binds every interface (0.0.0.0:%d); any host that reaches this '
            'machine on that port. %s' % (port, tail))
  loopback = all(a.startswith('127.') or a == '::1' for a in bound)
  if loopback:
    who = 'processes on this machine (bound to %s)' % ', '.join(bound)
  elif interfaces == ['lo']:
    who = ('only processes in this private network namespace, whose only interface is '
           'the loopback (bound to %s)' % ', '.join(bound))
  else:
    who = ('any process on this machine or on a network that reaches port %d of it (bound '
           'to every interface: %s; interfaces %s)'
           % (port, ', '.join(bound), ', '.join(interfaces or ['unknown'])))
  return '%s. %s' % (who, tail)


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
  set once fn has run) must run on every worker; distribute.Worker.hooks adds it.
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
