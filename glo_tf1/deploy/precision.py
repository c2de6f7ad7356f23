"""--precision: the decoder's arithmetic in float32 (the post), bfloat16 or float16.

Variables (codes, decoder weights, optimizer slots, batch-norm statistics) stay float32,
and so does the loss that is minimised; only the decoder's arithmetic runs in the lower
precision. Both lower precisions come from TensorFlow's own Grappler rewrites, which the
session config switches on (`configure_session`); the graph glo-tf1 builds is the same:

  bf16 on the CPU  `auto_mixed_precision_onednn_bfloat16`: the oneDNN rewrite turns the
                   CPU ops of its allow list (transpose convolutions and their gradients,
                   fused batch norm, ...) into bfloat16 and inserts the casts. Fast only
                   with native bf16 instructions (avx512_bf16 or amx_bf16); elsewhere oneDNN
                   emulates them, slower than float32, so the run is refused.
  fp16 on GPUs     `auto_mixed_precision`, TensorFlow's automatic mixed precision (the
                   CUDA rewrite, float16 on GPUs of compute capability 7.0 or more), with
                   dynamic loss scaling (optimizers.train_op).
Refused, with the reason: fp16 on the CPU (no fast float16 arithmetic there) and bf16 on
GPUs: TensorFlow 1's graph rewrites make bfloat16 on CPUs only and float16 on GPUs only.
`blog` keeps fp32, the post's choice. `precision` is not a model setting: the checkpoint
holds float32 variables whatever the precision, so a run may resume with another one.
"""
from glo_tf1 import settings

PRECISIONS = settings.CHOICES['precision']  # one list: the flag's choices
NATIVE_BF16_FEATURES = ('avx512_bf16', 'amx_bf16')
FP16_MIN_COMPUTE_CAPABILITY = (7, 0)  # the CUDA rewrite leaves older GPUs in float32


class PrecisionError(settings.ConfigError):
  """--precision asks for arithmetic this machine cannot do fast; says why and what to do."""


def cpu_flags(cpuinfo='/proc/cpuinfo'):
  """The CPU's feature flags (the `flags` line of /proc/cpuinfo); empty when unreadable."""
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith('flags'):
          return set(line.split(':', 1)[1].split())
  except OSError:
    pass
  return set()


def check(precision, on_gpu, flags=None, gpu_capabilities=()):
  """Raises PrecisionError when `precision` cannot run fast where the towers run.

  Args:
    precision: one of PRECISIONS.
    on_gpu: the towers run on GPUs (devices.towers_on_gpu).
    flags: the CPU's feature flags (default: cpu_flags()).
    gpu_capabilities: (major, minor) compute capability of each GPU, where known.
  """
  if precision == 'fp32':
    return
  if precision == 'fp16' and not on_gpu:
    raise PrecisionError(
        '--precision=fp16: the towers run on the CPU, which has no fast float16 arithmetic '
        '(TensorFlow would emulate it, slower than float32). Use --precision=bf16 on a CPU '
        'with native bf16 instructions, or fp16 with the towers on GPUs.')
  if precision == 'bf16' and on_gpu:
    raise PrecisionError(
        '--precision=bf16: TensorFlow 1\'s graph rewrites make bfloat16 on CPUs only '
        '(oneDNN) and float16 on GPUs only; use --precision=fp16 on GPUs.')
  if precision == 'bf16':
    flags = cpu_flags() if flags is None else set(flags)
    if not flags & set(NATIVE_BF16_FEATURES):
      raise PrecisionError(
          '--precision=bf16: this CPU has no native bf16 instructions (none of %s among '
          'its flags in /proc/cpuinfo), so oneDNN would emulate bfloat16, slower than '
          'float32. Use --precision=fp32.' % ', '.join(NATIVE_BF16_FEATURES))
  if precision == 'fp16':
    old = [c for c in gpu_capabilities if c and tuple(c) < FP16_MIN_COMPUTE_CAPABILITY]
    if old:
      raise PrecisionError(
          '--precision=fp16: GPU compute capability %s is below %d.%d, where TensorFlow\'s '
          'automatic mixed precision leaves the arithmetic in float32. Use '
          '--precision=fp32.' % (', '.join('%d.%d' % tuple(c) for c in old),
                                 *FP16_MIN_COMPUTE_CAPABILITY))


def configure_session(conf, precision, on_gpu):
  """Switches on the Grappler rewrite of `precision` in a tf.ConfigProto; returns it."""
  options = conf.graph_options.rewrite_options  # a RewriterConfig: its enum values too
  if precision == 'bf16' and not on_gpu:
    options.auto_mixed_precision_onednn_bfloat16 = options.ON
  elif precision == 'fp16' and on_gpu:
    options.auto_mixed_precision = options.ON
  return conf
