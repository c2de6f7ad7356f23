"""Where a process learns its place in a cluster: flags, TF_CONFIG or Slurm (`resolve`).

Each source resolves to the same `Cluster` that `parse` builds from the flags, so the
trainer cannot tell them apart. Every refusal is a ClusterError that names the environment
variable (or flag) at fault and its value, on one line. Nothing here imports TensorFlow,
so a bad launch is refused at once, before the seconds TensorFlow takes to load.

* TF_CONFIG (Kubeflow TFJob, Vertex AI, SageMaker): {"cluster": {"chief": [h:p],
  "worker": [...], "ps": [...]}, "task": {"type": ..., "index": ...}}. glo-tf1's worker 0
  is the chief, so a "chief" job (or "master", SageMaker's and Cloud ML Engine's name)
  becomes worker 0 and worker i becomes worker i + 1; without one, worker 0 is the chief.
* Slurm (one task per process, under srun): SLURM_PROCID, SLURM_STEP_NUM_TASKS,
  SLURM_STEP_NODELIST, SLURM_STEP_TASKS_PER_NODE. Hosts keep Slurm's order (the order
  its tasks-per-node counts follow; never re-sorted), ranks go to nodes block by block
  (srun's default distribution, checked against SLURMD_NODENAME and SLURM_LOCALID when
  Slurm sets them), task k of a node listens on port base + k. The first `num_ps` ranks
  are the parameter servers, the others the workers in rank order (rank num_ps is the
  chief): with one more task than nodes, the parameter server shares the first node
  with the chief. Sizes are bounded before anything is built: SLURM_STEP_NUM_TASKS by
  MAX_SLURM_TASKS, the node list and the counts (added up from their compressed forms,
  never expanded first) by SLURM_STEP_NUM_TASKS. Written here rather than through
  TensorFlow's SlurmClusterResolver, which needs nvidia-smi and GPUs and sorts host
  names as strings (n10 before n9).
"""
import collections
import json
import re

from glo_tf1 import checks
from glo_tf1 import settings

SOURCES = settings.CLUSTER_SOURCES  # glo-train's --cluster choices
DEFAULT_PORT = 2222
_SLURM_VARS = ('SLURM_PROCID', 'SLURM_STEP_NUM_TASKS', 'SLURM_STEP_NODELIST',
               'SLURM_STEP_TASKS_PER_NODE')
# How long a worker waits for a parameter server that does not answer (at its start, or
# lost while training) before it stops; a restarted parameter server within it is fine.
DEFAULT_PS_TIMEOUT = 120


class ClusterError(settings.UserError):
  """The cluster flags do not describe a usable cluster. The message names the flag."""


