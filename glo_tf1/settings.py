"""The one schema of glo-tf1's settings: presets, help, choices, model keys, validation.

A run is described by one flat dict of settings. `resolve(preset, overrides)` starts from a
preset, applies the user's overrides, checks every value and returns the resolved config
that the run directory records (`config.json`). For each setting this module holds its
default in every preset (BLOG, PAPER, PAPER64, DEMO), its help (HELP), its accepted values
(CHOICES) and whether a resume may change it (FIXED_ON_RESUME); `schema()` lists them together,
and cli/ defines every training flag from it. This module imports no TensorFlow, so
`--help` is quick.

Presets:
  blog     the post's notebook, setting by setting (docs/reference/notebook-facts.md).
  paper    the paper's choices (SGD, separate learning rates, PCA init, stored-code
           projection, Laplacian L1 loss) on the blog's decoder.
  paper64  those choices with the generator the paper used, DCGAN's, at 64 x 64
           (model/dcgan.py).
  demo     a small, fast configuration for the embedded LFW faces on 2 CPU cores.
  mnist, fashion_mnist, svhn, cifar10, celeba64, celeba128
           the benchmarks (docs/benchmarks.md): paper64's choices on each data set.
"""
import collections
import collections.abc
import copy
import math

# The settings a resume may not change: the model and its data (changing one would
# silently change what the checkpoint means), and what makes the run's protocol (seed, batch
# size, the first N files). A resume with a different value is refused, naming each.
# `num_gpus` (towers) is not one: the variables mean the same with any number of towers,
# so a run may resume on a machine with other GPUs, or on a cluster; the images per step
# (batch_size x towers x workers) change, and config.json records the towers used last.
FIXED_ON_RESUME = (
    'image_size', 'channels', 'latent_dims', 'decoder', 'decoder_filters', 'kernel_size', 'normalizer',
    'batch_norm_decay', 'loss', 'lap1_levels', 'projection', 'project_stored_codes',
    'codes_init', 'optimizer', 'codes_optimizer', 'learning_rate',
    'codes_learning_rate', 'tight_crop', 'seed', 'preset', 'batch_size',
    'input_pipeline', 'num_samples')

BLOG = {
    'preset': 'blog',
    # Data and model (docs/reference/notebook-facts.md, "Hyper-parameters").
    'image_size': 128,
    'channels': 3,                        # RGB, the post's; 1: grayscale (MNIST)
    'tight_crop': False,
    'latent_dims': 100,
    'batch_size': 32,                     # per tower
    'decoder': 'post',                    # model/decoder.py; dcgan: model/dcgan.py
    'decoder_filters': [256, 128, 64, 64, 32],
    'kernel_size': 5,                     # the post's text says 3; the code ran 5
    'normalizer': 'batch_norm',
    'batch_norm_decay': 0.99,
    'projection': 'sphere',               # z / ||z|| in the forward pass only
    'project_stored_codes': False,
    'codes_init': 'glorot',               # get_variable's default initializer
    'pca_image_size': 32,                 # ours: the PCA init's images (paper only)
    'loss': 'pairwise',                   # tf.losses.mean_pairwise_squared_error
    'lap1_levels': 4,
    # Optimisation.
    'optimizer': 'adam',
    'codes_optimizer': 'adam',
    'learning_rate': 1e-3,
    'codes_learning_rate': 1e-3,
    'num_steps': None,                    # unbounded, like the post
    # Towers and input.
    'num_gpus': 1,
    'tower_device': 'gpu',
    'variable_device': 'auto',            # the notebook's: the first GPU with GPU towers
    'precision': 'fp32',                  # the post's float32 (docs/gpus.md)
    'tf32': False,                        # true float32 on Ampere and newer too, as the post
    'gpu_memory': 'grow',                 # ours: shared machines (docs/gpus.md)
    'input_pipeline': 'fixed',
    'input_cache': 'off',                 # auto: decoded uint8 images in one file (cache.py)
    'num_samples': None,                  # the notebook's NUM_SAMPLES: first N files only
    'num_reader_threads': 4,
    'shuffle_capacity': 800,
    'min_after_dequeue': 100,
    # Logging and checkpoints (the notebook's cadence).
    'save_summaries_steps': 100,
    'image_summary_steps': 100,           # the notebook's SummarySaverHook (key glo): grids
    'save_images_steps': 30000,           # the notebook's SAVE_IMAGES_STEPS JPEG dumps
    'stretch_saved_images': False,        # scipy.misc.imsave's min-max stretch
    'save_checkpoint_secs': 600,
    'save_checkpoint_steps': None,
    'max_to_keep': 1,
    'log_every_steps': 100,
    'seed': 0,
    'deterministic': False,
}

