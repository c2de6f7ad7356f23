"""The first start on a GPU, on a simulated GPU machine (deploy/devices.py, issue 28).

A fake `nvidia-smi` first on PATH answers `--query-gpu` as the real one does (and, as an
old one, refuses the compute_cap field); `devices.visible_gpus` says how many GPUs
TensorFlow would see. Checked: the start lines and provenance.json name each GPU used, its
compute capability, the driver and the CUDA stack; a driver below the wheel's minimum is
refused naming both; the session takes only the towers' GPUs; a CUDA library on
LD_LIBRARY_PATH is named; a GPU TensorFlow skips is named; TF_DETERMINISTIC_OPS is taken
as --deterministic; TF32 is off for blog.
"""
import json
import os
import subprocess
import sys

import pytest

from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.cli import train as cli_train
from glo_tf1.compat import tf
from glo_tf1.deploy import devices
from glo_tf1.rundir import config as run_config
from glo_tf1.rundir import provenance as run_provenance
from glo_tf1.training import loop

from conftest import ROOT
from conftest import run_module

H100 = ('NVIDIA H100 80GB HBM3', '81559 MiB', '9.0')
A100 = ('NVIDIA A100-SXM4-80GB', '81920 MiB', '8.0')
# The pinned wheel's build, as tf.sysconfig.get_build_info() gives it (checked below).
WHEEL = {'cuda_version': '12.5.1', 'cudnn_version': '9',
         'cuda_compute_capabilities': ['sm_60', 'sm_70', 'sm_80', 'sm_89', 'compute_90']}


def _fake_nvidia_smi(folder, gpus, driver, old=False):
  """An nvidia-smi answering -L and --query-gpu for `gpus` [(name, memory, capability)];
  `old`: one without the compute_cap field (it exits 2 when asked for it)."""
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, 'nvidia-smi')
  rows = ['%d, %s, %s, %s%s' % (i, name, driver, memory, '' if old else ', ' + cap)
          for i, (name, memory, cap) in enumerate(gpus)]
  listing = ['GPU %d: %s (UUID: GPU-%d)' % (i, g[0], i) for i, g in enumerate(gpus)]
  with open(path, 'w') as f:
    f.write('#!/bin/sh\ncase "$1" in\n')
    f.write('  -L) printf "%s\\n" ' + ' '.join('"%s"' % l for l in listing) + ' ;;\n')
    if old:
      f.write('  *compute_cap*) echo "Field \\"compute_cap\\" is not a valid field to '
              'query." >&2; exit 2 ;;\n')
    f.write('  --query-gpu=*) printf "%s\\n" ' + ' '.join('"%s"' % r for r in rows) + ' ;;\n')
    f.write('esac\n')
  os.chmod(path, 0o755)
  return folder


@pytest.fixture
def gpu_machine(tmp_path, monkeypatch):
  """Makes this process a machine with the given GPUs and driver, TensorFlow seeing them."""
  def make(gpus, driver, old=False):
    folder = _fake_nvidia_smi(str(tmp_path / ('bin-%s' % driver)), gpus, driver, old)
    monkeypatch.setenv('PATH', folder + os.pathsep + os.environ['PATH'])
    monkeypatch.setenv('CUDA_DEVICE_ORDER', 'PCI_BUS_ID')
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    monkeypatch.delenv('LD_LIBRARY_PATH', raising=False)
    monkeypatch.setattr(devices, 'visible_gpus', lambda: len(gpus))
  return make


def test_the_wheel_is_the_one_the_minimums_are_for():
  info = devices.build_info()
  assert {k: info[k] for k in WHEEL} == WHEEL
  sass = devices.wheel_machine_code(info)
  # SASS of sm_XY runs on X.Z for Z >= Y only: Turing on Volta's, Ampere 8.6 on 8.0's.
  for cap, native in (((6, 1), True), ((7, 5), True), ((8, 6), True), ((8, 9), True),
                      ((9, 0), False), ((10, 0), False), ((12, 0), False), ((5, 2), False)):
    assert devices.has_machine_code(cap, sass) == native, cap
    assert devices.min_driver(cap, sass) == (devices.MIN_DRIVER if native
                                             else devices.MIN_DRIVER_PTX)


