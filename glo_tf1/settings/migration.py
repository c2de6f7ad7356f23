"""config.json's format across glo-tf1 versions: what a run directory stores (to_saved),
how every past format is read (migrate), and which differences a resume refuses."""
from glo_tf1.settings.errors import ConfigError
from glo_tf1.settings.presets import BLOG
from glo_tf1.settings.presets import PRESETS
from glo_tf1.settings.specs import FIXED_ON_RESUME

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


def to_saved(cfg, filters_used):
  """`cfg` as config.json stores it: with its format's `config_version` and, derived (not a
  setting; migrate drops it), `decoder_filters_used`: the filters the model really has,
  decoder_filters adapted to image_size (model/decoders/geometry.filters_used(cfg), given
  by the caller: settings sit below the model), so a 32 px run of the five-entry blog list
  says it has three. None: not stored (a config without a decoder)."""
  out = dict(cfg, config_version=CONFIG_VERSION)
  if filters_used is not None:
    out['decoder_filters_used'] = list(filters_used)
  return out


def fixed_differences(old, new):
  """[(key, old value, new value)] for the settings of FIXED_ON_RESUME that differ."""
  return [(k, old.get(k), new.get(k)) for k in FIXED_ON_RESUME if old.get(k) != new.get(k)]