PAPER = dict(
    BLOG,
    preset='paper',
    optimizer='sgd',
    codes_optimizer='sgd',
    learning_rate=1.0,                    # network
    codes_learning_rate=10.0,             # codes
    codes_init='pca',
    projection='ball',
    project_stored_codes=True,
    loss='lap1',
    max_to_keep=3,
)

# The paper's generator, DCGAN's at 64 x 64 (Bojanowski et al. used it for their 64 px
# experiments), with the paper's other choices. We follow the TensorFlow DCGAN code
# (carpedm20/DCGAN-tensorflow, gf_dim 64): 512 filters at 4 x 4 halving at each doubling
# (512, 256, 128, 64), 5 x 5 kernels (as the authors' Theano code; the PyTorch example uses
# 4 x 4: --kernel_size 4), batch-norm decay 0.9. model/dcgan.py has the details.
PAPER64 = dict(
    PAPER,
    preset='paper64',
    image_size=64,
    decoder='dcgan',
    decoder_filters=[512, 256, 128, 64],
    kernel_size=5,
    batch_norm_decay=0.9,
)

DEMO = dict(
    BLOG,
    preset='demo',
    image_size=32,
    latent_dims=32,
    batch_size=32,
    decoder_filters=[128, 64, 32],
    kernel_size=5,
    loss='mse',
    num_steps=3000,
    num_gpus=1,
    tower_device='cpu',
    num_reader_threads=2,
    shuffle_capacity=400,
    min_after_dequeue=100,
    save_summaries_steps=50,
    image_summary_steps=500,
    save_images_steps=1000,
    save_checkpoint_secs=60,
    save_checkpoint_steps=500,
    max_to_keep=2,
    log_every_steps=100,
)

# The benchmarks' presets: the paper's choices of PAPER64 (SGD 1 / 10, PCA initialisation,
# Lap1, ball projection, DCGAN's generator) on each data set's images. The GLO paper's
# experimental section was not within reach here, so each other value is GLANN's (Hoshen,
# Li, Malik, CVPR 2019; yedidh/glann configs/*.yaml: code size 64, batch 128, epochs) or
# ours; docs/presets.md gives the source of every value. 32 px: DCGAN's widths at
# gf_dim 64 (256, 128, 64) from our 4 x 4 start. num_steps: epochs x images / batch.
_SMALL = dict(PAPER64, image_size=32, latent_dims=64, batch_size=128,
              decoder_filters=[256, 128, 64], max_to_keep=2)
MNIST = dict(_SMALL, preset='mnist', channels=1,
             num_steps=93750)                  # GLANN: 200 epochs of 60,000 at 128
FASHION_MNIST = dict(MNIST, preset='fashion_mnist')  # GLANN's fashion.yaml = mnist.yaml
SVHN = dict(_SMALL, preset='svhn', num_steps=57233)  # ours: 100 epochs of 73,257 at 128
CIFAR10 = dict(_SMALL, preset='cifar10',
               num_steps=195313)               # GLANN: 500 epochs of 50,000 at 128
