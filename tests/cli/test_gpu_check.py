"""bash reproduce/gpu_check.sh end to end with CPU towers and tiny sizes (no machine of ours
has a GPU), one step made to fail (the tower tests, which also run on their own in CI): the
report is still complete and names that failure with its error; the other steps pass: the
speed table, the placement logs, a glo-train run interrupted and resumed whose loss
decreases, two --deterministic runs with bit-identical checkpoints (checked here again with
numpy). Asked for GPUs that TensorFlow cannot see (a fake nvidia-smi), it still writes the
report, says why, and exits 2. The checks of reproduce/gpu_check.py say NO where they must.
"""
import importlib.util
import json
import os
import re
import subprocess

import numpy as np
import pytest

from conftest import ROOT
from conftest import fake_nvidia_smi

SCRIPT = os.path.join(ROOT, 'reproduce', 'gpu_check.sh')
STEPS = 20  # GPU_CHECK_STEPS: checkpoints, summaries and image dumps every 5 steps
TINY = {'GPU_CHECK_IMAGE_SIZE': '32', 'GPU_CHECK_STEPS': str(STEPS),
        'GPU_CHECK_TRAIN_FLAGS': '--batch_size 8', 'GPU_CHECK_BENCH_FLAGS': '--quick'}
FAIL = 'tests'  # the step made to fail (the tower tests also run on their own in CI)


def _script(out, env):
  full = dict(os.environ, GLO_DEVICE='cpu', **env)  # the venv the tests run in
  return subprocess.run(['bash', SCRIPT, out], capture_output=True, text=True, env=full,
                        timeout=1200)


def _steps(report):
  """{step: (result, exit status, note)} from the report's step table."""
  rows = re.findall(r'^\| (\w+) \| (ok|FAILED|skipped) \| (\S+) \| \d+ \| (.*) \|$', report,
                    re.M)
  return {name: (result, rc, note) for name, result, rc, note in rows}


@pytest.fixture(scope='module')
def checked(tmp_path_factory):
  out = str(tmp_path_factory.mktemp('gpu_check') / 'out')
  proc = _script(out, dict(TINY, GPU_CHECK_TOWER_DEVICE='cpu', GPU_CHECK_TOWERS='2',
                           GPU_CHECK_FAIL_STEP=FAIL))
  with open(os.path.join(out, 'gpu_check.md')) as f:
    report = f.read()
  return proc, out, report


@pytest.mark.e2e
def test_a_failing_step_is_recorded_and_the_report_is_complete(checked):
  proc, out, report = checked
  assert proc.returncode == 1, proc.stdout + proc.stderr
  assert 'failed steps: %s' % FAIL in proc.stderr
  assert report in proc.stdout  # printed as written
  steps = _steps(report)
  assert steps[FAIL] == ('FAILED', '97', 'exit status 97; see logs/%s.log' % FAIL)
  assert 'Failed steps: %s' % FAIL in report
  # Its error follows the table; every other step ran and passed, fp16 skipped and why.
  assert ('### Error of %s (end of logs/%s.log)\n\n```\nerror: simulated failure '
          '(GPU_CHECK_FAIL_STEP=%s)\n```' % (FAIL, FAIL, FAIL)) in report, report
  assert '(%s: FAILED)' % FAIL in report
  assert steps.pop('fp16') == ('skipped', '-', 'the towers are on the CPU (fp16 needs GPUs '
                                                'of compute capability 7.0 or more)')
  steps.pop(FAIL)
  assert set(steps) == {'environment', 'versions', 'placement', 'bench', 'data', 'train',
                        'resume', 'training', 'placement_train', 'det1', 'det2',
                        'determinism', 'first_start'}
  assert all(r == ('ok', '0', '') for r in steps.values()), steps
  for heading in ('Where to send this report', 'Steps', 'Environment', 'Versions', 'Tests',
                  'Training end to end', 'Determinism', 'fp16', 'Placement of one blog step',
                  'Placement of the training run', 'First start', 'Training speed'):
    assert '\n## %s' % heading in report, heading
  assert 'Please open an issue' in report
  with open(os.path.join(out, 'gpu_check.json')) as f:
    res = json.load(f)
  (failed,) = [s for s in res['steps'] if s['result'] == 'FAILED']
  assert failed['step'] == FAIL and 'GPU_CHECK_FAIL_STEP=%s' % FAIL in failed['error']