class Cluster(collections.namedtuple(
    'Cluster', 'ps_hosts worker_hosts job_name task_index sync_replicas codes_shards '
    'ps_timeout_secs')):
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
    from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
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
          codes_shards=None, ps_timeout_secs=DEFAULT_PS_TIMEOUT):
  """The Cluster of this process, or None for a single-process run (no cluster flags).

  Args:
    ps_hosts, worker_hosts: lists of 'host:port'.
    job_name: 'ps' or 'worker'.
    task_index: this process's position in its job's list.
    sync_replicas: synchronous updates (SyncReplicasOptimizer) instead of asynchronous.
    codes_shards: row blocks of the codes table (default: the number of parameter servers).
    ps_timeout_secs: how long a worker waits for a parameter server that does not answer.
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
  if not isinstance(ps_timeout_secs, (int, float)) or not ps_timeout_secs > 0:
    raise ClusterError('--ps_timeout_secs: must be positive, got %r' % (ps_timeout_secs,))
  return Cluster(ps, workers, job_name, task_index, bool(sync_replicas), shards,
                 ps_timeout_secs)



def resolve(source, environ, ps_hosts=None, worker_hosts=None, job_name=None, task_index=0,
            sync_replicas=False, codes_shards=None, num_ps=1, port=DEFAULT_PORT,
            ps_timeout_secs=DEFAULT_PS_TIMEOUT):
  """This process's Cluster (None: one process) from `source` (one of SOURCES).

  'auto' is TF_CONFIG when it is set (and not empty), else the flags. The host flags
  may not be combined with TF_CONFIG or Slurm (two descriptions of one cluster).
  Args:
    environ: the environment (os.environ).
    ps_hosts, worker_hosts, job_name, task_index: the flags (`parse`).
    num_ps, port: the parameter servers and the first port of each node, for Slurm.
  Raises:
    ClusterError: naming the variable or flag at fault.
  """
  if source not in SOURCES:
    raise ClusterError('--cluster: must be one of %s, got %r' % (', '.join(SOURCES), source))
  if source == 'auto':
    source = 'tf_config' if (environ.get('TF_CONFIG') or '').strip() else 'flags'
  common = dict(sync_replicas=sync_replicas, codes_shards=codes_shards,
                ps_timeout_secs=ps_timeout_secs)
  if source == 'flags':
    return parse(ps_hosts, worker_hosts, job_name, task_index, **common)
  if ps_hosts or worker_hosts or job_name:
    raise ClusterError('--ps_hosts, --worker_hosts, --job_name: not with --cluster %s, '
                       'which reads the cluster from %s' % (
                           source, 'TF_CONFIG' if source == 'tf_config' else 'SLURM_*'))
  if source == 'tf_config':
    ps, workers, job, index = from_tf_config(environ.get('TF_CONFIG'))
  else:
    ps, workers, job, index = from_slurm(environ, num_ps, port)
  return parse(ps, workers, job, index, **common)


def from_tf_config(text):
  """(ps_hosts, worker_hosts, job_name, task_index) from the TF_CONFIG JSON `text`."""
  if not (text or '').strip():
    raise ClusterError('TF_CONFIG is not set (--cluster tf_config reads the cluster from it)')
  try:
    config = json.loads(text)
  except ValueError as e:
    raise ClusterError('TF_CONFIG is not JSON (%s)' % e) from None
  if not isinstance(config, dict):
    raise ClusterError('TF_CONFIG must be a JSON object, got %s' % type(config).__name__)
  if config.get('rpc_layer', 'grpc') != 'grpc':
    raise ClusterError('TF_CONFIG rpc_layer: only grpc is supported, got %r'
                       % (config['rpc_layer'],))
  jobs, task = config.get('cluster'), config.get('task')
  if not isinstance(jobs, dict) or not jobs:
    raise ClusterError('TF_CONFIG has no "cluster" object of jobs')
  known = ('chief', 'master', 'worker', 'ps')
  for name, hosts in jobs.items():
    if name not in known:
      raise ClusterError('TF_CONFIG cluster: unknown job %r (glo-train knows %s; run '
                         'glo-evaluate beside it for an evaluator)' % (name, ', '.join(known)))
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
      raise ClusterError('TF_CONFIG cluster.%s: must be a list of "host:port" strings' % name)
  chiefs = [name for name in ('chief', 'master') if name in jobs]
  if len(chiefs) > 1 or any(len(jobs[name]) != 1 for name in chiefs):
    raise ClusterError('TF_CONFIG cluster: at most one chief (a "chief" or "master" job of '
                       'one task), got %s' % {n: jobs[n] for n in chiefs})
  head = jobs[chiefs[0]] if chiefs else []
  workers = head + jobs.get('worker', [])
  if not workers:
    raise ClusterError('TF_CONFIG cluster: needs a "chief" or a "worker" job')
  if not jobs.get('ps'):
    raise ClusterError('TF_CONFIG cluster: needs a "ps" job (glo-train\'s cluster keeps its '
                       'variables on parameter servers); for one process, unset TF_CONFIG or '
                       'pass --cluster flags')
  if not isinstance(task, dict):
    raise ClusterError('TF_CONFIG has no "task" object ({"type": ..., "index": ...})')
  kind, index = task.get('type'), task.get('index', 0)
  if kind not in jobs:
    raise ClusterError('TF_CONFIG task.type: %r is not a job of its cluster (%s)'
                       % (kind, ', '.join(sorted(jobs))))
  if not checks.is_int(index) or not 0 <= index < len(jobs[kind]):
    raise ClusterError('TF_CONFIG task.index: must be in [0, %d) for job %s, got %r'
                       % (len(jobs[kind]), kind, index))
  if kind == 'ps':
    return jobs['ps'], workers, 'ps', index
  return jobs['ps'], workers, 'worker', index + (len(head) if kind == 'worker' else 0)


# The most tasks a Slurm step may describe. A between-graph cluster of parameter servers
# has tens of tasks, hundreds at most; the cap only stops a hostile or broken variable
# (SLURM_STEP_NUM_TASKS=99999999999) from making the resolver build millions of names.
MAX_SLURM_TASKS = 10000
# A number in a Slurm variable: 18 digits at most (Python's int refuses strings of over
# 4300 digits with a traceback; no count or node index comes near 10**18).
_NUMBER = r'[0-9]{1,18}'


def _shown(value, most=80):
  """`value` as an error message shows it: on one line (repr when it holds anything but
  printable non-blank characters), cut after `most` characters."""
  text = value if value.isprintable() and not re.search(r'\s', value) else repr(value)
  if len(text) > most:
    text = '%s... (%d characters)' % (text[:most], len(value))
  return text


def _too_many(name, text, what, limit, limit_name):
  return ClusterError('%s=%s: more than %d %s (%s)' % (name, _shown(text), limit, what,
                                                       limit_name))


def _cap_name():
  return "glo-train's cap of %d Slurm tasks" % MAX_SLURM_TASKS


def count_hostlist(text, name='SLURM_STEP_NODELIST', limit=MAX_SLURM_TASKS, limit_name=None):
  """How many hosts the Slurm hostlist `text` names, counted from its ranges without
  expanding them; refused (ClusterError) as soon as the count passes `limit`, so that
  'node[1-99999999]' costs no more than 'node[1-2]'."""
  total = 0
  for item in _split_outside_brackets(text or '', name):
    product = 1
    for group in re.findall(r'\[([^\[\]]*)\]', item):
      product *= sum(size for _, _, size in _ranges(group, name, text))
      if product > limit:
        break
    total += product
    if total > limit:
      raise _too_many(name, text, 'hosts', limit, limit_name or _cap_name())
  return total


def expand_hostlist(text, name='SLURM_STEP_NODELIST', limit=MAX_SLURM_TASKS,
                    limit_name=None):
  """Host names of a Slurm hostlist ('n[1-3,10],gpu05' -> n1 n2 n3 n10 gpu05), in the
  order written; a range keeps its zero padding (n[08-10] -> n08 n09 n10), and a name
  may hold several bracket groups (r[1-2]n[1-2] -> r1n1 r1n2 r2n1 r2n2). More than
  `limit` hosts (`limit_name` says whose limit) are refused before any is built."""
  count_hostlist(text, name, limit, limit_name)
  out = []
  for item in _split_outside_brackets(text or '', name):
    names = ['']
    for literal, group in re.findall(r'([^\[\]]*)(?:\[([^\[\]]*)\])?', item):
      if not literal and not group:
        continue
      names = [n + literal for n in names]
      if group:
        names = [n + s for n in names for s in _expand_range(group, name, text)]
    if not names or names == ['']:
      raise ClusterError('%s=%s: empty host name' % (name, _shown(text)))
    out += names
  if not out:
    raise ClusterError('%s is empty' % name)
  if len(set(out)) != len(out):
    raise ClusterError('%s=%s: a host is listed twice' % (name, _shown(text)))
  return out


def _split_outside_brackets(text, name):
  """The comma-separated items of a hostlist, one at a time (a count can stop early)."""
  depth, start = 0, 0
  for m in re.finditer(r'[\[\],]', text):
    c = m.group()
    depth += {'[': 1, ']': -1}.get(c, 0)
    if depth not in (0, 1):
      raise ClusterError('%s=%s: unbalanced or nested brackets' % (name, _shown(text)))
    if c == ',' and depth == 0:
      yield _item(text[start:m.start()], name, text)
      start = m.end()
  if depth:
    raise ClusterError('%s=%s: unbalanced brackets' % (name, _shown(text)))
  yield _item(text[start:], name, text)


def _item(item, name, text):
  if not item.strip() or re.search(r'\s', item):
    raise ClusterError('%s=%s: empty or blank host name' % (name, _shown(text)))
  return item


def _ranges(group, name, text):
  """[(low text, high text, size)] of a bracket group's parts ('1-3,10')."""
  out = []
  for part in group.split(','):
    m = re.fullmatch(r'(%s)(?:-(%s))?' % (_NUMBER, _NUMBER), part)
    if not m:
      raise ClusterError('%s=%s: %s is not a number or a range a-b (of at most 18 digits)'
                         % (name, _shown(text), _shown(part, 40)))
    lo, hi = m.group(1), m.group(2) or m.group(1)
    if int(hi) < int(lo):
      raise ClusterError('%s=%s: range %s runs backwards' % (name, _shown(text), part))
    out.append((lo, hi, int(hi) - int(lo) + 1))
  return out