# CelebA at the paper's 64 and 128 px: 25 epochs of the 162,770 training images at 32 a
# step (ours; DCGAN-tensorflow's default epoch count); at 64 px the 108 x 108 central crop
# of DCGAN-tensorflow's celebA (--input_height 108 --crop), at 128 px the post's whole face.
CELEBA64 = dict(PAPER64, preset='celeba64', tight_crop=True, num_steps=127165)
CELEBA128 = dict(PAPER64, preset='celeba128', image_size=128, num_steps=127165)

PRESETS = {'blog': BLOG, 'paper': PAPER, 'paper64': PAPER64, 'demo': DEMO,
           'mnist': MNIST, 'fashion_mnist': FASHION_MNIST, 'svhn': SVHN, 'cifar10': CIFAR10,
           'celeba64': CELEBA64, 'celeba128': CELEBA128}
CORE_PRESETS = ('blog', 'paper', 'paper64', 'demo')  # the README's table; all: presets.md
DATASET_PRESETS = tuple(p for p in PRESETS if p not in CORE_PRESETS)

# config.json's format, written into it as `config_version` (`migrate` reads every past one):
#   1  glo-tf1 <= 0.2.0, no config_version. `decoder` may be missing (added in 0.2.0 with
#      the value every earlier run had: post); settings added since that a resume may
#      change (precision, input_cache, variable_device, ...) take their preset's default;
#      a lap1 run trained by glo-tf1 < 0.2.0 used another Lap1 and cannot be read.
#   2  glo-tf1 0.3.0: config_version; every setting present.
#   3  channels (1 or 3); every run before had 3.
CONFIG_VERSION = 3
# Settings a resume may not change, added in format V with the value every run of an
# earlier format had: {V: {setting: value}}.
_FIXED_ADDED_IN = {2: {'decoder': 'post'}, 3: {'channels': 3}}
LAP1_CHANGED_IN = (0, 2, 0)  # Lap1: level sums weighted 2^-2j before, plain sums since

CHOICES = {
    'decoder': ('post', 'dcgan'),
    'normalizer': ('batch_norm', 'none'),
    'projection': ('sphere', 'ball'),
    'codes_init': ('glorot', 'gaussian', 'pca'),
    'loss': ('pairwise', 'mse', 'lap1'),
    'optimizer': ('adam', 'sgd'),
    'codes_optimizer': ('adam', 'lazy_adam', 'sgd'),
    'tower_device': ('gpu', 'cpu'),
    'variable_device': ('auto', 'gpu', 'cpu'),
    'precision': ('fp32', 'bf16', 'fp16'),
    'gpu_memory': ('grow', 'all'),
    'input_pipeline': ('fixed', 'post'),
    'input_cache': ('off', 'auto'),
    'channels': (1, 3),
}