def test_start_lines_name_each_gpu_its_capability_the_driver_and_the_stack(gpu_machine):
  gpu_machine([H100, H100, H100], '560.35.03')
  cfg = settings.resolve('blog', {'num_gpus': 2})
  lines = devices.start_lines(cfg)
  assert lines[0] == ('GPU 0 (/gpu:0): NVIDIA H100 80GB HBM3, compute capability 9.0, '
                      '81559 MiB, driver 560.35.03')
  assert lines[1].startswith('GPU 1 (/gpu:1): ')
  assert not any(l.startswith('GPU 2') for l in lines)  # not a GPU of the run
  info = tf.sysconfig.get_build_info()
  stack = [l for l in lines if l.startswith('CUDA stack:')]
  assert len(stack) == 1
  assert 'CUDA %s, cuDNN %s' % (info['cuda_version'], info['cudnn_version']) in stack[0]
  assert 'GPU memory: grow; TF32: off' in stack[0]
  (ptx,) = [l for l in lines if 'PTX' in l]
  assert 'compute capability 9.0' in ptx and '30 minutes or longer' in ptx
  assert 'CUDA_CACHE_MAXSIZE=' in ptx and 'once' in ptx
  # A GPU the wheel has machine code for: no compile announced.
  gpu_machine([A100], '560.35.03')
  lines = devices.start_lines(settings.resolve('blog', {}))
  assert 'compute capability 8.0' in lines[0] and not any('PTX' in l for l in lines)


def test_a_disabled_jit_cache_is_said_to_repeat_the_compile(gpu_machine, monkeypatch):
  gpu_machine([H100], '560.35.03')
  monkeypatch.setenv('CUDA_CACHE_DISABLE', '1')
  (ptx,) = [l for l in devices.start_lines(settings.resolve('blog', {})) if 'PTX' in l]
  assert 'CUDA_CACHE_DISABLE=1' in ptx and 'every start' in ptx


def test_cuda_cache_is_set_before_tensorflow_unless_the_user_set_it():
  code = ('import os; from glo_tf1 import compat; '
          'print(os.environ["CUDA_CACHE_MAXSIZE"], compat.CUDA_CACHE_SET_HERE)')
  for env, expected in (({}, [str(4 * 1024 ** 3), 'True']),
                        ({'CUDA_CACHE_MAXSIZE': '123'}, ['123', 'False'])):
    full = {k: v for k, v in os.environ.items() if k != 'CUDA_CACHE_MAXSIZE'}
    full.update(env, PYTHONPATH=ROOT)
    printed = subprocess.run([sys.executable, '-c', code], env=full, capture_output=True,
                             text=True, check=True).stdout.split()
    assert printed[-2:] == expected


@pytest.mark.parametrize('gpu,driver,minimum', [
    (H100, '550.54.15', devices.MIN_DRIVER_PTX),   # R550: CUDA 12.4, cannot read 12.5's PTX
    (A100, '470.82.01', devices.MIN_DRIVER)])      # R470: CUDA 11.4
def test_a_driver_below_the_minimum_is_refused_with_both_numbers(gpu_machine, gpu, driver,
                                                                  minimum):
  gpu_machine([gpu], driver)
  cfg = settings.resolve('blog', {})
  with pytest.raises(devices.DriverTooOldError) as e:
    devices.start_lines(cfg)
  assert isinstance(e.value, settings.ConfigError)  # exit 2, as every usage error
  assert driver in str(e.value) and minimum in str(e.value)
  assert '--num_gpus 0' in str(e.value)


def test_drivers_at_the_minimum_and_cpu_runs_are_not_refused(gpu_machine):
  gpu_machine([A100], devices.MIN_DRIVER)
  devices.start_lines(settings.resolve('blog', {}))
  gpu_machine([H100], devices.MIN_DRIVER_PTX)
  devices.start_lines(settings.resolve('blog', {}))
  gpu_machine([H100], '470.82.01')  # the run uses no GPU: nothing to refuse
  assert devices.start_lines(settings.resolve('blog', {'num_gpus': 0, 'tower_device': 'cpu',
                                                       'variable_device': 'cpu'})) == []


def test_an_old_nvidia_smi_without_compute_cap_still_names_the_gpu(gpu_machine):
  gpu_machine([A100], '535.104.05', old=True)
  (gpu,) = devices.query_gpus()
  assert gpu['capability'] is None and gpu['driver'] == '535.104.05'
  assert 'compute capability unknown' in devices.start_lines(settings.resolve('blog', {}))[0]
  gpu_machine([A100], '470.82.01', old=True)
  with pytest.raises(devices.DriverTooOldError, match='470.82.01.*525.60.13'):
    devices.start_lines(settings.resolve('blog', {}))