def _expand_range(group, name, text):
  out = []
  for lo, hi, _ in _ranges(group, name, text):
    width = len(lo) if lo.startswith('0') else 0
    out += ['%0*d' % (width, i) for i in range(int(lo), int(hi) + 1)]
  return out


def expand_tasks_per_node(text, name='SLURM_STEP_TASKS_PER_NODE', limit=MAX_SLURM_TASKS,
                          limit_name=None):
  """Tasks on each node from Slurm's compressed counts: '2(x3),1' -> [2, 2, 2, 1]. The
  total is added up from the counts and repeats first: more than `limit` tasks
  ('1(x99999999999)') are refused before the list is built."""
  parts, total = [], 0
  for part in (text or '').split(','):
    m = re.fullmatch(r'\s*(%s)(?:\(x(%s)\))?\s*' % (_NUMBER, _NUMBER), part)
    if not m or int(m.group(1)) < 1 or (m.group(2) and int(m.group(2)) < 1):
      raise ClusterError('%s=%s: %s is not a count or count(xN)'
                         % (name, _shown(text), _shown(part, 40)))
    count, repeat = int(m.group(1)), int(m.group(2) or 1)
    total += count * repeat
    if total > limit:
      raise _too_many(name, text, 'tasks', limit, limit_name or _cap_name())
    parts.append((count, repeat))
  return [count for count, repeat in parts for _ in range(repeat)]