HELP = {
    'image_size': 'Output side in pixels (16 to 1024, a power of 2).',
    'channels': 'Image channels: 3 (RGB, the post) or 1 (grayscale: files are decoded to '
                'one channel, the decoder outputs one; FID tiles it to three).',
    'tight_crop': 'Crop to 108x108 before resizing (CelebA faces).',
    'latent_dims': 'Code dimension.',
    'batch_size': 'Images per tower per step.',
    'decoder': 'post (the post\'s decoder) or dcgan (DCGAN\'s generator, the paper\'s: '
               'N(0, 0.02) weights, a stride-2 output layer with --kernel_size).',
    'decoder_filters': 'Filters of the 4x4 layer and of each stride-2 block.',
    'kernel_size': 'Kernel of the stride-2 blocks (dcgan: also of its output layer; 5 as '
                   'DCGAN\'s TensorFlow code, 4 as the PyTorch example).',
    'normalizer': 'batch_norm (the post) or none.',
    'batch_norm_decay': 'Decay of the batch-norm moving averages.',
    'projection': 'sphere: z/||z|| (the post); ball: z/max(1,||z||) (the paper).',
    'project_stored_codes': 'Also write the projection back into the codes after each step '
                            '(the paper).',
    'codes_init': 'glorot (the post), gaussian, or pca of the images (the paper).',
    'pca_image_size': 'With codes_init=pca: the images are resized to min(this, image_size) '
                      'px before the PCA.',
    'loss': 'pairwise (what the post trained), mse (the post text), lap1 (the paper).',
    'lap1_levels': 'Levels of the Laplacian pyramid of the lap1 loss.',
    'optimizer': 'Optimizer of the decoder: adam or sgd.',
    'codes_optimizer': 'Optimizer of the codes: adam (dense TF1 Adam, the post), lazy_adam, '
                       'or sgd.',
    'learning_rate': 'Learning rate of the decoder.',
    'codes_learning_rate': 'Learning rate of the codes.',
    'num_steps': 'Stop at this global step (unbounded when unset, like the post).',
    'num_gpus': 'Number of towers, or auto: one per visible GPU (one on the CPU when none); '
                '0: one tower on the CPU, on purpose.',
    'tower_device': 'gpu: towers on /gpu:i; cpu: on /cpu:i (tests).',
    'variable_device': 'Where the variables (codes, decoder, optimizer slots, global step) '
                       'live: auto, the first GPU when the towers run on GPUs (the '
                       'notebook), else the CPU; gpu; cpu (slim\'s model_deploy: the host '
                       'runs the optimizer updates). A cluster keeps them on its parameter '
                       'servers.',
    'precision': 'Arithmetic of the decoder: fp32 (the post), bf16 (CPUs with native bf16), '
                 'fp16 (GPUs, dynamic loss scaling); variables and loss stay float32.',
    'tf32': 'Let float32 convolutions and matrix products of GPUs of compute capability 8.0 '
            'and newer (Ampere on) run in TensorFloat-32 (10-bit mantissa inputs, float32 '
            'sums; TensorFlow\'s default, faster); off: true float32 on every GPU, as the '
            'post\'s 2017 GPU ran. No effect on CPUs or older GPUs.',
    'gpu_memory': 'GPU memory of the GPUs the run uses: grow (allocate as needed, so a '
                  'shared machine keeps the rest) or all (map nearly all of it at start, '
                  'TensorFlow\'s default). Other GPUs are never touched.',
    'input_pipeline': 'fixed (default) or post (the notebook\'s, one reader thread only).',
    'input_cache': 'off: read the image files every epoch; auto: decode, crop and resize '
                   'them once into a uint8 cache file (--cache_dir) and train from it.',
    'num_samples': 'Use only the first N files of the sorted list (the notebook\'s '
                   'NUM_SAMPLES).',
    'num_reader_threads': 'Reader threads of the input pipeline.',
    'shuffle_capacity': 'Capacity of the shuffle buffer.',
    'min_after_dequeue': 'Minimum images left in the shuffle buffer.',
    'save_summaries_steps': 'Scalar summaries and histograms every N steps, and at the '
                            'last step.',
    'image_summary_steps': 'The four 5 x 5 image grids to TensorBoard every N steps, and '
                           'at the last step.',
    'save_images_steps': 'Also write the four grids as RUN/images/<grid>_<step>.jpg every N '
                         'steps, as the notebook did (0: never).',
    'stretch_saved_images': 'Stretch each saved JPEG grid min-max to [0, 255], as the '
                            'notebook\'s scipy.misc.imsave did (default: the fixed map of '
                            '[-1, 1]).',
    'save_checkpoint_secs': 'Checkpoint every N seconds.',
    'save_checkpoint_steps': 'Checkpoint every N steps (whichever of secs/steps first).',
    'max_to_keep': 'Checkpoints kept.',
    'log_every_steps': 'Progress line every N steps.',
    'seed': 'Random seed: the graph seed under --deterministic (each random op derives '
            'its own from it).',
    'deterministic': 'Graph seed, seeded per-epoch shuffle with a first-in first-out batch '
                     'queue, one reader thread, TensorFlow op determinism: bit-identical '
                     'reruns on CPU (fixed pipeline only).',
}