@pytest.mark.e2e
def test_versions_tests_speed_and_placement_with_cpu_towers(checked):
  _, out, report = checked
  assert 'GPUs TensorFlow sees: 0' in report and 'built for CUDA' in report
  assert 'nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap' in report
  with open(os.path.join(out, 'gpu_check.json')) as f:
    bench = json.load(f)['bench']
  runs = {(r['towers'], r['precision'], r['input']) for r in bench['towers']}
  precisions = {'fp32', 'bf16'} - set(bench['precisions_refused'])
  assert runs == {(k, p, i) for k in (1, 2) for p in precisions for i in ('jpeg', 'cache')}
  assert all(r['images_per_sec'] > 0 for r in bench['towers'])
  assert '2 towers on /cpu:0, /cpu:1' in report
  assert 'fp16' in bench['precisions_refused']  # no fast float16 on a CPU
  # TensorFlow's placement log of the training run: both towers' devices, the input
  # pipeline (the cache reader) and summaries placed, nothing off its predicted device.
  section = report.split('## Placement of the training run')[1].split('\n## ')[0]
  rows = re.findall(r'^\| /job:localhost/replica:0/task:0/device:CPU:(\d) \| (\d+) \| (\d+) '
                    r'\| (\d+) \|$', section, re.M)
  assert [r[0] for r in rows] == ['0', '1'], section
  assert int(rows[0][2]) > 0 and int(rows[0][3]) > 0  # summaries, pipeline on the host
  assert 'Placed on the host where the prediction (deploy/placement.py) puts a GPU: 0' in section
  assert os.path.getsize(os.path.join(out, 'logs', 'train.log')) > 0


@pytest.mark.e2e
def test_training_is_interrupted_resumed_and_its_loss_decreases(checked):
  _, out, report = checked
  with open(os.path.join(out, 'logs', 'train.log')) as f:
    (stopped,) = re.findall(r'^Interrupted at step (\d+)', f.read(), re.M)
  assert int(stopped) >= STEPS // 4  # after the first checkpoint
  with open(os.path.join(out, 'logs', 'resume.log')) as f:
    assert 'Resuming at step %s' % stopped in f.read()
  target = max(STEPS, int(stopped) + STEPS // 4)
  assert 'interrupted at step %s, resumed to %d (training: ok)' % (stopped, target) in report
  assert 'Loss decreased: yes' in report
  run = os.path.join(out, 'run')
  assert os.path.exists(os.path.join(run, 'model.ckpt-%d.index' % target))
  assert [n for n in os.listdir(os.path.join(run, 'images')) if n.endswith('.jpg')]
  assert re.search(r'^\| train \| \d+\.\d \|$', report, re.M)  # first start timed


@pytest.mark.e2e
def test_the_deterministic_runs_are_bit_identical(checked):
  _, out, report = checked
  assert 'Bit-identical checkpoints: yes' in report
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  a, b = (tf.train.load_checkpoint(os.path.join(out, d, 'model.ckpt-%d' % (STEPS // 4)))
          for d in ('det1', 'det2'))
  names = sorted(a.get_variable_to_shape_map())
  assert names == sorted(b.get_variable_to_shape_map()) and 'global_step' in names
  for n in names:
    assert np.array_equal(a.get_tensor(n), b.get_tensor(n)), n


def _checks():
  spec = importlib.util.spec_from_file_location(
      'gpu_check', os.path.join(ROOT, 'reproduce', 'gpu_check.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.e2e
def test_the_checks_say_no_where_they_must(checked, tmp_path):
  """Different checkpoints are not bit-identical; a decoder compared with itself did not
  change, one trained further did (the fp16 check, which CPU towers skip)."""
  _, out, _ = checked
  checks = _checks()
  det = os.path.join(out, 'det1', 'model.ckpt-%d' % (STEPS // 4))
  trained = tf_latest(os.path.join(out, 'run'))
  md = str(tmp_path / 'section.md')
  assert checks.identical(md, det, trained) == 1
  with open(md) as f:
    text = f.read()
  assert 'Bit-identical checkpoints: NO' in text and 'decoder/' in text
  npz = str(tmp_path / 'decoder.npz')
  checks.snapshot(det, npz)
  assert checks.changed(md, npz, det) == 1
  with open(md) as f:
    assert 'Every decoder variable changed: NO' in f.read()
  assert checks.changed(md, npz, trained) == 0
  with open(md) as f:
    assert 'Every decoder variable changed: yes' in f.read()


def tf_latest(run):
  from glo_tf1.compat import tf  # pylint: disable=import-outside-toplevel
  return tf.train.latest_checkpoint(run)


@pytest.mark.e2e
def test_gpu_check_reports_when_tensorflow_sees_none_of_the_gpus(tmp_path):
  bin_dir = fake_nvidia_smi(str(tmp_path / 'bin'), 1)
  out = str(tmp_path / 'out')
  proc = _script(out, dict(TINY, PATH=bin_dir + os.pathsep + os.environ['PATH']))
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert 'TensorFlow sees no GPU' in proc.stderr
  # The one stack is built with CUDA: without the CUDA libraries it sees no GPU.
  assert 'CUDA libraries were not found' in proc.stderr and 'reproduce/env.sh' in proc.stderr
  assert 'GPU 0: NVIDIA A100' in proc.stdout
  # The report is written all the same: the failure, and the GPU steps skipped for it.
  with open(os.path.join(out, 'gpu_check.md')) as f:
    report = f.read()
  steps = _steps(report)
  assert steps['versions'][:2] == ('FAILED', '3')
  assert 'error: TensorFlow sees no GPU' in report
  for name in ('tests', 'bench', 'placement', 'train', 'det1', 'det2', 'fp16'):
    assert steps[name] == ('skipped', '-', 'TensorFlow sees no GPU (see the versions step)')
  assert steps['resume'][0] == 'skipped' and steps['determinism'][0] == 'skipped'