def test_the_session_takes_only_the_gpus_the_run_uses(monkeypatch):
  monkeypatch.setattr(devices, 'visible_gpus', lambda: 4)
  conf = devices.session_config(settings.resolve('blog', {'num_gpus': 2}))
  assert conf.gpu_options.visible_device_list == '0,1' and conf.gpu_options.allow_growth
  conf = devices.session_config(settings.resolve('blog', {'gpu_memory': 'all'}))
  assert conf.gpu_options.visible_device_list == '0' and not conf.gpu_options.allow_growth
  conf = devices.session_config(settings.resolve('blog', {'num_gpus': 8}))
  assert conf.gpu_options.visible_device_list == '0,1,2,3'  # the GPUs there are
  conf = devices.session_config(settings.resolve('blog', {'tower_device': 'cpu'}))
  assert conf.device_count['GPU'] == 0  # auto: CPU towers, variables on the CPU too
  conf = devices.session_config(settings.resolve('blog', {'tower_device': 'cpu',
                                                          'variable_device': 'gpu'}))
  assert conf.gpu_options.visible_device_list == '0'
  conf = devices.session_config(settings.resolve('demo', {}))
  assert conf.device_count['GPU'] == 0 and not conf.gpu_options.visible_device_list


def test_cuda_visible_devices_maps_the_towers_to_nvidia_smi_indices(gpu_machine,
                                                                    monkeypatch):
  gpu_machine([A100, A100, H100, H100], '560.35.03')
  monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '2,3')
  monkeypatch.setattr(devices, 'visible_gpus', lambda: 2)
  lines = devices.start_lines(settings.resolve('blog', {'num_gpus': 2}))
  assert lines[0].startswith('GPU 2 (/gpu:0): NVIDIA H100')
  assert lines[1].startswith('GPU 3 (/gpu:1): NVIDIA H100')


def test_provenance_records_the_gpus_and_stack_without_creating_devices(gpu_machine,
                                                                       monkeypatch,
                                                                       tmp_path):
  gpu_machine([H100, A100], '560.35.03')
  from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel

  def creates_devices(*_, **__):
    raise AssertionError('provenance must not create TensorFlow devices')
  monkeypatch.setattr(device_lib, 'list_local_devices', creates_devices)
  cfg = settings.resolve('blog', {})
  record = json.loads(json.dumps(run_provenance.provenance(cfg, str(tmp_path), 10)))
  assert record['devices'] and all('physical_device' in d for d in record['devices'])
  gpus = record['gpus']
  assert [(g['index'], g['name'], g['driver'], g['capability']) for g in gpus['nvidia_smi']] \
      == [(0, H100[0], '560.35.03', [9, 0]), (1, A100[0], '560.35.03', [8, 0])]
  assert gpus['used'] == ['/gpu:0'] and gpus['driver'] == ['560.35.03']
  info = tf.sysconfig.get_build_info()
  assert gpus['cuda_stack']['cuda_build'] == info['cuda_version']
  assert gpus['cuda_stack']['cudnn_build'] == info['cudnn_version']
  assert gpus['cuda_stack']['compute_capabilities'] == info['cuda_compute_capabilities']
  assert gpus['cuda_stack']['libraries'] == devices.cuda_libraries()
  assert gpus['gpu_memory'] == 'grow' and gpus['tf32'] is False


def test_prepare_run_prints_the_gpus_and_writes_them_to_provenance(gpu_machine, monkeypatch,
                                                                   lfw_dir, tmp_path, capsys):
  gpu_machine([H100], '560.35.03')
  monkeypatch.setattr(devices, 'created_gpu_ordinals', lambda cfg: [0])
  run = str(tmp_path / 'run')
  loop.prepare_run(run, lfw_dir, preset='demo',
                   overrides={'tower_device': 'gpu', 'num_samples': 40})
  out = capsys.readouterr().out
  assert 'GPU 0 (/gpu:0): NVIDIA H100 80GB HBM3, compute capability 9.0' in out
  assert 'driver 560.35.03' in out and 'PTX' in out
  with open(os.path.join(run, rundir.PROVENANCE_NAME)) as f:
    assert json.load(f)['gpus']['nvidia_smi'][0]['capability'] == [9, 0]


def test_a_gpu_tensorflow_skips_is_named_with_the_tower_it_costs(gpu_machine):
  gpu_machine([A100, ('NVIDIA T400', '2048 MiB', '7.5')], '560.35.03')
  cfg = settings.resolve('blog', {'num_gpus': 2})
  gpus = devices.query_gpus()
  warning = devices.skipped_gpu_warning(cfg, gpus, created=[0])
  assert 'GPU 1 (/gpu:1): NVIDIA T400' in warning
  assert 'TF_MIN_GPU_MULTIPROCESSOR_COUNT' in warning and 'tower /gpu:1 runs' in warning
  assert devices.skipped_gpu_warning(cfg, gpus, created=[0, 1]) is None


