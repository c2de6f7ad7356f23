"""Cluster descriptions from flags, TF_CONFIG and Slurm (training/resolvers.py), their
refusals, and the cheap runtime checks of cluster.py that need no TensorFlow server: the
parameter-server watch, the wait for one that never answers, who can connect to a port,
and the comparison of a worker's images with the chief's."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, run_main, write_index_images
from glo_tf1 import rundir
from glo_tf1.cli import common
from glo_tf1.data import files
from glo_tf1.rundir import manifest as run_manifest
from glo_tf1.training import cluster
from glo_tf1.training import loop
from glo_tf1.training import resolvers

PS = ['p0:2222', 'p1:2222']
CHIEF = ['c0:2222']
WORKERS = ['w0:2222', 'w1:2222']


@pytest.mark.parametrize('text, want', [
    ('n[1-3,10],gpu05', ['n1', 'n2', 'n3', 'n10', 'gpu05']),
    ('n[9-11]', ['n9', 'n10', 'n11']),  # Slurm's order: n9 before n10, not string order
    ('n10,n9', ['n10', 'n9']),  # kept as written, never re-sorted
    ('node[08-10]', ['node08', 'node09', 'node10']),
    ('r[1-2]n[1-2]', ['r1n1', 'r1n2', 'r2n1', 'r2n2']),
    ('[1-2]x,y', ['1x', '2x', 'y']),
    ('127.0.0.1', ['127.0.0.1']),
])
def test_hostlist_expands_like_slurm(text, want):
  assert resolvers.expand_hostlist(text) == want


@pytest.mark.parametrize('text', ['', 'n[1-3', 'n1-3]', 'n[3-1]', 'n[a]', 'n[1-2],,m',
                                  'n[1,1]', 'n[[1]]', 'a b'])
def test_bad_hostlists_are_refused_by_name(text):
  with pytest.raises(cluster.ClusterError, match='SLURM_STEP_NODELIST'):
    resolvers.expand_hostlist(text)


def test_tasks_per_node():
  assert resolvers.expand_tasks_per_node('2(x3),1') == [2, 2, 2, 1]
  assert resolvers.expand_tasks_per_node('4') == [4]
  for bad in ('', '0', '2(x0)', '2(3)', 'x', '2,(x2)'):
    with pytest.raises(cluster.ClusterError, match='SLURM_STEP_TASKS_PER_NODE'):
      resolvers.expand_tasks_per_node(bad)


def _slurm(rank, nodes='n[9-10]', per_node='2(x2)', tasks=4, **extra):
  env = {'SLURM_PROCID': str(rank), 'SLURM_STEP_NUM_TASKS': str(tasks),
         'SLURM_STEP_NODELIST': nodes, 'SLURM_STEP_TASKS_PER_NODE': per_node}
  env.update(extra)
  return env


def test_slurm_ranks_become_the_flag_cluster():
  """4 tasks on n9 and n10 (2 each): rank 0 is the parameter server (n9:2222), ranks
  1..3 are workers 0..2 (worker 0, on n9:2223 beside it, the chief), ports per node."""
  ps, workers = ['n9:2222'], ['n9:2223', 'n10:2222', 'n10:2223']
  got = [resolvers.resolve('slurm', _slurm(r, SLURMD_NODENAME=n, SLURM_LOCALID=str(l)))
         for r, (n, l) in enumerate([('n9', 0), ('n9', 1), ('n10', 0), ('n10', 1)])]
  assert got == [cluster.parse(ps, workers, 'ps', 0)] + [
      cluster.parse(ps, workers, 'worker', t) for t in range(3)]
  assert got[1].is_chief
  two = resolvers.resolve('slurm', _slurm(3), num_ps=2, port=3000)
  assert two == cluster.parse(['n9:3000', 'n9:3001'], ['n10:3000', 'n10:3001'], 'worker', 1)


@pytest.mark.parametrize('env, kwargs, name', [
    (_slurm(4), {}, 'SLURM_PROCID=4'),
    (_slurm(0, tasks=5), {}, 'SLURM_STEP_NUM_TASKS=5'),
    (_slurm(0, per_node='2,1'), {}, 'SLURM_STEP_TASKS_PER_NODE=2,1 adds up to 3'),
    (_slurm(0, per_node='4'), {}, 'gives 1 nodes, SLURM_STEP_NODELIST'),
    (_slurm(0), {'num_ps': 4}, '--num_ps=4'),
    (_slurm(0), {'num_ps': 0}, '--num_ps=0'),
    (_slurm(0), {'port': 65535}, '--cluster_port=65535'),
    (_slurm('x'), {}, 'SLURM_PROCID: must be a non-negative integer'),
    ({'SLURM_PROCID': '0'}, {}, 'SLURM_STEP_NUM_TASKS is not set'),
    (_slurm(2, SLURMD_NODENAME='n9'), {}, 'SLURMD_NODENAME=n9'),
    (_slurm(1, SLURM_LOCALID='0'), {}, 'SLURM_LOCALID=0'),
])
def test_slurm_refusals_name_the_variable(env, kwargs, name):
  with pytest.raises(cluster.ClusterError, match=re.escape(name)):
    resolvers.resolve('slurm', env, **kwargs)


# Hostile values of the kind a reliability test tried: each is refused from its compressed
# form (a range's size, a repeat count), naming the variable and the value, long before a
# list of its size could be built.
HOSTILE_SLURM = [
    (dict(SLURM_STEP_TASKS_PER_NODE='1(x99999999999)'),
     'SLURM_STEP_TASKS_PER_NODE=1(x99999999999): more than 4 tasks (SLURM_STEP_NUM_TASKS=4)'),
    (dict(SLURM_STEP_NODELIST='node[1-99999999]'),
     'SLURM_STEP_NODELIST=node[1-99999999]: more than 4 hosts (SLURM_STEP_NUM_TASKS=4)'),
    (dict(SLURM_STEP_NODELIST='r[1-999999]n[1-999999]c[1-999999]'),  # a product of ranges
     'SLURM_STEP_NODELIST=r[1-999999]n[1-999999]c[1-999999]: more than 4 hosts'),
    (dict(SLURM_STEP_NODELIST='n[000000000000000001-999999999999999999]'),
     'SLURM_STEP_NODELIST=n[000000000000000001-999999999999999999]: more than 4 hosts'),
    (dict(SLURM_STEP_NODELIST=','.join('n%d' % i for i in range(200000))),
     'SLURM_STEP_NODELIST=n0,n1,n2,'),
    (dict(SLURM_STEP_NODELIST='n[1-[2-3]]'), 'SLURM_STEP_NODELIST=n[1-[2-3]]: unbalanced or '
     'nested brackets'),
    (dict(SLURM_STEP_NODELIST='n[9-2]'), 'SLURM_STEP_NODELIST=n[9-2]: range 9-2 runs '
     'backwards'),
    (dict(SLURM_STEP_NODELIST='n[1-%s]' % ('9' * 5000)), 'SLURM_STEP_NODELIST=n[1-999'),
    (dict(SLURM_STEP_TASKS_PER_NODE='3(x2)'),
     'SLURM_STEP_TASKS_PER_NODE=3(x2): more than 4 tasks (SLURM_STEP_NUM_TASKS=4)'),
    (dict(SLURM_STEP_TASKS_PER_NODE='1(x2)'),
     'SLURM_STEP_TASKS_PER_NODE=1(x2) adds up to 2 tasks, SLURM_STEP_NUM_TASKS=4'),
    (dict(SLURM_STEP_TASKS_PER_NODE='2(xtwo)'),
     'SLURM_STEP_TASKS_PER_NODE=2(xtwo): 2(xtwo) is not a count or count(xN)'),
    (dict(SLURM_STEP_TASKS_PER_NODE='2(x%s)' % ('9' * 5000)), 'SLURM_STEP_TASKS_PER_NODE=2(x99'),
    (dict(SLURM_STEP_NUM_TASKS='99999999999', SLURM_STEP_TASKS_PER_NODE='1(x99999999999)'),
     "SLURM_STEP_NUM_TASKS=99999999999: must be in 1..%d (glo-train's cap of %d Slurm tasks)"
     % (resolvers.MAX_SLURM_TASKS, resolvers.MAX_SLURM_TASKS)),
    (dict(SLURM_STEP_NUM_TASKS='9' * 5000), 'SLURM_STEP_NUM_TASKS: must be a non-negative '
     'integer, got 999'),
    (dict(SLURM_PROCID='\u00b2'), 'SLURM_PROCID: must be a non-negative integer, got \u00b2'),
    (dict(SLURMD_NODENAME='n9\nFAKE'), "SLURMD_NODENAME='n9\\nFAKE'"),
]


@pytest.mark.parametrize('values, message', HOSTILE_SLURM)
def test_hostile_slurm_values_are_refused_at_once_naming_variable_and_value(values, message):
  env = _slurm(1, SLURM_LOCALID='1')
  env.update(values)
  start = time.monotonic()
  with pytest.raises(cluster.ClusterError) as caught:
    resolvers.resolve('slurm', env)
  assert time.monotonic() - start < 0.5
  text = str(caught.value)
  assert message in text and '\n' not in text and len(text) < 400


def test_slurm_at_its_cap_is_built():
  """The cap is a bound, not a refusal of big clusters: MAX_SLURM_TASKS tasks on as many
  nodes resolve, the last rank being the last node's task."""
  n = resolvers.MAX_SLURM_TASKS
  env = _slurm(n - 1, nodes='n[00001-%05d]' % n, per_node='1(x%d)' % n, tasks=n)
  got = resolvers.resolve('slurm', env)
  assert got.num_workers == n - 1 and got.worker_hosts[-1] == 'n%05d:2222' % n
  assert resolvers.count_hostlist('n[1-3,10]m[1-2],x') == 9
  with pytest.raises(cluster.ClusterError, match=re.escape('SLURM_STEP_NUM_TASKS=%d: must be '
                                                           'in 1..%d' % (n + 1, n))):
    resolvers.resolve('slurm', _slurm(0, tasks=n + 1))


