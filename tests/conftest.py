"""Shared fixtures: tiny data sets written as image files, a trainer subprocess, a fake
nvidia-smi, and the device of the tower tests (GLO_TEST_TOWER_DEVICE)."""
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Where the tower tests put their towers: cpu (/cpu:i, every machine) or gpu (/gpu:i:
# reproduce/gpu_check.sh runs them so on a machine with GPUs).
TOWER_DEVICE = os.environ.get('GLO_TEST_TOWER_DEVICE', 'cpu')

# Overrides of the demo preset that make a run take seconds on 2 CPU cores.
TINY = ['--preset=demo', '--image_size=16', '--latent_dims=8', '--decoder_filters=16,8',
        '--batch_size=8', '--shuffle_capacity=64', '--min_after_dequeue=8',
        '--num_reader_threads=1', '--log_every_steps=10', '--save_summaries_steps=5',
        '--image_summary_steps=10']


def write_index_images(folder, n, size=20, ext='png', width=None):
  """n lossless images whose pixels encode their own index: R = i % 256, G = i // 256,
  B = 255 - i % 256, constant over the image (a crop and a bilinear resize keep a constant
  image constant). Returns the sorted file names; name i holds index i."""
  from PIL import Image
  os.makedirs(folder, exist_ok=True)
  names = []
  for i in range(n):
    pixel = np.array([i % 256, i // 256, 255 - i % 256], np.uint8)
    im = np.tile(pixel, (size, width or size, 1))
    name = 'img_%05d.%s' % (i, ext)
    Image.fromarray(im).save(os.path.join(folder, name))
    names.append(name)
  return names


def decode_index(image):
  """Inverse of write_index_images for a preprocessed image in [-1, 1]: its index."""
  pix = np.round((np.asarray(image).reshape(-1, 3).mean(0) / 2. + 0.5) * 255.).astype(int)
  return int(pix[0] + 256 * pix[1])


def fake_nvidia_smi(folder, gpus):
  """An `nvidia-smi` script in `folder` whose -L lists `gpus` GPUs (none: an empty list,
  as the real command prints on a machine whose driver sees no GPU)."""
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, 'nvidia-smi')
  with open(path, 'w') as f:
    f.write('#!/bin/sh\n')
    for i in range(gpus):
      f.write('echo "GPU %d: NVIDIA A100-SXM4-80GB (UUID: GPU-0000000%d)"\n' % (i, i))
  os.chmod(path, 0o755)
  return folder


@pytest.fixture(scope='session')
def lfw_dir(tmp_path_factory):
  """The embedded LFW faces (200 JPEG files), written once per test session."""
  from glo_tf1.data import embedded
  folder = str(tmp_path_factory.mktemp('lfw'))
  embedded.write_faces(folder)
  return folder


def run_module(module, *args, check=True, timeout=600, env=None, **kwargs):
  """Runs `python -m module args` in a subprocess; returns CompletedProcess (text)."""
  full_env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  full_env.update(env or {})
  proc = subprocess.run([sys.executable, '-m', module] + [str(a) for a in args],
                        capture_output=True, text=True, timeout=timeout, env=full_env,
                        cwd=ROOT, **kwargs)
  if check and proc.returncode != 0:
    raise AssertionError('%s %s failed (%d):\n%s\n%s' % (
        module, ' '.join(map(str, args)), proc.returncode, proc.stdout, proc.stderr))
  return proc


def run_main(module, *args, check=True):
  """Runs the program `module` (glo_tf1.cli.NAME) in this process, as its console script
  does (`run()`: flag parsing, main, the exit status), with stdout and stderr captured;
  returns a CompletedProcess (text) as run_module does. It saves the 3 to 6 s of CPU that
  a new Python process spends importing TensorFlow. Not for --deterministic runs
  (TensorFlow's op determinism is process-wide, for good: run_module), nor for what only
  a process shows (signals, exit by a signal, ulimit). It runs in ROOT, as run_module."""
  import contextlib  # pylint: disable=import-outside-toplevel
  import importlib  # pylint: disable=import-outside-toplevel
  import io  # pylint: disable=import-outside-toplevel
  import logging  # pylint: disable=import-outside-toplevel
  argv = [str(a) for a in args]
  assert not any(a.startswith('--deterministic') for a in argv), 'use run_module'
  from tensorflow.python.framework import config  # pylint: disable=import-outside-toplevel
  determinism = config.is_op_determinism_enabled()
  program = importlib.import_module(module)
  out, err = io.StringIO(), io.StringIO()
  saved_argv, saved_cwd, code = sys.argv, os.getcwd(), 0
  sys.argv = [module] + argv
  os.chdir(ROOT)  # where run_module runs it
  # What the process would log to its stderr (a thread's traceback included) is in it too.
  handler = logging.StreamHandler(err)
  loggers = [logging.getLogger(), logging.getLogger('tensorflow')]
  for logger in loggers:
    logger.addHandler(handler)
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      program.run()
  except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  finally:
    sys.argv = saved_argv
    os.chdir(saved_cwd)
    program.FLAGS.unparse_flags()
    for logger in loggers:
      logger.removeHandler(handler)
  assert config.is_op_determinism_enabled() == determinism, (
      '%s %s turned on op determinism in the test process (a --deterministic run '
      'resumed?): use run_module' % (module, ' '.join(argv)))
  proc = subprocess.CompletedProcess([module] + argv, code, out.getvalue(), err.getvalue())
  if check and code != 0:
    raise AssertionError('%s %s failed (%d):\n%s\n%s' % (
        module, ' '.join(argv), code, proc.stdout, proc.stderr))
  return proc


@pytest.fixture(scope='session')
def tiny_run(lfw_dir, tmp_path_factory):
  """A run directory trained for 30 TINY steps on the embedded faces (figures, evaluation)."""
  run = str(tmp_path_factory.mktemp('tiny_run') / 'run')
  run_main('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run, '--num_steps=30',
           '--save_checkpoint_steps=15', *TINY)
  return run


def package_modules():
  """{dotted module name: path} of every module of the glo_tf1 package."""
  out = {}
  for folder, _, names in os.walk(os.path.join(ROOT, 'glo_tf1')):
    for name in names:
      if name.endswith('.py'):
        path = os.path.join(folder, name)
        rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
        out[rel[:-len('.__init__')] if rel.endswith('.__init__') else rel] = path
  return out


def graph_ancestors(*fetches):
  """Every op the fetches depend on (data and control inputs): placement.step_ops."""
  from glo_tf1.deploy import placement  # pylint: disable=import-outside-toplevel
  return placement.step_ops(list(fetches))


def gpu_kernels_registered():
  """Whether this TensorFlow registers GPU kernels (the `tensorflow` wheel does, on any
  machine; `tensorflow-cpu` does not, and model/placement.py predicts nothing with it)."""
  from tensorflow.python.framework import kernels  # pylint: disable=import-outside-toplevel
  return any(k.device_type == 'GPU' for k in
             kernels.get_registered_kernels_for_op('MatMul').kernel)


def prepare_from_argv(argv):
  """Parses `argv` (glo-train's flags, without the program name) and prepares the run as
  glo-train would (cli/train.prepare_options, then loop.prepare_run); returns
  prepare_run's (cfg, paths, resumed)."""
  # pylint: disable=import-outside-toplevel
  from glo_tf1.cli import common
  from glo_tf1.cli import train
  from glo_tf1.training import loop
  common.parse(train.FLAGS, ['glo-train'] + [str(a) for a in argv])
  return loop.prepare_run(**train.prepare_options(train.FLAGS))


def corrupt_scan_jpeg(seed=0, size=64):
  """(a JPEG whose entropy-coded data is corrupt in the middle, the clean one): valid
  header and end-of-image marker, 64 scan bytes between them overwritten with values
  that form no marker, so libjpeg only warns and decodes garbage."""
  import io  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  rgb = np.random.RandomState(seed).randint(0, 256, (size, size, 3)).astype(np.uint8)
  buf = io.BytesIO()
  Image.fromarray(rgb).save(buf, format='JPEG', quality=90)
  clean = buf.getvalue()
  data = bytearray(clean)
  sos, eoi = data.index(b'\xff\xda'), data.rindex(b'\xff\xd9')
  scan = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], 'big')
  middle = (scan + eoi) // 2
  for k in range(middle, middle + 64):
    if data[k] != 0xFF and data[k - 1] != 0xFF:  # leave byte stuffing alone
      data[k] = 0x00 if k % 2 else 0xFE
  return bytes(data), clean
