"""The TensorFlow stack a machine gets: one `tensorflow` wheel everywhere (it registers its
GPU kernels without a GPU, which the placement tests need); reproduce/env.sh adds the CUDA
libraries (requirements-gpu.txt) when a (here fake) `nvidia-smi -L` lists a GPU, GLO_DEVICE
overrides it. Nothing is installed (GLO_ENV_DRY_RUN=1 stops env.sh after its choice).
Sourced in an interactive shell, env.sh leaves its options and directory as they were and a
failure returns non-zero without ending the shell."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from conftest import fake_nvidia_smi
from conftest import gpu_kernels_registered

ENV_SH = os.path.join(ROOT, 'reproduce', 'env.sh')


def _path_without_nvidia_smi():
  return os.pathsep.join(p for p in os.environ['PATH'].split(os.pathsep)
                         if not os.path.exists(os.path.join(p, 'nvidia-smi')))


def _choice(tmp_path, gpus=None, device=None):
  path = _path_without_nvidia_smi()
  if gpus is not None:
    path = fake_nvidia_smi(str(tmp_path / 'bin'), gpus) + os.pathsep + path
  env = dict(os.environ, PATH=path, GLO_ENV_DRY_RUN='1')
  env.pop('GLO_VENV', None)
  env.pop('GLO_DEVICE', None)
  if device is not None:
    env['GLO_DEVICE'] = device
  proc = subprocess.run(['bash', ENV_SH], capture_output=True, text=True, env=env,
                        cwd=str(tmp_path), timeout=60)
  choice = dict(re.findall(r'(\w+)=(\S+)', proc.stdout))
  return proc, choice


@pytest.mark.parametrize('gpus,device,stack,why', [
    (None, None, 'cpu', 'no nvidia-smi on PATH'),
    (0, None, 'cpu', 'lists no GPU'),
    (2, None, 'gpu', 'lists 2 GPU(s)'),
    (2, 'cpu', 'cpu', 'GLO_DEVICE=cpu'),
    (None, 'gpu', 'gpu', 'GLO_DEVICE=gpu'),
])
def test_env_sh_picks_the_stack_from_nvidia_smi_and_glo_device(tmp_path, gpus, device,
                                                               stack, why):
  proc, choice = _choice(tmp_path, gpus, device)
  assert proc.returncode == 0, proc.stderr
  assert choice['stack'] == stack
  assert choice['requirements'] == {'cpu': 'requirements.txt',
                                    'gpu': 'requirements-gpu.txt'}[stack]
  # One venv: the same TensorFlow wheel, the GPU stack only adds the CUDA libraries.
  assert choice['venv'] == os.path.join(ROOT, '.venv')
  assert 'TensorFlow %s stack' % stack in proc.stderr and why in proc.stderr


def test_env_sh_refuses_an_unknown_glo_device(tmp_path):
  proc, choice = _choice(tmp_path, device='tpu')
  assert proc.returncode != 0 and not choice
  assert 'GLO_DEVICE=tpu' in proc.stderr


def _clean_env(env=None):
  """This process's environment without env.sh's own variables (a runner may have set
  them), plus `env`."""
  full = {k: v for k, v in os.environ.items()
          if k not in ('GLO_VENV', 'GLO_DEVICE', 'GLO_ROOT', 'GLO_ENV_DRY_RUN', 'PYTHON')}
  full.update(PATH=_path_without_nvidia_smi(), **(env or {}))
  return full


def _sourced_in_an_interactive_shell(tmp_path, before, line, env=None):
  """Runs `before`, prints the shell's state, runs `line` (which sources env.sh), prints
  the state again, in `bash -i` started in tmp_path/elsewhere. Returns (process, states)."""
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir(exist_ok=True)
  state = 'echo "STATE $- $(set -o | grep -w pipefail | tr -s "\t " " ") PWD=$PWD"'
  script = '%s; %s; %s; echo "rc=$? GLO_ROOT=${GLO_ROOT:-}"; %s; echo alive' % (
      before, state, line, state)
  proc = subprocess.run(['bash', '--norc', '-ic', script], capture_output=True, text=True,
                        env=_clean_env(env), cwd=str(elsewhere), timeout=60)
  states = re.findall(r'^STATE (.*)$', proc.stdout, re.M)
  return proc, states, str(elsewhere)


@pytest.mark.parametrize('before', [':', 'set -u -o pipefail'])
def test_sourcing_env_sh_keeps_the_shell_options_and_directory(tmp_path, before):
  proc, states, elsewhere = _sourced_in_an_interactive_shell(
      tmp_path, before, 'source %s' % ENV_SH, env={'GLO_ENV_DRY_RUN': '1'})
  assert proc.returncode == 0 and 'alive' in proc.stdout, proc.stdout + proc.stderr
  assert len(states) == 2, proc.stdout
  assert states[0] == states[1]
  assert 'i' in states[0].split()[0]  # it was an interactive shell
  pipefail = 'on' if 'pipefail' in before else 'off'
  assert states[0].endswith('pipefail %s PWD=%s' % (pipefail, elsewhere)), states[0]
  assert ('u' in states[0].split()[0]) == ('-u' in before)
  assert 'rc=0 GLO_ROOT=%s' % ROOT in proc.stdout  # the root, for scripts to cd to


@pytest.mark.parametrize('env,message', [
    ({'GLO_DEVICE': 'tpu'}, 'GLO_DEVICE=tpu: expected auto, cpu or gpu'),
    ({'PYTHON': '/bin/false'}, 'glo-tf1 needs Python 3.11'),  # before any venv is made
])
def test_a_failing_env_sh_returns_non_zero_without_ending_the_shell(tmp_path, env, message):
  env = dict(env, GLO_VENV=str(tmp_path / 'venv'))
  proc, states, _ = _sourced_in_an_interactive_shell(tmp_path, ':', 'source %s' % ENV_SH,
                                                     env=env)
  assert message in proc.stderr
  assert re.search(r'^rc=[1-9]', proc.stdout, re.M), proc.stdout
  assert len(states) == 2 and states[0] == states[1]
  assert proc.stdout.rstrip().endswith('alive') and proc.returncode == 0
  assert not (tmp_path / 'venv').exists()
  # A script with set -e stops at the failing source.
  proc = subprocess.run(['bash', '-c', 'set -euo pipefail; source %s; echo not reached'
                         % ENV_SH], capture_output=True, text=True, env=_clean_env(env),
                        timeout=60)
  assert proc.returncode != 0 and 'not reached' not in proc.stdout
  assert message in proc.stderr


def test_tests_run_sh_runs_the_paths_it_is_given_from_any_directory(tmp_path):
  """bash tests/run.sh PATH runs PATH only (relative to the root), from another directory;
  here env.sh only prints its choice and the tests' own Python runs pytest."""
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  # A wrapper, not a symlink: a symlink outside the venv starts the base Python, without
  # the venv's packages (pytest-xdist, which tests/run.sh asks for).
  (bin_dir / 'python').write_text('#!/bin/sh\nexec %s "$@"\n' % sys.executable)
  (bin_dir / 'python').chmod(0o755)
  env = dict(os.environ, GLO_ENV_DRY_RUN='1',
             PATH='%s%s%s' % (bin_dir, os.pathsep, _path_without_nvidia_smi()))

  def run(*args):
    proc = subprocess.run(['bash', os.path.join(ROOT, 'tests', 'run.sh'), *args,
                           '-p', 'no:cacheprovider'], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout

  target = 'tests/cli/test_citation.py'
  ids = [l for l in run(target, '--collect-only').splitlines() if '::' in l]
  assert ids and all(i.startswith(target + '::') for i in ids), ids
  assert re.search(r'^%d passed in' % len(ids), run(target), re.M)


def _pins(name):
  with open(os.path.join(ROOT, name)) as f:
    return [l.strip() for l in f if l.strip() and not l.startswith('#')]


def test_one_tensorflow_wheel_the_gpu_stack_adds_only_the_cuda_extra():
  cpu, gpu = _pins('requirements.txt'), _pins('requirements-gpu.txt')
  (tf_pin,) = [p for p in cpu if p.startswith('tensorflow')
               and p.split('==')[0] == 'tensorflow']
  assert not [p for p in cpu + gpu if p.startswith('tensorflow-cpu')]
  # Beyond the extra itself, only its CUDA libraries (pinned: the test below).
  assert gpu[:2] == ['-r requirements.txt', 'tensorflow[and-cuda]==' + tf_pin.split('==')[1]]
  assert gpu[2:] and all(p.startswith('nvidia-') for p in gpu[2:]), gpu


def test_the_gpu_stack_pins_every_cuda_wheel_of_the_extra_within_its_range():
  """requirements-gpu.txt pins each nvidia-* wheel of tensorflow's `and-cuda` extra to one
  exact version that the installed TensorFlow's own metadata (Requires-Dist) admits, and
  pins nothing else of that kind (issue 28: the extra alone gives ranges)."""
  from importlib import metadata  # pylint: disable=import-outside-toplevel
  from packaging.requirements import Requirement  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, 'requirements.txt')) as f:
    (tf_version,) = re.findall(r'^tensorflow==(\S+)$', f.read(), re.M)
  assert metadata.version('tensorflow') == tf_version  # the metadata of the pinned release
  extra = {}
  for line in metadata.requires('tensorflow'):
    req = Requirement(line)
    if req.marker is not None and req.marker.evaluate({'extra': 'and-cuda'}) and \
        not req.marker.evaluate({'extra': ''}):
      extra[req.name] = req.specifier
  assert len(extra) >= 10 and all(n.startswith('nvidia-') for n in extra), extra
  pins = {}
  for line in _pins('requirements-gpu.txt')[2:]:
    req = Requirement(line)
    (spec,) = req.specifier
    assert spec.operator == '==' and '*' not in spec.version, line  # exact
    assert req.name not in pins, 'pinned twice: %s' % req.name
    pins[req.name] = spec.version
  assert sorted(pins) == sorted(extra)  # every wheel of the extra, nothing else
  outside = {n: (v, str(extra[n])) for n, v in pins.items() if v not in extra[n]}
  assert not outside, 'pins outside the and-cuda extra (pin, range): %s' % outside


def test_the_installed_tensorflow_registers_gpu_kernels():
  """The placement tests (tests/deploy/test_placement.py) need the GPU kernel registry."""
  assert gpu_kernels_registered()


def test_conda_environments_install_their_stack():
  with open(os.path.join(ROOT, 'environment.yml')) as f:
    assert '- -r requirements.txt' in f.read()
  with open(os.path.join(ROOT, 'environment-gpu.yml')) as f:
    assert '- -r requirements-gpu.txt' in f.read()


def test_env_sh_installs_only_into_a_virtual_environment(tmp_path):
  """GLO_VENV naming a folder that holds a bin/python but is no venv (/usr, a conda base):
  refused, nothing installed there (issue 22)."""
  fake = tmp_path / 'usr'
  (fake / 'bin').mkdir(parents=True)
  os.symlink(sys.executable, str(fake / 'bin' / 'python'))
  proc = subprocess.run(['bash', '-c', 'source %s' % ENV_SH], capture_output=True, text=True,
                        env=_clean_env({'GLO_VENV': str(fake)}), timeout=60)
  assert proc.returncode != 0 and 'is not a Python virtual environment' in proc.stderr
  assert sorted(os.listdir(str(fake))) == ['bin']