def test_resolving_a_cluster_needs_no_tensorflow():
  """A bad launch is refused before TensorFlow loads (seconds): resolvers imports none."""
  code = ('import sys; from glo_tf1.training import resolvers; '
          'print("tensorflow" in sys.modules)')
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
  assert out.stdout.strip() == 'False', out.stderr


@pytest.mark.e2e
def test_hostile_slurm_values_exit_2_on_one_line_within_seconds(tmp_path):
  """The two values a reliability test saw crash or hang glo-train (MemoryError; building
  a 10**8 host list), through the program: exit 2, one line naming the variable, fast."""
  for values, message in HOSTILE_SLURM[:2]:
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='3', **_slurm(1))
    env.pop('TF_CONFIG', None)
    env.update(values)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, '-m', 'glo_tf1.cli.train', '--cluster', 'slurm', '--run_dir',
         str(tmp_path / 'run'), '--data_dir', str(tmp_path)], capture_output=True, text=True,
        cwd=ROOT, timeout=60, env=env)
    elapsed = time.monotonic() - start
    assert proc.returncode == common.EXIT_USAGE, proc.stderr
    assert proc.stderr == 'error: %s\n' % message, proc.stderr
    assert elapsed < 5, elapsed  # measured about 0.5 s on an idle machine: no TensorFlow
    assert not (tmp_path / 'run').exists()


