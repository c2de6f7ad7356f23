"""Scale-out: cluster flags, shares, partitioned codes (lookup, updates, optimizers,
placement), checkpoints between a cluster and a single process, and a real loopback
cluster (reproduce/cluster_local.sh) with 1 parameter server and 2 workers."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, TINY, decode_index, run_module, write_index_images
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import pipelines
from glo_tf1.deploy import devices
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import optimizers
from glo_tf1.model import towers
from glo_tf1.training import cluster

PS = ['127.0.0.1:2220', '127.0.0.1:2221']
WORKERS = ['127.0.0.1:2222', '127.0.0.1:2223', '127.0.0.1:2224']


def test_parse_single_process_and_roles():
  assert cluster.parse(None, None, None, 0) is None
  c = cluster.parse(PS, WORKERS, 'worker', 0)
  assert c.is_chief and c.num_ps == 2 and c.num_workers == 3 and c.codes_shards == 2
  assert not cluster.parse(PS, WORKERS, 'worker', 2).is_chief
  assert not cluster.parse(PS, WORKERS, 'ps', 1).is_chief
  assert cluster.parse(PS, WORKERS, 'worker', 1, codes_shards=5).codes_shards == 5


@pytest.mark.parametrize('args, flag', [
    ((None, WORKERS, 'worker', 0), '--ps_hosts'),
    ((PS, [], 'worker', 0), '--worker_hosts'),
    ((['localhost'], WORKERS, 'worker', 0), '--ps_hosts'),
    ((PS, WORKERS + ['127.0.0.1:2222'], 'worker', 0), '--worker_hosts'),
    ((PS, PS[:1] + WORKERS, 'worker', 0), '--ps_hosts and --worker_hosts'),
    ((PS, WORKERS, 'chief', 0), '--job_name'),
    ((PS, WORKERS, 'worker', 3), '--task_index'),
    ((PS, WORKERS, 'ps', 2), '--task_index'),
])
def test_parse_errors_name_the_flag(args, flag):
  with pytest.raises(cluster.ClusterError, match=re.escape(flag)):
    cluster.parse(*args)
  with pytest.raises(cluster.ClusterError, match='--codes_shards'):
    cluster.parse(PS, WORKERS, 'worker', 0, codes_shards=0)


def test_check_config():
  c = cluster.parse(PS, WORKERS, 'worker', 0)
  cfg = settings.resolve('demo')
  cluster.check_config(cfg, c, 10)
  with pytest.raises(cluster.ClusterError, match='--input_pipeline'):
    cluster.check_config(dict(cfg, input_pipeline='post'), c, 10)
  with pytest.raises(cluster.ClusterError, match='--worker_hosts'):
    cluster.check_config(cfg, c, 2)


def test_worker_shares_are_disjoint_and_cover_every_image():
  shares = [cluster.worker_share(10, cluster.parse(PS, WORKERS, 'worker', t))
            for t in range(3)]
  assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def test_each_worker_share_keeps_every_image_with_its_own_code_index(tmp_path):
  """The cluster's input path (loop.build_training: a share's paths with indices=share):
  each index dequeued is the global index of the image that came with it (pixels encode
  it), and each worker sees exactly its share. A rotated or shifted share would pass a
  check that rows merely changed, not this one."""
  n = 11
  names = write_index_images(str(tmp_path), n)
  paths = [os.path.join(str(tmp_path), x) for x in names]
  cfg = settings.resolve('demo', {'image_size': 16, 'batch_size': 4, 'num_reader_threads': 2,
                                  'shuffle_capacity': 16, 'min_after_dequeue': 4})
  for task in range(3):
    share = cluster.worker_share(n, cluster.parse(PS, WORKERS, 'worker', task))
    with tf.Graph().as_default():
      batch = pipelines.tower_inputs(cfg, [paths[i] for i in share], 1, share)[0]
      seen = set()
      with tf.train.MonitoredSession() as sess:
        for _ in range(4 * len(share)):
          out = sess.run(batch)
          for image, index in zip(out['image'], out['index']):
            assert decode_index(image) == index, (task, share)
            seen.add(int(index))
    assert seen == set(share), (task, sorted(seen), share)


def _partitioned(n, dims, shards):
  return codes_lib.codes_variable(n, dims, 'gaussian', seed=1,
                                  partitioner=tf.fixed_size_partitioner(shards))


def test_partitioned_lookup_and_row_updates_match_numpy():
  n, dims = 11, 3
  table = np.random.RandomState(0).randn(n, dims).astype(np.float32)
  index = np.array([0, 3, 4, 10, 7, 4], np.int32)
  with tf.Graph().as_default(), tf.Session() as sess:
    codes = _partitioned(n, dims, 3)
    assert [b.get_shape().as_list()[0] for b in codes_lib.parts(codes)] == [4, 4, 3]
    sess.run(tf.global_variables_initializer())
    sess.run(codes.assign(table))
    got = sess.run(codes_lib.lookup(codes, tf.constant(index), 'sphere'))
    want = table[index] / np.linalg.norm(table[index], axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    sess.run(codes_lib.project_rows_op(codes, tf.constant(index), 'sphere'))
    after = sess.run(codes.as_tensor())
  expected = table.copy()
  expected[index] = want
  np.testing.assert_allclose(after, expected, rtol=1e-5)


@pytest.mark.parametrize('codes_optimizer', ['adam', 'lazy_adam', 'sgd'])
def test_optimizers_update_partitioned_codes_like_one_variable(codes_optimizer):
  """The same steps on a table in 3 blocks and on one variable give the same codes and
  the same slots, for each codes optimizer (and the decoder's Adam beside it)."""
  n, dims = 10, 4
  rng = np.random.RandomState(1)
  table = rng.randn(n, dims).astype(np.float32)
  batches = [np.array([1, 4, 4, 9]), np.array([0, 3, 8, 2]), np.array([9, 5, 1, 7])]
  cfg = settings.resolve('demo', {'optimizer': 'adam', 'codes_optimizer': codes_optimizer, 'learning_rate': 0.01,
         'codes_learning_rate': 0.01 if codes_optimizer == 'adam' else 0.1})
  results = []
  for shards in (None, 3):
    with tf.Graph().as_default(), tf.Session() as sess:
      step = tf.train.get_or_create_global_step()
      codes = codes_lib.codes_variable(n, dims, partitioner=shards and
                                       tf.fixed_size_partitioner(shards))
      with tf.variable_scope('decoder'):
        w = tf.get_variable('w', initializer=tf.constant(np.linspace(-1, 1, dims * 2)
                                                         .reshape(dims, 2).astype(np.float32)))
      index = tf.placeholder(tf.int32, [4])
      loss = tf.reduce_sum(tf.square(tf.matmul(codes_lib.lookup(codes, index), w) - 0.5))
      op, opts = optimizers.train_op(loss, codes, [w], cfg, step)
      sess.run(tf.global_variables_initializer())
      sess.run(codes.assign(table))
      for b in batches:
        sess.run(op, {index: b})
      read = lambda v: np.concatenate([sess.run(p) for p in codes_lib.parts(v)])
      slots = {name: np.concatenate([sess.run(opts['codes'].get_slot(p, name))
                                     for p in codes_lib.parts(codes)])
               for name in opts['codes'].get_slot_names()}
      results.append((read(codes), slots, sess.run(w)))
  (c1, s1, w1), (c3, s3, w3) = results
  np.testing.assert_allclose(c3, c1, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(w3, w1, rtol=1e-5, atol=1e-6)
  assert sorted(s1) == sorted(s3)
  for name in s1:
    np.testing.assert_allclose(s3[name], s1[name], rtol=1e-5, atol=1e-7)
  untouched = sorted(set(range(n)) - set(np.concatenate(batches).tolist()))
  assert untouched == [6]
  np.testing.assert_array_equal(c1[6], table[6])


def _save_codes(path, shards, table):
  """Saves codes (blocks or one variable) with an Adam step's slots; returns the values."""
  with tf.Graph().as_default(), tf.Session() as sess:
    step = tf.train.get_or_create_global_step()
    codes = codes_lib.codes_variable(*table.shape, partitioner=shards and
                                     tf.fixed_size_partitioner(shards))
    loss = tf.reduce_sum(codes_lib.lookup(codes, tf.constant([1, 5, 6]), 'ball'))
    op, opts = optimizers.train_op(loss, codes, [], settings.resolve('demo', {
        'optimizer': 'adam', 'codes_optimizer': 'adam', 'learning_rate': 0.1,
        'codes_learning_rate': 0.1}), step)
    sess.run(tf.global_variables_initializer())
    sess.run(codes.assign(table))
    sess.run(op)
    tf.train.Saver(sharded=bool(shards)).save(sess, path, global_step=step)
    return {v: np.concatenate([sess.run(opts['codes'].get_slot(p, v) if v else p)
                               for p in codes_lib.parts(codes)]) for v in ('', 'm', 'v')}


def _restore_codes(path, shards, shape):
  with tf.Graph().as_default(), tf.Session() as sess:
    step = tf.train.get_or_create_global_step()
    codes = codes_lib.codes_variable(*shape, partitioner=shards and
                                     tf.fixed_size_partitioner(shards))
    opt = tf.train.AdamOptimizer(0.1)
    opt.minimize(tf.reduce_sum(codes_lib.lookup(codes, tf.constant([0]))),
                 var_list=codes_lib.parts(codes), global_step=step)
    tf.train.Saver().restore(sess, path)
    return {v: np.concatenate([sess.run(opt.get_slot(p, v) if v else p)
                               for p in codes_lib.parts(codes)]) for v in ('', 'm', 'v')}


@pytest.mark.parametrize('saved, restored', [(3, None), (None, 4), (3, 2)])
def test_checkpoint_moves_between_cluster_and_single_process(tmp_path, saved, restored):
  """A table saved in blocks restores into one variable (figures, evaluation, resume) and
  the other way round; every row and both Adam slots arrive intact."""
  table = np.random.RandomState(2).randn(13, 5).astype(np.float32)
  path = str(tmp_path / 'model.ckpt')
  before = _save_codes(path, saved, table)
  assert not np.array_equal(before[''], table)  # the Adam step moved rows 1, 5, 6
  ckpt = path + '-1'
  assert tf.train.load_variable(ckpt, 'codes').shape == table.shape
  after = _restore_codes(ckpt, restored, table.shape)
  for name in before:
    np.testing.assert_array_equal(after[name], before[name])


def test_device_setter_spreads_code_blocks_over_parameter_servers():
  c = cluster.parse(PS, WORKERS, 'worker', 2)
  cfg = settings.resolve('demo', dict(image_size=16, latent_dims=8, decoder_filters=[16, 8],
                                    num_gpus=2, tower_device='cpu'))
  with tf.Graph().as_default(), tf.device(cluster.device_setter(c)):
    tower_inputs = [{'image': tf.zeros([4, 16, 16, 3]), 'index': tf.range(4)}
                    for _ in range(2)]
    model = towers.build_training_graph(cfg, tower_inputs, 101, devices.deployment(cfg),
                                        codes_partitioner=cluster.codes_partitioner(c))
    blocks = codes_lib.parts(model['codes'])
    assert [b.get_shape().as_list() for b in blocks] == [[51, 8], [50, 8]]
    assert sorted(b.device for b in blocks) == ['/job:ps/task:0/device:CPU:0',
                                                '/job:ps/task:1/device:CPU:0']
    for v in tf.global_variables():
      assert v.device.startswith('/job:ps/'), (v.op.name, v.device)
    for i, t in enumerate(model['towers']):
      assert t['reconstruction'].device == '/job:worker/task:2/device:CPU:%d' % i
    conf = cluster.session_config(c, tf.ConfigProto(allow_soft_placement=True))
    assert list(conf.device_filters) == ['/job:ps', '/job:worker/task:2']


@pytest.mark.parametrize('codes_optimizer', ['adam', 'sgd'])
def test_sync_replicas_wraps_one_optimizer(codes_optimizer):
  c = cluster.parse(PS, WORKERS, 'worker', 0, sync_replicas=True)
  cfg = settings.resolve('demo', dict(image_size=16, latent_dims=8, decoder_filters=[16, 8],
                                    codes_optimizer=codes_optimizer))
  with tf.Graph().as_default(), tf.device(cluster.device_setter(c)):
    fn = cluster.sync_train_op_fn(c)
    model = towers.build_training_graph(
        cfg, [{'image': tf.zeros([4, 16, 16, 3]), 'index': tf.range(4)}], 10,
        devices.deployment(cfg), codes_partitioner=cluster.codes_partitioner(c), train_op_fn=fn)
    assert isinstance(fn.sync, tf.train.SyncReplicasOptimizer)
    assert fn.sync.make_session_run_hook(True) is not None
    types = {op.type for op in tf.get_default_graph().get_operations()}
    # Dense accumulators for the decoder, sparse ones for the code blocks.
    assert {'ResourceConditionalAccumulator', 'SparseConditionalAccumulator'} <= types
    assert (model['optimizers']['codes'] is model['optimizers']['network']) == \
        (codes_optimizer == 'adam')


def _nobody_listens(port):
  with socket.socket() as s:
    return s.connect_ex(('127.0.0.1', port)) != 0


def _processes_naming(text):
  """Pids of running processes whose command line contains `text`."""
  pids = []
  for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
      with open('/proc/%s/cmdline' % pid, 'rb') as f:
        if text.encode() in f.read():
          pids.append(int(pid))
    except OSError:
      pass
  return pids


def _start_script(env):
  """reproduce/cluster_local.sh in its own process group."""
  return subprocess.Popen(['bash', os.path.join(ROOT, 'reproduce', 'cluster_local.sh')],
                          cwd=ROOT, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _kill_leftovers(proc, marker):
  """Kills the script's group and any process naming `marker` (its servers run in
  sessions of their own), so that nothing outlives the test whatever happens."""
  for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
      os.killpg(proc.pid, sig)
    except ProcessLookupError:
      break
  for pid in _processes_naming(marker):
    try:
      os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
      pass
  proc.wait()


@pytest.mark.e2e
def test_loopback_cluster_continues_a_single_process_run_and_back(tmp_path):
  """Single process (2 steps) -> 1 ps + 2 workers (loopback) -> single process again.

  16 images, 2 workers, batch 8, --deterministic (FIFO batches): every step of a worker
  trains exactly its 8-image share, so once both workers have stepped every row of the
  table was trained and must have changed. The codes are in 3 blocks on the cluster.
  The cluster is ended by SIGTERM to the script, past step 60: it stops worker 1, then
  the chief, whose final save must hold every step of both (the parameter server stops
  last), then the parameter server. While it runs, an unrelated process (this test)
  must not reach the parameter server when the script could isolate it.
  """
  data, run = str(tmp_path / 'data'), str(tmp_path / 'run')
  write_index_images(data, 16, size=16)
  tiny = TINY + ['--deterministic', '--num_gpus=auto', '--codes_optimizer=lazy_adam',
                 '--log_every_steps=20']
  run_module('glo_tf1.cli.train', '--data_dir', data, '--run_dir', run, '--num_steps=2', *tiny)
  first = tf.train.latest_checkpoint(run)
  assert first.endswith('-2')
  with open(os.path.join(run, 'config.json')) as f:  # --num_gpus=auto, resolved
    assert json.load(f)['num_gpus'] == max(1, devices.visible_gpus())
  codes0 = tf.train.load_variable(first, 'codes')

  proc = _start_script({
      'CLUSTER_DATA_DIR': data, 'CLUSTER_RUN_DIR': run, 'CLUSTER_STEPS': '100000',
      'CLUSTER_FLAGS': ' '.join(tiny[1:] + ['--codes_shards=3', '--skip_data_check']),
      'CLUSTER_GRACE': '30'})
  lines, ports = [], []
  try:
    for line in proc.stdout:
      lines.append(line)
      if line.startswith('Cluster: '):
        break
    ports = [int(p) for p in re.search(r'Cluster: ps 127\.0\.0\.1:(\d+), workers '
                                       r'127\.0\.0\.1:(\d+) \(chief\), 127\.0\.0\.1:(\d+)',
                                       ''.join(lines)).groups()]
    chief_log = os.path.join(run, 'cluster_logs', 'worker0.log')
    _wait_for(chief_log, r'step ([6-9]\d|\d{3,})/100000', 240, [proc])
    isolated = 'Who can connect: only the processes of this script' in ''.join(lines)
    if isolated:  # the hostile test: from outside, nothing to connect to
      assert _nobody_listens(ports[0]), 'the parameter server is reachable from outside'
      assert cluster.listening_addresses(ports[0]) == []
    else:
      assert 'Who can connect: anyone who reaches this machine' in ''.join(lines)
    proc.send_signal(signal.SIGTERM)
    out = ''.join(lines) + proc.communicate(timeout=180)[0]
    rc = proc.returncode
  finally:
    _kill_leftovers(proc, '127.0.0.1:%d' % ports[0] if ports else run)
  assert rc == 143, out
  assert all(_nobody_listens(p) for p in ports), 'a cluster process outlived the script'
  assert not _processes_naming(run), 'a cluster process outlived the script'
  logs = ''
  for name in ('worker0', 'worker1', 'ps0'):
    with open(os.path.join(run, 'cluster_logs', name + '.log')) as f:
      logs += f.read()
  ran = {int(t): (int(k), int(g)) for t, k, g in
         re.findall(r'Worker (\d) ran (\d+) steps; global step (\d+)\.', logs)}
  assert sorted(ran) == [0, 1], logs
  assert ran[0][0] > 0 and ran[1][0] > 0, logs
  saved = int(re.search(r'Interrupted at step (\d+); checkpoint saved', logs).group(1))
  with open(os.path.join(run, 'cluster_logs', 'worker1.log')) as f:
    worker1 = f.read()  # issue 31: only the chief saves; worker 1 must not claim it
  assert 'checkpoint saved' not in worker1 and 'the chief saves the checkpoint' in worker1
  assert 'Worker 1 of 2 listening on 127.0.0.1:%d.\nWho can connect: ' % ports[2] in worker1
  final = tf.train.latest_checkpoint(run)
  last = int(final.rsplit('-', 1)[1])
  assert last == saved >= 60  # the chief's final save, made before the ps stopped
  assert last == 2 + ran[0][0] + ran[1][0]  # asynchronous: each worker step is one update
  assert 'Checkpoint: %s' % final in out
  codes1 = tf.train.load_variable(final, 'codes')
  assert codes1.shape == codes0.shape == (16, 8)
  assert np.all(np.abs(codes1 - codes0).max(axis=1) > 0), 'a trained row did not change'

  # Back in one process: resumes from the cluster's checkpoint with the same codes.
  out = run_module('glo_tf1.cli.train', '--data_dir', data, '--run_dir', run,
                   '--num_steps=%d' % (last + 1), *tiny).stdout
  assert 'Resuming at step %d' % last in out
  resumed = tf.train.latest_checkpoint(run)
  assert resumed.endswith('-%d' % (last + 1))
  codes2 = tf.train.load_variable(resumed, 'codes')
  changed = np.abs(codes2 - codes1).max(axis=1) > 0
  assert changed.sum() == 8  # one batch of 8 rows moved; the others came through intact


def _free_ports(n):
  """A base port with n consecutive free loopback ports above it (checked by binding)."""
  for base in range(20000 + os.getpid() % 20000, 60000, 97):
    socks = []
    try:
      for k in range(n):
        s = socket.socket()
        socks.append(s)
        s.bind(('127.0.0.1', base + k))
      return base
    except OSError:
      continue
    finally:
      for s in socks:
        s.close()
  raise AssertionError('no free ports')


def _ignore_sigterm():
  signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _start(log, args, env, preexec_fn=None):
  """glo-train as its own process group, output in `log`."""
  full = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  for name in ('TF_CONFIG', 'SLURM_PROCID', 'SLURMD_NODENAME', 'SLURM_LOCALID'):
    full.pop(name, None)
  full.update(env)
  with open(log, 'w') as out:
    return subprocess.Popen([sys.executable, '-m', 'glo_tf1.cli.train'] + args, cwd=ROOT,
                            env=full, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=preexec_fn)


def _wait_for(path, pattern, timeout, procs=()):
  deadline, text = time.time() + timeout, ''
  while time.time() < deadline:
    if os.path.exists(path):
      with open(path) as f:
        text = f.read()
    if re.search(pattern, text):
      return text
    if any(p.poll() is not None for p in procs):
      break
    time.sleep(0.5)
  raise AssertionError('%r not in %s:\n%s' % (pattern, path, text))


@pytest.mark.e2e
def test_tf_config_and_slurm_launch_one_cluster_and_its_failures_are_named(tmp_path):
  """One loopback cluster started through every launcher: the parameter server and
  worker 1 from faked Slurm variables (4 tasks on one node), the chief from TF_CONFIG
  (a "chief" job), worker 2 from the host flags. Their descriptions must agree (each
  worker compares with the parameter server's), so the run training shows the three
  resolvers give one cluster. Then what must be refused by name: another host list
  (in-process, against the live parameter server), a worker whose --data_dir holds
  other images under the same names, and a kill -9'd parameter server, after which the
  workers say so and exit 4 instead of waiting forever (a SIGTERM it was started to
  ignore, before, changes nothing). The server's exposure is read
  from /proc/net while it runs."""
  data, other, run = (str(tmp_path / n) for n in ('data', 'other', 'run'))
  write_index_images(data, 16, size=16)
  write_index_images(other, 16, size=18)  # same names, other contents
  base = _free_ports(4)
  hosts = ['127.0.0.1:%d' % (base + k) for k in range(4)]
  slurm = {'SLURM_STEP_NUM_TASKS': '4', 'SLURM_STEP_NODELIST': '127.0.0.1',
           'SLURM_STEP_TASKS_PER_NODE': '4'}
  slurm_flags = ['--cluster=slurm', '--cluster_port=%d' % base]
  tf_config = json.dumps({'cluster': {'chief': hosts[1:2], 'worker': hosts[2:],
                                      'ps': hosts[:1]}, 'task': {'type': 'chief', 'index': 0}})
  train = ['--run_dir', run, '--num_steps=100000', '--skip_data_check',
           '--ps_timeout_secs=3'] + TINY
  logs = {n: str(tmp_path / ('%s.log' % n)) for n in ('ps', 'chief', 'w1', 'w2')}
  procs = {}
  try:
    # Started with SIGTERM ignored, as slurm.sbatch and tfjob.yaml start it: it keeps
    # serving through the SIGTERM a launcher sends every task at once.
    procs['ps'] = _start(logs['ps'], slurm_flags, dict(slurm, SLURM_PROCID='0'),
                         preexec_fn=_ignore_sigterm)
    procs['chief'] = _start(logs['chief'], ['--data_dir', data] + train,
                            {'TF_CONFIG': tf_config})
    procs['w1'] = _start(logs['w1'], slurm_flags + ['--data_dir', data] + train,
                         dict(slurm, SLURM_PROCID='2', SLURMD_NODENAME='127.0.0.1',
                              SLURM_LOCALID='2'))
    procs['w2'] = _start(logs['w2'], ['--ps_hosts', hosts[0], '--worker_hosts',
                                      ','.join(hosts[1:]), '--job_name=worker',
                                      '--task_index=2', '--data_dir', other] + train, {})
    ps_line = _wait_for(logs['ps'], r'Who can connect: .*\n', 120, [procs['ps']])
    # Exposure, measured: TensorFlow bound the server to every interface, not 127.0.0.1.
    bound = cluster.listening_addresses(base)
    assert bound and set(bound) <= {'0.0.0.0', '::'}, bound
    assert 'bound to every interface: %s' % ', '.join(bound) in ps_line, ps_line
    assert 'no authentication' in ps_line

    # Another host list is refused against the live parameter server, both lists shown.
    wrong = cluster.parse(hosts[:1], hosts[1:3], 'worker', 1, ps_timeout_secs=20)
    with pytest.raises(cluster.ClusterError, match=re.escape(
        'worker hosts: %s -> %s' % (','.join(hosts[1:]), ','.join(hosts[1:3])))):
      cluster.check_same_cluster(wrong, log=lambda _: None)
    cluster.check_same_cluster(cluster.parse(hosts[:1], hosts[1:], 'worker', 1,
                                             ps_timeout_secs=20), log=lambda _: None)

    # Worker 2's images are refused once the chief is ready (exit 2, no traceback).
    assert procs['w2'].wait(timeout=180) == 2
    with open(logs['w2']) as f:
      text = f.read()
    assert 'error: --data_dir: this worker\'s images differ from the chief\'s' in text, text
    assert 'modified: img_00000.png (size ' in text and 'Traceback' not in text, text
    # A hand-launched worker (host flags) says who can connect, as the ps does (issue 31).
    said = re.search(r'Worker 2 of 3 listening on %s\.\nWho can connect: (.*)\n'
                     % re.escape(hosts[3]), text)
    assert said and 'bound to every interface' in said.group(1), text
    assert 'no authentication' in said.group(1)
    # The chief (TF_CONFIG) and worker 1 (Slurm) train together.
    _wait_for(logs['chief'], r'step ([3-9]\d|\d{3,})/100000', 180, [procs['chief']])
    _wait_for(logs['w1'], r'step \d+/100000', 60, [procs['w1']])

    procs['ps'].send_signal(signal.SIGTERM)
    time.sleep(1)
    assert procs['ps'].poll() is None and cluster.answers(hosts[0])
    procs['ps'].kill()  # kill -9: the workers must say so and stop
    for name in ('chief', 'w1'):
      assert procs[name].wait(timeout=60) == cluster.EXIT_LOST_SERVER, name
      with open(logs[name]) as f:
        text = f.read()
      assert 'lost the parameter server at %s' % hosts[0] in text, text
      assert 'did not come back within 3s; stopping (exit 4)' in text, text
  finally:
    for proc in procs.values():
      try:
        os.killpg(proc.pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
      proc.wait()
  assert all(_nobody_listens(base + k) for k in range(4))