# Choices of the generation programs (figures, evaluation, FID), kept here so that the
# command-line layer can list them without importing TensorFlow.
SAMPLERS = ('unit', 'fitted', 'full')
INTERPOLATIONS = ('nlerp', 'slerp')
FID_METHODS = ('sqrtm', 'eigh')
FID_PROTOCOLS = ('ours', 'glann')  # evaluation/fid/stats.py PROTOCOLS
COMPARE_FORMATS = ('markdown', 'latex', 'csv')

class Spec(collections.namedtuple('Spec', ['kind', 'low', 'high', 'open', 'optional'])):
  """What one setting accepts.

  kind: int, float, bool, enum (one of CHOICES[name]), int_list (a non-empty list of
  positive integers) or int_or_auto (an integer or 'auto'); low, high: bounds of a number
  (None: unbounded), both excluded when `open`; optional: None (unset) is accepted.
  """


def _spec(kind, low=None, high=None, open=False, optional=False):  # pylint: disable=redefined-builtin
  return Spec(kind, low, high, open, optional)


def supported_image_sizes():
  return [2 ** k for k in range(4, 11)]


# Every setting's kind and bounds; `validate` checks each against its Spec, then the few
# rules that tie settings together (_CROSS_FIELD).
POSITIVE = _spec('int', 1)
SPECS = {
    'preset': _spec('enum'),
    'image_size': _spec('int', 16, 1024),  # and a power of 2 (CHOICES)
    'channels': _spec('int'),  # CHOICES
    'tight_crop': _spec('bool'),
    'latent_dims': POSITIVE,
    'batch_size': POSITIVE,
    'decoder': _spec('enum'),
    'decoder_filters': _spec('int_list'),
    'kernel_size': _spec('int', 1, 15),
    'normalizer': _spec('enum'),
    'batch_norm_decay': _spec('float', 0.0, 1.0, open=True),
    'projection': _spec('enum'),
    'project_stored_codes': _spec('bool'),
    'codes_init': _spec('enum'),
    'pca_image_size': POSITIVE,
    'loss': _spec('enum'),
    'lap1_levels': POSITIVE,
    'optimizer': _spec('enum'),
    'codes_optimizer': _spec('enum'),
    'learning_rate': _spec('float', 0.0, open=True),
    'codes_learning_rate': _spec('float', 0.0, open=True),
    'num_steps': _spec('int', 1, optional=True),
    # auto: one tower per visible GPU; 0: one tower on the CPU (devices.resolve_num_gpus).
    'num_gpus': _spec('int_or_auto', 0),
    'tower_device': _spec('enum'),
    'variable_device': _spec('enum'),
    'precision': _spec('enum'),
    'tf32': _spec('bool'),
    'gpu_memory': _spec('enum'),
    'input_pipeline': _spec('enum'),
    'input_cache': _spec('enum'),
    'num_samples': _spec('int', 1, optional=True),
    'num_reader_threads': POSITIVE,
    'shuffle_capacity': POSITIVE,
    'min_after_dequeue': _spec('int', 0),  # and < shuffle_capacity (_CROSS_FIELD)
    'save_summaries_steps': POSITIVE,
    'image_summary_steps': POSITIVE,
    'save_images_steps': _spec('int', 0),  # 0: never
    'stretch_saved_images': _spec('bool'),
    'save_checkpoint_secs': _spec('int', 1, optional=True),
    'save_checkpoint_steps': _spec('int', 1, optional=True),
    'max_to_keep': POSITIVE,
    'log_every_steps': POSITIVE,
    'seed': _spec('int', 0),
    'deterministic': _spec('bool'),
}
CHOICES['image_size'] = tuple(supported_image_sizes())
CHOICES['preset'] = tuple(PRESETS)

Setting = collections.namedtuple('Setting', ['name', 'kind', 'choices', 'help', 'defaults',
                                             'model'])