def _slurm_int(environ, name):
  value = environ.get(name)
  if value is None:
    raise ClusterError('%s is not set: --cluster slurm runs each process as one task of '
                       'srun (which sets %s)' % (name, ', '.join(_SLURM_VARS)))
  if not re.fullmatch(r'\s*%s\s*' % _NUMBER, value):
    raise ClusterError('%s: must be a non-negative integer, got %s' % (name, _shown(value)))
  return int(value)


def from_slurm(environ, num_ps=1, port=DEFAULT_PORT):
  """(ps_hosts, worker_hosts, job_name, task_index) of this Slurm task (see the module).

  Every size is checked against SLURM_STEP_NUM_TASKS (itself at most MAX_SLURM_TASKS)
  before a list is built: the node list and the tasks per node are counted from their
  compressed forms.
  """
  rank = _slurm_int(environ, 'SLURM_PROCID')
  tasks = _slurm_int(environ, 'SLURM_STEP_NUM_TASKS')
  if not 1 <= tasks <= MAX_SLURM_TASKS:
    raise ClusterError('SLURM_STEP_NUM_TASKS=%d: must be in 1..%d (%s)'
                       % (tasks, MAX_SLURM_TASKS, _cap_name()))
  for name in ('SLURM_STEP_NODELIST', 'SLURM_STEP_TASKS_PER_NODE'):
    if not environ.get(name):
      raise ClusterError('%s is not set: --cluster slurm runs each process as one task of '
                         'srun (which sets %s)' % (name, ', '.join(_SLURM_VARS)))
  # Every node runs at least one task: neither list may be longer than the tasks.
  limit = dict(limit=tasks, limit_name='SLURM_STEP_NUM_TASKS=%d' % tasks)
  counts = expand_tasks_per_node(environ['SLURM_STEP_TASKS_PER_NODE'], **limit)
  nodes = expand_hostlist(environ['SLURM_STEP_NODELIST'], **limit)
  if len(counts) != len(nodes):
    raise ClusterError('SLURM_STEP_TASKS_PER_NODE=%s gives %d nodes, SLURM_STEP_NODELIST=%s '
                       'lists %d' % (_shown(environ['SLURM_STEP_TASKS_PER_NODE']), len(counts),
                                     _shown(environ['SLURM_STEP_NODELIST']), len(nodes)))
  if sum(counts) != tasks:
    raise ClusterError('SLURM_STEP_TASKS_PER_NODE=%s adds up to %d tasks, '
                       'SLURM_STEP_NUM_TASKS=%d' % (_shown(environ['SLURM_STEP_TASKS_PER_NODE']),
                                                    sum(counts), tasks))
  if rank >= tasks:
    raise ClusterError('SLURM_PROCID=%d: must be below SLURM_STEP_NUM_TASKS=%d'
                       % (rank, tasks))
  if not isinstance(num_ps, int) or not 1 <= num_ps < tasks:
    raise ClusterError('--num_ps=%r: Slurm gives %d tasks (SLURM_STEP_NUM_TASKS); the '
                       'parameter servers take the first ranks and at least one task must '
                       'be left for a worker' % (num_ps, tasks))
  top = port + max(counts) - 1
  if not 0 < port or top > 65535:
    raise ClusterError('--cluster_port=%d: ports %d..%d must lie in 1..65535'
                       % (port, port, top))
  hosts, where = [], []
  for node, count in zip(nodes, counts):
    for local in range(count):
      hosts.append('%s:%d' % (node, port + local))
      where.append((node, local))
  node, local = where[rank]
  seen_node, seen_local = environ.get('SLURMD_NODENAME'), environ.get('SLURM_LOCALID')
  if (seen_node is not None and seen_node != node) or \
     (seen_local is not None and seen_local.strip() != str(local)):
    raise ClusterError('SLURM_PROCID=%d is task %d of node %s under block distribution, '
                       'but Slurm runs it as SLURM_LOCALID=%s on SLURMD_NODENAME=%s: start '
                       'the tasks with srun --distribution=block'
                       % (rank, local, node, _shown(str(seen_local)), _shown(str(seen_node))))
  ps, workers = hosts[:num_ps], hosts[num_ps:]
  if rank < num_ps:
    return ps, workers, 'ps', rank
  return ps, workers, 'worker', rank - num_ps
