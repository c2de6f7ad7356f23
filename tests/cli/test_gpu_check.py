"""bash reproduce/gpu_check.sh end to end with CPU towers (no machine of ours has a GPU):
the tests pass on the towers, the speed table has every tower count, input and precision,
and the report is written; asked for GPUs that TensorFlow cannot see, it stops and says
why (a fake nvidia-smi)."""
import json
import os
import subprocess

import pytest

from conftest import ROOT
from conftest import fake_nvidia_smi

SCRIPT = os.path.join(ROOT, 'reproduce', 'gpu_check.sh')


def _script(out, env):
  full = dict(os.environ, GLO_DEVICE='cpu', **env)  # the venv the tests run in
  return subprocess.run(['bash', SCRIPT, out], capture_output=True, text=True, env=full,
                        timeout=600)


@pytest.mark.e2e
def test_gpu_check_runs_end_to_end_with_cpu_towers(tmp_path):
  out = str(tmp_path / 'gpu_check')
  proc = _script(out, {'GPU_CHECK_TOWER_DEVICE': 'cpu', 'GPU_CHECK_TOWERS': '2',
                       'GPU_CHECK_BENCH_FLAGS': '--quick'})
  assert proc.returncode == 0, proc.stdout + proc.stderr
  with open(os.path.join(out, 'gpu_check.md')) as f:
    report = f.read()
  assert '## Tests (towers on cpu): passed' in report
  assert 'GPUs TensorFlow sees: 0' in report and '| towers | precision |' in report
  assert report in proc.stdout  # printed as written
  with open(os.path.join(out, 'gpu_check.json')) as f:
    res = json.load(f)
  runs = {(r['towers'], r['precision'], r['input']) for r in res['towers']}
  precisions = {'fp32', 'bf16'} - set(res['precisions_refused'])
  assert runs == {(k, p, i) for k in (1, 2) for p in precisions for i in ('jpeg', 'cache')}
  assert all(r['images_per_sec'] > 0 for r in res['towers'])
  assert '2 towers on /cpu:0, /cpu:1' in report
  assert 'fp16' in res['precisions_refused']  # no fast float16 on a CPU
  # TensorFlow's own placement of one blog step: its log, and the ops per device.
  assert '## Placement of one blog step' in report
  assert '| /job:localhost/replica:0/task:0/device:CPU:0 |' in report
  assert 'Ops run on the host that the prediction' in report
  assert os.path.exists(os.path.join(out, 'placement.log'))


@pytest.mark.e2e
def test_gpu_check_stops_when_tensorflow_sees_none_of_the_gpus(tmp_path):
  bin_dir = fake_nvidia_smi(str(tmp_path / 'bin'), 1)
  proc = _script(str(tmp_path / 'out'), {'PATH': bin_dir + os.pathsep + os.environ['PATH']})
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert 'TensorFlow sees no GPU' in proc.stderr
  # The one stack is built with CUDA: without the CUDA libraries it sees no GPU.
  assert 'CUDA libraries were not found' in proc.stderr and 'reproduce/env.sh' in proc.stderr
  assert 'GPU 0: NVIDIA A100' in proc.stdout