def schema():
  """[Setting] of every setting but `preset`, in the blog preset's order."""
  return [Setting(name, SPECS[name].kind, CHOICES.get(name), HELP[name],
                  {p: cfg[name] for p, cfg in PRESETS.items()}, name in FIXED_ON_RESUME)
          for name in BLOG if name != 'preset']


class UserError(ValueError):
  """A program cannot go on as asked, through no bug of its own: the message names the
  flag or file at fault and what to do. Programs print it and exit with status 2."""


class ConfigError(UserError):
  """A setting has a value that glo-tf1 cannot run with. The message names the setting."""


def num_upsampling_blocks(image_size):
  """Stride-2 blocks between the 4x4 first layer and the stride-2 output layer.

  4 * 2**blocks * 2 == image_size, so 128 px -> 4 blocks (the post), 32 px -> 2.
  """
  if image_size not in supported_image_sizes():
    raise ConfigError(
        '--image_size=%r: the decoder grows 1x1 -> 4x4 and then doubles, so the size must '
        'be one of %s' % (image_size, supported_image_sizes()))
  return int(round(math.log2(image_size))) - 3


def _is_int(v):
  return isinstance(v, int) and not isinstance(v, bool)


def describe(name):
  """What setting `name` accepts, in words (its Spec), for errors and docs."""
  spec = SPECS[name]
  if name in CHOICES:
    text = 'one of %s' % ', '.join(map(str, CHOICES[name]))
  elif spec.kind == 'bool':
    text = 'true or false'
  elif spec.kind == 'int_list':
    text = 'a comma-separated list of positive integers'
  else:
    noun = 'number' if spec.kind == 'float' else 'integer'
    if spec.high is not None:
      text = '%s %s in %s%s, %s%s' % ('an' if noun == 'integer' else 'a', noun, '(' if spec.open else '[', spec.low, spec.high,
                                      ')' if spec.open else ']')
    elif spec.low in (0, 1) and (spec.open or spec.low == 1):
      text = 'a positive %s' % noun
    elif spec.low == 0:
      text = 'a non-negative %s' % noun
    else:
      text = 'a %s >= %s' % (noun, spec.low)
    if spec.kind == 'int_or_auto':
      text = 'auto or ' + text
  return text + (' (or unset)' if spec.optional else '')


def check_value(name, value):
  """Raises ConfigError unless `value` is one that setting `name` accepts (its Spec)."""
  spec = SPECS[name]
  if value is None and spec.optional:
    return
  if name in CHOICES:
    ok = value in CHOICES[name] and (spec.kind == 'enum' or _is_int(value))
  elif spec.kind == 'bool':
    ok = isinstance(value, bool)
  elif spec.kind == 'int_list':
    ok = (isinstance(value, (list, tuple)) and len(value) >= 1 and
          all(_is_int(x) and x > 0 for x in value))
  elif spec.kind == 'int_or_auto' and value == 'auto':
    ok = True
  else:
    number = _is_int(value) or (spec.kind == 'float' and isinstance(value, float) and
                                math.isfinite(value))
    ok = number and (
        (spec.low is None or (value > spec.low if spec.open else value >= spec.low)) and
        (spec.high is None or (value < spec.high if spec.open else value <= spec.high)))
  if not ok:
    raise ConfigError('--%s: must be %s, got %r' % (name, describe(name), value))


