"""Where a process learns its place in a cluster: flags, TF_CONFIG or Slurm (`resolve`).

Each source resolves to the same `cluster.Cluster` that `cluster.parse` builds from the
flags, so the trainer cannot tell them apart. Every refusal is a ClusterError that names
the environment variable (or flag) at fault.

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
  with the chief. Written here rather than through TensorFlow's SlurmClusterResolver,
  which needs nvidia-smi and GPUs and sorts host names as strings (n10 before n9).
"""
import json
import re

from glo_tf1 import settings
from glo_tf1.training import cluster as cluster_lib

ClusterError = cluster_lib.ClusterError
SOURCES = settings.CLUSTER_SOURCES  # glo-train's --cluster choices
DEFAULT_PORT = 2222
_SLURM_VARS = ('SLURM_PROCID', 'SLURM_STEP_NUM_TASKS', 'SLURM_STEP_NODELIST',
               'SLURM_STEP_TASKS_PER_NODE')


def resolve(source, environ, ps_hosts=None, worker_hosts=None, job_name=None, task_index=0,
            sync_replicas=False, codes_shards=None, num_ps=1, port=DEFAULT_PORT,
            ps_timeout_secs=cluster_lib.DEFAULT_PS_TIMEOUT):
  """This process's Cluster (None: one process) from `source` (one of SOURCES).

  'auto' is TF_CONFIG when it is set (and not empty), else the flags. The host flags
  may not be combined with TF_CONFIG or Slurm (two descriptions of one cluster).
  Args:
    environ: the environment (os.environ).
    ps_hosts, worker_hosts, job_name, task_index: the flags (cluster.parse).
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
    return cluster_lib.parse(ps_hosts, worker_hosts, job_name, task_index, **common)
  if ps_hosts or worker_hosts or job_name:
    raise ClusterError('--ps_hosts, --worker_hosts, --job_name: not with --cluster %s, '
                       'which reads the cluster from %s' % (
                           source, 'TF_CONFIG' if source == 'tf_config' else 'SLURM_*'))
  if source == 'tf_config':
    ps, workers, job, index = from_tf_config(environ.get('TF_CONFIG'))
  else:
    ps, workers, job, index = from_slurm(environ, num_ps, port)
  return cluster_lib.parse(ps, workers, job, index, **common)


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
  if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[kind]):
    raise ClusterError('TF_CONFIG task.index: must be in [0, %d) for job %s, got %r'
                       % (len(jobs[kind]), kind, index))
  if kind == 'ps':
    return jobs['ps'], workers, 'ps', index
  return jobs['ps'], workers, 'worker', index + (len(head) if kind == 'worker' else 0)


def expand_hostlist(text, name='SLURM_STEP_NODELIST'):
  """Host names of a Slurm hostlist ('n[1-3,10],gpu05' -> n1 n2 n3 n10 gpu05), in the
  order written; a range keeps its zero padding (n[08-10] -> n08 n09 n10), and a name
  may hold several bracket groups (r[1-2]n[1-2] -> r1n1 r1n2 r2n1 r2n2)."""
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
      raise ClusterError('%s: empty host name in %r' % (name, text))
    out += names
  if not out:
    raise ClusterError('%s is empty' % name)
  if len(set(out)) != len(out):
    raise ClusterError('%s: a host is listed twice in %r' % (name, text))
  return out


def _split_outside_brackets(text, name):
  items, depth, start = [], 0, 0
  for i, c in enumerate(text):
    if c == '[':
      depth += 1
    elif c == ']':
      depth -= 1
    if depth not in (0, 1):
      raise ClusterError('%s: unbalanced brackets in %r' % (name, text))
    if c == ',' and depth == 0:
      items.append(text[start:i])
      start = i + 1
  if depth:
    raise ClusterError('%s: unbalanced brackets in %r' % (name, text))
  items.append(text[start:])
  for item in items:
    if not item.strip() or re.search(r'\s', item):
      raise ClusterError('%s: empty or blank host name in %r' % (name, text))
  return items


def _expand_range(group, name, text):
  out = []
  for part in group.split(','):
    m = re.fullmatch(r'(\d+)(?:-(\d+))?', part)
    if not m:
      raise ClusterError('%s: %r in %r is not a number or a range a-b' % (name, part, text))
    lo, hi = m.group(1), m.group(2) or m.group(1)
    if int(hi) < int(lo):
      raise ClusterError('%s: range %s runs backwards in %r' % (name, part, text))
    width = len(lo) if lo.startswith('0') else 0
    out += ['%0*d' % (width, i) for i in range(int(lo), int(hi) + 1)]
  return out


def expand_tasks_per_node(text, name='SLURM_STEP_TASKS_PER_NODE'):
  """Tasks on each node from Slurm's compressed counts: '2(x3),1' -> [2, 2, 2, 1]."""
  out = []
  for part in (text or '').split(','):
    m = re.fullmatch(r'\s*(\d+)(?:\(x(\d+)\))?\s*', part)
    if not m or int(m.group(1)) < 1 or (m.group(2) and int(m.group(2)) < 1):
      raise ClusterError('%s: %r is not a count or count(xN) in %r' % (name, part, text))
    out += [int(m.group(1))] * int(m.group(2) or 1)
  return out


def _slurm_int(environ, name):
  value = environ.get(name)
  if value is None:
    raise ClusterError('%s is not set: --cluster slurm runs each process as one task of '
                       'srun (which sets %s)' % (name, ', '.join(_SLURM_VARS)))
  if not value.strip().isdigit():
    raise ClusterError('%s: must be a non-negative integer, got %r' % (name, value))
  return int(value)


def from_slurm(environ, num_ps=1, port=DEFAULT_PORT):
  """(ps_hosts, worker_hosts, job_name, task_index) of this Slurm task (see the module)."""
  rank = _slurm_int(environ, 'SLURM_PROCID')
  tasks = _slurm_int(environ, 'SLURM_STEP_NUM_TASKS')
  for name in ('SLURM_STEP_NODELIST', 'SLURM_STEP_TASKS_PER_NODE'):
    if not environ.get(name):
      raise ClusterError('%s is not set: --cluster slurm runs each process as one task of '
                         'srun (which sets %s)' % (name, ', '.join(_SLURM_VARS)))
  nodes = expand_hostlist(environ['SLURM_STEP_NODELIST'])
  counts = expand_tasks_per_node(environ['SLURM_STEP_TASKS_PER_NODE'])
  if len(counts) != len(nodes):
    raise ClusterError('SLURM_STEP_TASKS_PER_NODE=%s gives %d nodes, SLURM_STEP_NODELIST=%s '
                       'lists %d' % (environ['SLURM_STEP_TASKS_PER_NODE'], len(counts),
                                     environ['SLURM_STEP_NODELIST'], len(nodes)))
  if sum(counts) != tasks:
    raise ClusterError('SLURM_STEP_TASKS_PER_NODE=%s adds up to %d tasks, '
                       'SLURM_STEP_NUM_TASKS=%d' % (environ['SLURM_STEP_TASKS_PER_NODE'],
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
                       % (rank, local, node, seen_local, seen_node))
  ps, workers = hosts[:num_ps], hosts[num_ps:]
  if rank < num_ps:
    return ps, workers, 'ps', rank
  return ps, workers, 'worker', rank - num_ps