def _tf_config(task_type, index, jobs=None, **extra):
  config = {'cluster': jobs or {'chief': CHIEF, 'worker': WORKERS, 'ps': PS},
            'task': {'type': task_type, 'index': index}}
  config.update(extra)
  return {'TF_CONFIG': json.dumps(config)}


def test_tf_config_chief_becomes_worker_0():
  workers = CHIEF + WORKERS
  assert resolvers.resolve('tf_config', _tf_config('chief', 0)) == \
      cluster.parse(PS, workers, 'worker', 0)
  assert resolvers.resolve('auto', _tf_config('worker', 1)) == \
      cluster.parse(PS, workers, 'worker', 2)
  assert resolvers.resolve('auto', _tf_config('ps', 1, rpc_layer='grpc',
                                              environment='cloud')) == \
      cluster.parse(PS, workers, 'ps', 1)
  master = _tf_config('master', 0, {'master': CHIEF, 'worker': WORKERS, 'ps': PS})
  assert resolvers.resolve('auto', master) == cluster.parse(PS, workers, 'worker', 0)
  no_chief = _tf_config('worker', 0, {'worker': WORKERS, 'ps': PS})
  assert resolvers.resolve('auto', no_chief).is_chief


@pytest.mark.parametrize('env, message', [
    ({'TF_CONFIG': '{"cluster": '}, 'TF_CONFIG is not JSON'),
    ({'TF_CONFIG': '[1]'}, 'TF_CONFIG must be a JSON object'),
    ({'TF_CONFIG': '{"task": {}}'}, 'TF_CONFIG has no "cluster"'),
    ({}, 'TF_CONFIG is not set'),
    (_tf_config('chief', 0, {'chief': CHIEF, 'ps': PS, 'evaluator': ['e:1']}),
     'TF_CONFIG cluster: unknown job \'evaluator\''),
    (_tf_config('ps', 0, {'ps': PS}), 'needs a "chief" or a "worker" job'),
    (_tf_config('chief', 0, {'chief': CHIEF, 'worker': WORKERS}), 'needs a "ps" job'),
    (_tf_config('chief', 0, {'chief': CHIEF * 2, 'ps': PS}), 'at most one chief'),
    (_tf_config('chief', 0, {'chief': CHIEF, 'master': CHIEF, 'ps': PS}), 'at most one chief'),
    (_tf_config('chief', 0, {'chief': 'c0:2222', 'ps': PS}), 'TF_CONFIG cluster.chief'),
    (_tf_config('evaluator', 0), 'TF_CONFIG task.type: \'evaluator\''),
    (_tf_config('worker', 2), 'TF_CONFIG task.index: must be in [0, 2) for job worker'),
    (_tf_config('chief', 1), 'TF_CONFIG task.index: must be in [0, 1) for job chief'),
    (_tf_config('worker', True), 'TF_CONFIG task.index'),
    (_tf_config('worker', 0, rpc_layer='grpc+verbs'), 'TF_CONFIG rpc_layer'),
    (_tf_config('worker', 0, {'chief': CHIEF, 'worker': ['c0:2222'], 'ps': PS}),
     '--worker_hosts: a host:port is listed twice'),
])
def test_tf_config_refusals_name_the_variable(env, message):
  with pytest.raises(cluster.ClusterError, match=re.escape(message)):
    resolvers.resolve('tf_config', env)


