"""The one schema of glo-tf1's settings: help, choices, kinds and bounds, model keys,
validation.

A run is described by one flat dict of settings. `resolve(preset, overrides)` starts from a
preset (presets.py), applies the user's overrides, checks every value and returns the
resolved config that the run directory records (`config.json`, migration.py). For each
setting this module holds its help (HELP), its accepted values (CHOICES), its kind and
bounds (SPECS) and whether a resume may change it (FIXED_ON_RESUME); `schema()` lists them
together with every preset's default, and cli/ defines every training flag from it. This
module imports no TensorFlow, so `--help` is quick.
"""
import collections
import collections.abc
import copy
import math
import operator

from glo_tf1.checks import is_int as _is_int
from glo_tf1.settings.errors import ConfigError
from glo_tf1.settings.presets import BLOG
from glo_tf1.settings.presets import PRESETS

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

def add_setting(name, default, kind, help_text, low=None, high=None,
                open=False,  # pylint: disable=redefined-builtin
                optional=False, choices=None, setitem=operator.setitem):
  """A new setting in one call (docs/layout.md, "A setting"): `default` in every preset
  (they copied BLOG at import), its Spec (kind, low, high, open, optional as Spec says),
  its help, and for an enum its `choices`. `setitem(table, key, value)` writes each entry:
  a test passes pytest's monkeypatch.setitem, so the setting goes again after it. For a
  setting of the tree itself, write those entries in presets.py and here instead, and add
  it to FIXED_ON_RESUME when a resume may not change it; the programs define their flags
  from schema() at import, so a setting added later is a library override only."""
  if name in SPECS:
    raise ValueError('setting %r exists already' % name)
  if (kind == 'enum') != (choices is not None):
    raise ValueError('setting %r: choices are for an enum, and an enum needs them' % name)
  setitem(SPECS, name, _spec(kind, low, high, open, optional))
  setitem(HELP, name, help_text)
  if choices is not None:
    setitem(CHOICES, name, tuple(choices))
  check_value(name, default)  # before any preset holds it
  for preset in PRESETS.values():
    setitem(preset, name, default)


Setting = collections.namedtuple('Setting', ['name', 'kind', 'choices', 'help', 'defaults',
                                             'model'])


def schema():
  """[Setting] of every setting but `preset`, in the blog preset's order."""
  return [Setting(name, SPECS[name].kind, CHOICES.get(name), HELP[name],
                  {p: cfg[name] for p, cfg in PRESETS.items()}, name in FIXED_ON_RESUME)
          for name in BLOG if name != 'preset']


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