# The rules that tie settings together: (setting named in the error, rule, why).
_CROSS_FIELD = (
    ('min_after_dequeue', lambda c: c['min_after_dequeue'] < c['shuffle_capacity'],
     lambda c: 'must be below shuffle_capacity=%d, got %d'
     % (c['shuffle_capacity'], c['min_after_dequeue'])),
    ('num_reader_threads',
     lambda c: c['input_pipeline'] != 'post' or c['num_reader_threads'] == 1,
     lambda c: 'the post pipeline reads indices and files from two separate queues, which '
     'stay paired only with one reader thread (with more, images train other images\' '
     'codes); got %d (use --input_pipeline=fixed for more)' % c['num_reader_threads']),
    ('input_cache', lambda c: c['input_cache'] == 'off' or c['input_pipeline'] == 'fixed',
     lambda c: 'the decoded-image cache replaces the fixed pipeline\'s JPEG reading; the '
     'post pipeline is kept bug for bug, so use --input_cache=off with '
     '--input_pipeline=post'),
    ('num_reader_threads',
     lambda c: not c['deterministic'] or c['num_reader_threads'] == 1,
     lambda c: '--deterministic needs exactly one reader thread (several finish images in '
     'an order that depends on thread timing), got %d' % c['num_reader_threads']),
    ('input_pipeline', lambda c: not c['deterministic'] or c['input_pipeline'] == 'fixed',
     lambda c: '--deterministic needs --input_pipeline=fixed: the post pipeline\'s only '
     'shuffle is its shuffle_batch queue, whose draws depend on how full the queue is when '
     'a batch is taken (thread timing), so it cannot rerun bit for bit'),
)