def test_auto_and_mixed_descriptions():
  assert resolvers.resolve('auto', {}) is None
  assert resolvers.resolve('auto', {'TF_CONFIG': ' '}) is None  # empty counts as unset
  assert resolvers.resolve('auto', {}, PS, WORKERS, 'worker', 1) == \
      cluster.parse(PS, WORKERS, 'worker', 1)
  # --cluster flags ignores TF_CONFIG; the host flags with TF_CONFIG or Slurm are refused.
  assert resolvers.resolve('flags', _tf_config('chief', 0)) is None
  for source, env in (('auto', _tf_config('chief', 0)), ('slurm', _slurm(0))):
    with pytest.raises(cluster.ClusterError, match='--ps_hosts, --worker_hosts'):
      resolvers.resolve(source, env, PS, WORKERS, 'worker', 0)
  with pytest.raises(cluster.ClusterError, match='--ps_timeout_secs'):
    resolvers.resolve('tf_config', _tf_config('chief', 0), ps_timeout_secs=0)


def test_bad_tf_config_exits_2_naming_it_without_a_traceback(tmp_path, monkeypatch):
  monkeypatch.setenv('TF_CONFIG', json.dumps({'cluster': {'worker': WORKERS, 'ps': PS},
                                              'task': {'type': 'worker', 'index': 7}}))
  proc = run_main('glo_tf1.cli.train', '--run_dir', str(tmp_path / 'run'), '--data_dir',
                  str(tmp_path), check=False)
  assert proc.returncode == common.EXIT_USAGE, proc.stderr
  assert 'error: TF_CONFIG task.index: must be in [0, 2) for job worker, got 7' in proc.stderr
  assert 'Traceback' not in proc.stderr + proc.stdout
  assert not (tmp_path / 'run').exists()


def test_lost_server_exit_status_is_the_training_fault_status():
  assert cluster.EXIT_LOST_SERVER == common.EXIT_TRAINING_FAULT


def _listener(port=0):
  s = socket.socket()
  s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  s.bind(('127.0.0.1', port))
  s.listen()
  return s


def _watch(host, timeout):
  lines, exits = [], []
  c = cluster.parse([host], ['127.0.0.1:1'], 'worker', 0, ps_timeout_secs=timeout)
  watch = cluster.ServerWatch(c, every=0.05, log=lines.append, stop_process=exits.append)
  return watch, lines, exits


