"""The one place where glo-tf1 adapts TensorFlow 1 code to today's TensorFlow.

Import TensorFlow and tf-slim from here, never directly:

    from glo_tf1.compat import tf, slim

`tf` is `tensorflow.compat.v1` in graph mode. Two facts make tf-slim 1.1.0 (its last
release, 2020) run on TensorFlow 2.15 - 2.21 (see docs/reference/stack-notes.md):

1. `tensorflow.python.framework.ops.Tensor` was removed in TF 2.15; tf-slim's
   `utils.constant_value` still names it. We restore the alias before tf-slim is imported.
2. `slim.batch_norm` with `updates_collections` equal to the very string
   `tf.GraphKeys.UPDATE_OPS` goes through the Keras layer path, which is gone
   (`No module named 'tf_keras.legacy_tf_layers'`). With any other value (we pass the list
   `[tf.GraphKeys.UPDATE_OPS]`, see `BATCH_NORM_UPDATES`) it uses its own fused
   implementation. The update ops land in the same collection and the arithmetic is the
   same fused batch-norm kernel TF1 used.

On TF 2.12 neither is needed and both are harmless.
"""
import contextlib
import logging
import os
import sys
import warnings

# Silence TensorFlow's C++ banner and its Python deprecation noise. Our own messages go
# through print and are kept.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Before TensorFlow initialises CUDA (below), unless the user set them: GPUs numbered as
# nvidia-smi numbers them (the notebook set CUDA_DEVICE_ORDER=PCI_BUS_ID too), and the
# driver's JIT cache at NVIDIA's maximum, 4 GiB (default 256 MiB or 1 GiB), so that the kernels
# compiled from PTX on a GPU the wheel has no machine code for are kept for the next run
# (docs/gpus.md, "Before your first GPU run"; deploy/devices.py says so at start).
os.environ.setdefault('CUDA_DEVICE_ORDER', 'PCI_BUS_ID')
CUDA_CACHE_SET_HERE = 'CUDA_CACHE_MAXSIZE' not in os.environ
os.environ.setdefault('CUDA_CACHE_MAXSIZE', str(4 * 1024 ** 3))
warnings.filterwarnings('ignore', category=DeprecationWarning)
warnings.filterwarnings('ignore', category=UserWarning, module=r'tensorflow.*')
warnings.filterwarnings('ignore', category=UserWarning, module=r'tf_slim.*')


@contextlib.contextmanager
def _quiet_native_stderr():
  """Sends file descriptor 2 to /dev/null for the duration (Python's own stderr included).

  TensorFlow's C++ runtime prints two lines while it loads, before it reads
  TF_CPP_MIN_LOG_LEVEL ("All log messages before absl::InitializeLog() ..." and the oneDNN
  banner), and the one wheel (built with CUDA) logs "failed call to cuInit" the first time
  it looks for GPUs on a machine without a driver; only the import and that first look are
  silenced, nothing of ours runs inside.
  """
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError):  # no real descriptor 2 (an embedding host): stay as is
    yield
    return
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


@contextlib.contextmanager
def _without_eager_keras():
  """Keeps TensorFlow's import from loading Keras, which glo-tf1 never uses.

  TensorFlow >= 2.16 imports Keras 3 eagerly as it loads (`keras.src.optimizers`, and with
  it matplotlib.pyplot): 1.4 of the 4.8 s of CPU that `import tensorflow` took on our 2
  cores, paid by every program, every process of the scripts and every test process.
  Asked for the legacy tf_keras (TF_USE_LEGACY_KERAS=1) where it is not installed, it
  skips that eager import silently. The variable is set for the import only, and only when
  neither the user set it nor tf_keras is installed: `tf.keras`, read later, still loads
  Keras 3 on first use as it would have.
  """
  import importlib.util  # pylint: disable=import-outside-toplevel
  skip = ('TF_USE_LEGACY_KERAS' not in os.environ and
          importlib.util.find_spec('tf_keras') is None)
  if skip:
    os.environ['TF_USE_LEGACY_KERAS'] = '1'
  try:
    yield
  finally:
    if skip:
      os.environ.pop('TF_USE_LEGACY_KERAS', None)


with _quiet_native_stderr(), _without_eager_keras():
  import tensorflow as _tf  # noqa: E402
  from tensorflow.python.framework import ops as _ops  # noqa: E402
  # The CUDA platform initialises once per process: here, quietly, not at the first session.
  # Where GPUs exist, devices.why_no_gpu says why TensorFlow sees none.
  _tf.config.list_physical_devices('GPU')

if not hasattr(_ops, 'Tensor'):  # TF >= 2.15: fact 1 above.
  _ops.Tensor = _tf.Tensor

import tf_slim as slim  # noqa: E402,F401

tf = _tf.compat.v1
tf.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)
logging.getLogger('tensorflow').setLevel(logging.ERROR)
try:  # Keep TF's deprecation wrappers quiet (they print once per call site otherwise).
  from tensorflow.python.util import deprecation as _deprecation
  _deprecation._PRINT_DEPRECATION_WARNINGS = False  # pylint: disable=protected-access
except ImportError:  # pragma: no cover
  pass

# Pass this as slim.batch_norm's `updates_collections` (fact 2 above).
BATCH_NORM_UPDATES = [tf.GraphKeys.UPDATE_OPS]

TF_VERSION = _tf.__version__


def enable_op_determinism(unique_scatter_rows=False):
  """Makes TensorFlow's kernels deterministic, for --deterministic (process-wide, for good).

  `tf.config.experimental.enable_op_determinism` exists from TF 2.8, so in 2.12 and 2.21;
  older releases read the TF_DETERMINISTIC_OPS environment variable instead. Afterwards a
  random op without a graph or op seed raises, so only an entry point that seeds its graph
  may call this. On a GPU, op determinism runs every scatter (ResourceScatterAdd, ...) on
  the host, copying the whole variable there and back at each step, because duplicate
  indices race; with `unique_scatter_rows` (every scatter of the graph writes each row once:
  devices.unique_scatter_rows) TF_DISABLE_SCATTER_OP_DETERMINISM=1 keeps them on the
  GPU, where they are then deterministic (tests/deploy/test_placement.py checks the graph).
  """
  if unique_scatter_rows:
    os.environ.setdefault('TF_DISABLE_SCATTER_OP_DETERMINISM', '1')
  enable = getattr(getattr(_tf.config, 'experimental', None), 'enable_op_determinism', None)
  if enable is not None:
    enable()
  else:  # pragma: no cover (TF < 2.8)
    os.environ['TF_DETERMINISTIC_OPS'] = '1'