class Settings(collections.abc.Mapping):
  """A validated config, frozen: read `cfg['name']` or `cfg.name`; `cfg.replace(**changes)`
  is a new, validated one; `dict(cfg)` is the plain dict config.json stores (to_saved).

  A list setting (decoder_filters) is stored as a tuple and read as a fresh list, so a
  caller's edit of what it read cannot change the config.
  """
  __slots__ = ('_values',)

  def __init__(self, values):
    object.__setattr__(self, '_values', {
        k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

  def __getitem__(self, name):
    value = self._values[name]
    return list(value) if isinstance(value, tuple) else value

  def __getattr__(self, name):
    try:
      return self[name]
    except KeyError:
      raise AttributeError('no setting %r' % name) from None

  def __setattr__(self, name, value):
    raise AttributeError('Settings are frozen: use cfg.replace(%s=...)' % name)

  def __iter__(self):
    return iter(self._values)

  def __len__(self):
    return len(self._values)

  def __reduce__(self):
    return Settings, (dict(self),)

  def __repr__(self):
    return 'Settings(%r)' % dict(self)

  def replace(self, **changes):
    """A new validated Settings with `changes` applied (ConfigError naming a bad one)."""
    return validate(dict(self, **changes))


def validate(cfg):
  """Raises ConfigError naming the first bad setting; returns cfg as a frozen Settings."""
  missing = sorted(set(BLOG) - set(cfg))
  if missing:
    raise ConfigError('--config: missing settings %s' % missing)
  unknown = sorted(set(cfg) - set(BLOG))
  if unknown:
    raise ConfigError('--config: unknown settings %s' % unknown)
  for name in BLOG:
    check_value(name, cfg[name])
  for name, rule, why in _CROSS_FIELD:
    if not rule(cfg):
      raise ConfigError('--%s: %s' % (name, why(cfg)))
  return cfg if isinstance(cfg, Settings) else Settings(cfg)


def resolve(preset, overrides=None):
  """Returns the validated config of `preset` with `overrides` applied."""
  if preset not in PRESETS:
    raise ConfigError('--preset: got %r, accepted values are %s' % (preset, ', '.join(PRESETS)))
  cfg = copy.deepcopy(PRESETS[preset])
  for key, value in (overrides or {}).items():
    if key not in cfg:
      raise ConfigError('--%s: not a setting of glo-tf1' % key)
    cfg[key] = value
  if cfg['decoder_filters'] is not None:
    cfg['decoder_filters'] = list(cfg['decoder_filters'])
  if ((cfg['input_pipeline'] == 'post' or cfg['deterministic']) and
      'num_reader_threads' not in (overrides or {})):
    # Both run one reader thread: the preset's default gives way; an explicit
    # --num_reader_threads > 1 is refused by validate() with the reason.
    cfg['num_reader_threads'] = 1
  return validate(cfg)


def decoder_filters_for_size(filters, image_size):
  """Filters of the 4x4 layer and of each stride-2 block for `image_size`.

  filters[0] is the 4x4 layer, filters[1:] the blocks. A list longer than the size needs
  is truncated (the first blocks are kept); a shorter one repeats its last entry. So the
  blog list [256, 128, 64, 64, 32] gives [256, 128, 64] at 32 px and
  [256, 128, 64, 64, 32, 32] at 256 px.
  """
  blocks = num_upsampling_blocks(image_size)
  filters = list(filters)
  if len(filters) < blocks + 1:
    filters += [filters[-1]] * (blocks + 1 - len(filters))
  return filters[:blocks + 1]


def _version_tuple(version):
  try:
    return tuple(int(x) for x in str(version).split('.')[:3])
  except ValueError:
    return None


def migrate(saved, trained_by=None):
  """A config.json of any past format (CONFIG_VERSION's history) as this version reads
  it: a plain settings dict without `config_version`, to be validated.

  Args:
    saved: the JSON object read from config.json (or a report's `config`).
    trained_by: the glo-tf1 version that trained the run (provenance.json), if known.
  Raises:
    ConfigError: a newer format, a setting a resume may not change that the file lacks,
      or a lap1 run trained before LAP1_CHANGED_IN.
  """
  cfg = dict(saved)
  version = cfg.pop('config_version', 1)
  cfg.pop('decoder_filters_used', None)  # derived by to_saved, not a setting
  if not isinstance(version, int) or version > CONFIG_VERSION:
    raise ConfigError('--config: config_version %r was written by a newer glo-tf1 (this one '
                      'reads 1 to %d); use that version' % (version, CONFIG_VERSION))
  for added_in, values in sorted(_FIXED_ADDED_IN.items()):
    if version < added_in:
      cfg = dict({k: v for k, v in values.items() if k not in cfg}, **cfg)
  preset = cfg.get('preset')
  defaults = PRESETS.get(preset if isinstance(preset, str) else None, BLOG)
  lacking = sorted(k for k in set(defaults) - set(cfg) if k in FIXED_ON_RESUME)
  if lacking:
    raise ConfigError('--config: written by an older glo-tf1 and lacks the model settings '
                      '%s; resume it with the version that created it' % ', '.join(lacking))
  cfg.update({k: defaults[k] for k in set(defaults) - set(cfg)})  # may change on resume
  old = _version_tuple(trained_by) if trained_by is not None else None
  if cfg.get('loss') == 'lap1' and old is not None and old < LAP1_CHANGED_IN:
    raise ConfigError(
        '--config: trained with the lap1 loss of glo-tf1 %s, which weighted the level sums '
        'by 2^-2j; glo-tf1 >= %s sums each level\'s mean absolute difference. Resuming or '
        'evaluating it here would use another loss: use glo-tf1 %s (the commit in its '
        'provenance.json) or start a new run.'
        % (trained_by, '.'.join(map(str, LAP1_CHANGED_IN)), trained_by))
  return cfg


def to_saved(cfg):
  """`cfg` as config.json stores it: with its format's `config_version` and, derived (not a
  setting; migrate drops it), `decoder_filters_used`: the filters the model really has,
  decoder_filters adapted to image_size (decoder_filters_for_size), so a 32 px run of the
  five-entry blog list says it has three."""
  out = dict(cfg, config_version=CONFIG_VERSION)
  if cfg.get('decoder_filters') is not None and cfg.get('image_size'):
    out['decoder_filters_used'] = decoder_filters_for_size(cfg['decoder_filters'],
                                                           cfg['image_size'])
  return out


def fixed_differences(old, new):
  """[(key, old value, new value)] for the settings of FIXED_ON_RESUME that differ."""
  return [(k, old.get(k), new.get(k)) for k in FIXED_ON_RESUME if old.get(k) != new.get(k)]