def test_server_watch_reports_a_lost_parameter_server_and_exits():
  server = _listener()
  host = '127.0.0.1:%d' % server.getsockname()[1]
  watch, lines, exits = _watch(host, timeout=0.5)
  with watch:
    time.sleep(0.3)
    assert not lines and not exits  # it answers: nothing said
    server.close()
    deadline = time.time() + 10
    while not exits and time.time() < deadline:
      time.sleep(0.05)
  assert exits == [cluster.EXIT_LOST_SERVER]
  assert lines[0].startswith('worker 0: lost the parameter server at %s' % host)
  assert 'did not come back within 0.5s; stopping (exit 4)' in lines[-1]


def test_server_watch_forgives_a_parameter_server_that_comes_back():
  server = _listener()
  port = server.getsockname()[1]
  watch, lines, exits = _watch('127.0.0.1:%d' % port, timeout=30)
  with watch:
    server.close()
    deadline = time.time() + 10
    while not lines and time.time() < deadline:
      time.sleep(0.05)
    server = _listener(port)  # restarted on the same port
    while len(lines) < 2 and time.time() < deadline:
      time.sleep(0.05)
  server.close()
  assert not exits
  assert 'lost the parameter server' in lines[0] and 'answers again' in lines[1], lines


def test_a_parameter_server_that_never_answers_is_named_after_the_timeout():
  with _listener() as s:
    port = s.getsockname()[1]  # closed again: nobody listens there
  c = cluster.parse(['127.0.0.1:%d' % port], ['127.0.0.1:1'], 'worker', 0,
                    ps_timeout_secs=0.6)
  said = []
  start = time.time()
  with pytest.raises(cluster.ClusterError, match=re.escape(
      'the parameter server at 127.0.0.1:%d (ps task 0) did not answer within 0.6s '
      '(--ps_timeout_secs)' % port)):
    cluster.check_same_cluster(c, log=said.append)
  assert time.time() - start < 5
  assert said == ['worker 0: waiting for the parameter server at 127.0.0.1:%d ...' % port]


def test_listening_addresses_and_exposure_read_what_the_kernel_reports():
  """Independent reference: Python sockets bound to loopback and to every interface."""
  with _listener() as lo, socket.socket() as every:
    every.bind(('0.0.0.0', 0))
    every.listen()
    lo_port, every_port = lo.getsockname()[1], every.getsockname()[1]
    assert cluster.listening_addresses(lo_port) == ['127.0.0.1']
    assert cluster.listening_addresses(every_port) == ['0.0.0.0']
    assert cluster.exposure(lo_port).startswith('processes on this machine (bound to '
                                                '127.0.0.1)')
    wide = cluster.exposure(every_port)
    if cluster.network_interfaces() != ['lo']:
      assert wide.startswith('any process on this machine or on a network that reaches '
                             'port %d' % every_port), wide
    assert 'no authentication' in wide
  assert cluster.listening_addresses(lo_port) == []


def test_every_cluster_process_says_where_it_listens_and_who_can_connect():
  """Issue 31: a hand-launched worker said nothing of who can connect, though its server is
  as open as the parameter server's. Measured on a socket bound as TensorFlow binds."""
  with socket.socket() as every:
    every.bind(('0.0.0.0', 0))
    every.listen()
    port = every.getsockname()[1]
    hosts = ['127.0.0.1:%d' % port, '127.0.0.1:%d' % (port + 1)]
    worker = cluster.parse(['127.0.0.1:1'], hosts, 'worker', 0)
    line = cluster.started_line(worker)
    assert line.startswith('Worker 0 of 2 listening on %s.\nWho can connect: ' % hosts[0]), line
    assert line.endswith(cluster.exposure(port)) and 'bound to' in line, line
    ps = cluster.parse(hosts[:1], ['127.0.0.1:1'], 'ps', 0)
    assert cluster.started_line(ps).startswith(
        'Parameter server 0 of 1 listening on %s; serving until killed.\nWho can connect: '
        % hosts[0])
    other = cluster.started_line(cluster.parse(['127.0.0.1:1'], hosts, 'worker', 1))
    assert other.startswith('Worker 1 of 2 listening on %s.' % hosts[1]), other
    assert cluster.exposure(port) not in other  # measured on its own port, not the first