def test_cuda_libraries_on_ld_library_path_are_named_with_the_fix(tmp_path):
  cuda = tmp_path / 'cuda' / 'lib64'
  other = tmp_path / 'other'
  for folder, names in ((cuda, ['libcudart.so.11.0', 'libcudnn.so.8', 'libcublasLt.so.11',
                                'README']), (other, ['libjpeg.so.8', 'libcudnn.txt'])):
    folder.mkdir(parents=True)
    for name in names:
      (folder / name).write_text('')
  env = {'LD_LIBRARY_PATH': os.pathsep.join([str(other), str(cuda), str(tmp_path / 'none')])}
  assert devices.shadowing_libraries(env) == [
      (str(cuda), ['libcublasLt.so.11', 'libcudart.so.11.0', 'libcudnn.so.8'])]
  warning = devices.shadow_warning(env)
  assert str(cuda) in warning and 'libcudnn.so.8' in warning
  assert 'unset LD_LIBRARY_PATH' in warning and 'module unload' in warning
  assert devices.shadow_warning({'LD_LIBRARY_PATH': str(other)}) is None
  assert devices.shadow_warning({}) is None


def test_the_ld_library_path_warning_is_on_the_start_lines(gpu_machine, monkeypatch,
                                                          tmp_path):
  gpu_machine([A100], '560.35.03')
  (tmp_path / 'libcudnn.so.8').write_text('')
  monkeypatch.setenv('LD_LIBRARY_PATH', str(tmp_path))
  lines = devices.start_lines(settings.resolve('blog', {}))
  assert any(l.startswith('warning: LD_LIBRARY_PATH') and 'libcudnn.so.8' in l
             for l in lines)


def test_tf_deterministic_ops_is_taken_as_deterministic(capsys):
  env = {'TF_DETERMINISTIC_OPS': '1'}
  assert cli_train.deterministic_from_environment({}, env) == {'deterministic': True}
  assert 'TF_DETERMINISTIC_OPS=1' in capsys.readouterr().out
  assert cli_train.deterministic_from_environment({'seed': 3}, {}) == {'seed': 3}
  assert cli_train.deterministic_from_environment({}, {'TF_DETERMINISTIC_OPS': '0'}) == {}
  with pytest.raises(settings.ConfigError, match='--deterministic=false.*TF_DETERMINISTIC_OPS'):
    cli_train.deterministic_from_environment({'deterministic': False}, env)


@pytest.mark.e2e
def test_training_under_tf_deterministic_ops_runs(lfw_dir, tmp_path):
  """Before: every run failed with 'Random ops require a seed'."""
  run = str(tmp_path / 'run')
  out = run_module('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run,
                   '--preset=demo', '--num_steps=2', '--image_size=16', '--latent_dims=8',
                   '--decoder_filters=16,8', '--batch_size=8', '--num_samples=32',
                   env={'TF_DETERMINISTIC_OPS': '1'}, check=False)
  assert out.returncode == 0, out.stdout + out.stderr
  assert 'TF_DETERMINISTIC_OPS=1' in out.stdout
  assert run_config.read_config(run)['deterministic'] is True


@pytest.fixture
def tf32_restored():
  before = tf.config.experimental.tensor_float_32_execution_enabled()
  yield
  tf.config.experimental.enable_tensor_float_32_execution(before)


@pytest.mark.usefixtures('tf32_restored')
def test_tf32_is_off_for_every_preset_and_the_flag_turns_it_on():
  assert all(p['tf32'] is False for p in settings.PRESETS.values())
  tf.config.experimental.enable_tensor_float_32_execution(True)  # TensorFlow's default
  devices.configure_process(settings.resolve('blog', {}))
  assert not tf.config.experimental.tensor_float_32_execution_enabled()
  # The C++ process-wide switch that the GPU MatMul and Conv kernels read, in graph mode
  # as in eager (tensorflow::tensor_float_32_execution_enabled()), not a context setting.
  from tensorflow.python.util import _pywrap_tensor_float_32_execution as tf32  # pylint: disable=all
  assert not tf32.is_enabled()
  devices.configure_process(settings.resolve('blog', {'tf32': True}))
  assert tf32.is_enabled()
