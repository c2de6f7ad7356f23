"""RUN/config.json: the run's resolved settings, read in any past format
(settings.migrate), validated, written with the decoder's real filters, and compared with
what a resume asks for."""
import os

from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.model.decoders import geometry
from glo_tf1.rundir import CONFIG_NAME
from glo_tf1.rundir import PROVENANCE_NAME
from glo_tf1.rundir import RunDirError


def read_config(run_dir):
  """The run's config.json as this version reads it (settings.migrate: any past format,
  checked against the version that trained the run), validated; None for a new run
  directory.

  Raises:
    RunDirError: naming the file and the setting (not a flag: the user gave none).
  """
  path = os.path.join(run_dir, CONFIG_NAME)
  saved = io.read_json(path)
  if saved is None:
    return None
  trained_by = io.read_json(os.path.join(run_dir, PROVENANCE_NAME), missing={}).get(
      'glo_tf1_version')
  try:
    cfg = settings.migrate(saved, trained_by)
  except settings.ConfigError as e:
    raise RunDirError('%s: %s' % (path, str(e)[len('--config: '):])) from None
  try:
    return settings.validate(cfg)
  except settings.ConfigError as e:
    raise RunDirError('%s (edited by hand?): %s' % (path, str(e).lstrip('-'))) from None


def saved_config(cfg):
  """`cfg` as config.json (and provenance.json, reports) store it: settings.to_saved with
  the filters the decoder really has (decoders/geometry.filters_used)."""
  return settings.to_saved(cfg, geometry.filters_used(cfg))


def write_config(run_dir, cfg):
  io.write_json(os.path.join(run_dir, CONFIG_NAME), saved_config(cfg))


def resolve_for_run(run_dir, preset, overrides):
  """The config of a new run, or of the run being resumed in `run_dir`.

  On resume, the settings of settings.FIXED_ON_RESUME must not change; anything else
  (steps, logging, checkpoint cadence, threads, placement) may.
  Raises:
    RunDirError: listing every differing setting.
  """
  saved = read_config(run_dir)
  if saved is None:
    return settings.resolve(preset or 'blog', overrides), False
  if preset and preset != saved.get('preset'):
    wanted = settings.resolve(preset, overrides)
  else:
    wanted = dict(saved)
    wanted.update(overrides)
    wanted = settings.validate(wanted)
  diffs = settings.fixed_differences(saved, wanted)
  if diffs:
    raise RunDirError(
        'run directory %s was created with other settings; resuming would change what its '
        'checkpoint means. Differing settings (saved -> asked):\n%s\nUse a new --run_dir, '
        'or drop these flags to resume.' % (run_dir, '\n'.join(
            '  %s: %r -> %r' % d for d in diffs)))
  return wanted, True