def test_only_the_chief_says_it_saved_when_interrupted():
  """Issue 31: worker 1 of cluster_local.sh said 'checkpoint saved' at its own step, but only
  the chief saves, later (the loopback cluster test reads both logs)."""
  assert loop.interrupted_line(1356, 'runs/c', True) == (
      'Interrupted at step 1356; checkpoint saved in runs/c')
  line = loop.interrupted_line(1356, 'runs/c', False)
  assert 'saved' not in line and 'the chief saves the checkpoint in runs/c' in line, line


def test_worker_images_are_compared_with_the_chiefs_manifest(tmp_path):
  run, data, other = (str(tmp_path / n) for n in ('run', 'data', 'other'))
  names = write_index_images(data, 3, size=8)
  write_index_images(other, 3, size=9)
  os.makedirs(run)
  with pytest.raises(rundir.RunDirError, match='manifest.tsv: not found, though the chief'):
    run_manifest.check_same_images(run, files.build_manifest(data, names))
  run_manifest.check_manifest(run, files.build_manifest(data, names))  # the chief writes it
  run_manifest.check_same_images(run, files.build_manifest(data, names))
  with pytest.raises(rundir.RunDirError, match=r'--data_dir: this worker\'s images differ '
                     r'from the chief\'s(.|\n)*modified: img_00000.png \(size \d+ -> \d+\)'):
    run_manifest.check_same_images(run, files.build_manifest(other, names))


def _flags_of(args):
  """glo-train's flags, parsed as the program parses them (an unknown one is refused)."""
  from glo_tf1.cli import train  # pylint: disable=import-outside-toplevel
  common.parse(train.FLAGS, ['glo-train'] + list(args))
  return train.FLAGS


def test_slurm_sbatch_parses_and_starts_the_cluster_it_documents(tmp_path):
  """reproduce/slurm.sbatch under a fake srun: bash -n, its --help, the srun line (N + 1
  tasks, block), glo-train flags that exist, the ranks it documents (rank 0 the
  parameter server beside rank 1, the chief), and SIGTERM ignored by rank 0 only."""
  script = os.path.join(ROOT, 'reproduce', 'slurm.sbatch')
  assert subprocess.run(['bash', '-n', script]).returncode == 0
  head = subprocess.run(['bash', script, '--help'], capture_output=True, text=True)
  assert head.returncode == 0 and 'sbatch --nodes=N reproduce/slurm.sbatch' in head.stdout
  fake = tmp_path / 'bin'
  fake.mkdir()
  record = tmp_path / 'srun.args'
  (fake / 'srun').write_text('#!/bin/sh\nprintf "%%s\\0" "$@" > %s\n' % record)
  (fake / 'glo-train').write_text(
      '#!/bin/sh\nexec "%s" -c "import signal; print(signal.getsignal(signal.SIGTERM) is '
      'signal.SIG_IGN)"\n' % sys.executable)
  for f in ('srun', 'glo-train'):
    os.chmod(str(fake / f), 0o755)
  env = dict(os.environ, PATH='%s:%s' % (fake, os.environ['PATH']), SLURM_JOB_NUM_NODES='3')
  proc = subprocess.run(['bash', script, 'data', 'run', '--num_steps', '10'], cwd=str(tmp_path),
                        env=env, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  args = record.read_text().split('\0')[:-1]
  srun, (shell, dash_c, wrapper, name), train = args[:5], args[5:9], args[9:]
  assert srun == ['--nodes=3', '--ntasks=4', '--distribution=block', '--wait=120',
                  '--kill-on-bad-exit=0']
  assert (shell, dash_c, name) == ('bash', '-c', 'glo-train')
  fv = _flags_of(train)
  assert (fv.cluster, fv.num_ps, fv.preset, fv.num_steps) == ('slurm', 1, 'blog', 10)
  assert fv.data_dir == str(tmp_path / 'data') and fv.run_dir == str(tmp_path / 'run')
  # The 4 tasks on 3 nodes as block distribution lays them out.
  slurm = {'SLURM_STEP_NUM_TASKS': '4', 'SLURM_STEP_NODELIST': 'n[1-3]',
           'SLURM_STEP_TASKS_PER_NODE': '2,1(x2)'}
  roles = [resolvers.resolve('slurm', dict(slurm, SLURM_PROCID=str(r)), num_ps=fv.num_ps,
                             port=fv.cluster_port) for r in range(4)]
  assert roles[0].job_name == 'ps' and roles[0].ps_hosts == ('n1:2222',)
  assert roles[1].is_chief and roles[1].worker_hosts == ('n1:2223', 'n2:2222', 'n3:2222')
  for rank, ignored in (('0', 'True'), ('1', 'False')):
    out = subprocess.run([shell, dash_c, wrapper, name] + train, capture_output=True,
                         text=True, env=dict(env, SLURM_PROCID=rank), timeout=60)
    assert out.stdout.strip() == ignored, (rank, out.stderr)


def test_tfjob_example_gives_the_tf_config_the_resolver_accepts():
  """docs/tfjob.yaml: the TF_CONFIG the training operator derives from its replica specs
  (jobs named by the lower-cased replica type, hosts NAME-TYPE-i.NAMESPACE.svc:PORT)
  resolves, for every pod, to one cluster whose chief is worker 0."""
  with open(os.path.join(ROOT, 'docs', 'tfjob.yaml')) as f:
    text = f.read()
  name = re.search(r'^metadata:\n  name: (\S+)$', text, re.M).group(1)
  blocks = re.split(r'^    (PS|Chief|Worker):\n', text.split('tfReplicaSpecs:\n')[1],
                    flags=re.M)[1:]
  specs = {}
  for kind, body in zip(blocks[::2], blocks[1::2]):
    specs[kind.lower()] = {
        'replicas': int(re.search(r'^      replicas: (\d+)$', body, re.M).group(1)),
        'port': int(re.search(r'containerPort: (\d+)', body).group(1)),
        'command': json.loads(re.search(r'command: (\[.*\])$', body, re.M).group(1)),
        'mounts': re.findall(r'mountPath: ([^,}\s]+)', body)}
  assert sorted(specs) == ['chief', 'ps', 'worker']
  jobs = {kind: ['%s-%s-%d.default.svc:%d' % (name, kind, i, s['port'])
                 for i in range(s['replicas'])] for kind, s in specs.items()}
  clusters = []
  for kind, s in specs.items():
    for i in range(s['replicas']):
      env = {'TF_CONFIG': json.dumps({'cluster': jobs, 'task': {'type': kind, 'index': i},
                                      'environment': 'cloud'})}
      clusters.append(resolvers.resolve('auto', env))
  assert len({(c.ps_hosts, c.worker_hosts) for c in clusters}) == 1
  assert sum(c.is_chief for c in clusters) == 1
  chief = [c for c in clusters if c.is_chief][0]
  assert chief.worker_hosts[0] == jobs['chief'][0] and chief.num_workers == 4
  ps = specs['ps']['command']
  assert ps[:2] == ['sh', '-c'] and ps[2].startswith("trap '' TERM; exec glo-train ")
  assert _flags_of(ps[2].split('exec glo-train ')[1].split()).cluster == 'tf_config'
  for kind in ('chief', 'worker'):
    command = specs[kind]['command']
    assert command[0] == 'glo-train'
    fv = _flags_of(command[1:])
    assert (fv.cluster, fv.preset) == ('tf_config', 'blog')
    assert any(fv.run_dir.startswith(m + '/') for m in specs[kind]['mounts'])
    assert any(fv.data_dir.startswith(m + '/') for m in specs[kind]['mounts'])
  # The parameter server writes its checkpoint shard into the same run directory.
  assert any(_flags_of(specs['chief']['command'][1:]).run_dir.startswith(m + '/')
             for m in specs['ps']['mounts'])


def test_the_cluster_flag_offers_exactly_the_sources_resolve_reads():
  """glo-train --cluster's choices are resolvers.SOURCES (one list: settings'), each one
  is read by resolve, and an unknown one is refused by name."""
  from glo_tf1 import settings  # pylint: disable=import-outside-toplevel
  from glo_tf1.cli import train as cli_train  # pylint: disable=import-outside-toplevel
  assert cli_train.FLAGS['cluster'].parser.enum_values == list(resolvers.SOURCES)
  assert resolvers.SOURCES is settings.CLUSTER_SOURCES
  for source in resolvers.SOURCES:  # each has its reader: none refuses it as unknown
    try:
      resolvers.resolve(source, {})  # no hosts, no TF_CONFIG, no Slurm variables
    except resolvers.ClusterError as e:
      assert 'must be one of' not in str(e), e
  with pytest.raises(resolvers.ClusterError, match="--cluster.*'mpi'"):
    resolvers.resolve('mpi', {})
