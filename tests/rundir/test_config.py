"""config.json is validated as a file (issue 14): a hand edit is refused naming the file,
every past format resumes, a newer one is refused, and a lap1 run of a version before
the loss changed does not resume."""
import json
import os

import pytest

from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.rundir import config as run_config


def test_hand_edited_config_is_validated_naming_the_file(tmp_path):
  run = str(tmp_path / 'run')
  os.makedirs(run)
  path = os.path.join(run, rundir.CONFIG_NAME)
  with open(path, 'w') as f:
    json.dump([1, 2], f)
  with pytest.raises(io.FileFormatError, match='%s should hold a JSON object' % path):
    run_config.resolve_for_run(run, None, {})
  io.write_json(path, dict(settings.resolve('demo', {}), latent_dims='eight'))
  for overrides in ({}, {'num_steps': 5}):
    with pytest.raises(rundir.RunDirError) as e:
      run_config.resolve_for_run(run, None, overrides)
    assert str(e.value).startswith(path) and 'latent_dims' in str(e.value)
    assert '--' not in str(e.value)  # no flag blamed: the user gave none


def test_a_lap1_run_of_an_older_version_is_refused_naming_the_loss_change(tmp_path):
  """Lap1 changed in 0.2.0: an older lap1 run must not resume (or be evaluated) on the new
  loss; other losses, and lap1 runs of this version, go on."""
  from glo_tf1 import io as io_lib  # pylint: disable=import-outside-toplevel
  from glo_tf1 import settings as settings_lib  # pylint: disable=import-outside-toplevel
  run = str(tmp_path / 'run')
  os.makedirs(run)
  for loss, version, refused in (('lap1', '0.1.0', True), ('lap1', '0.2.0', False),
                                 ('mse', '0.1.0', False)):
    cfg = settings_lib.resolve('paper', {'loss': loss})
    io_lib.write_json(os.path.join(run, rundir.CONFIG_NAME), cfg)
    io_lib.write_json(os.path.join(run, rundir.PROVENANCE_NAME), {'glo_tf1_version': version})
    if refused:
      with pytest.raises(rundir.RunDirError, match='2\\^-2j'):
        run_config.resolve_for_run(run, None, {})
    else:
      assert run_config.resolve_for_run(run, None, {})[1]  # resumed


def _config_of_version(version, **changes):
  """A config.json as glo-tf1 wrote it in format `version` (settings.CONFIG_VERSION's
  history): 1 had no config_version and may lack settings added later."""
  from glo_tf1 import settings as settings_lib  # pylint: disable=import-outside-toplevel
  cfg = dict(settings_lib.resolve('demo', {'image_size': 16}))  # a plain, editable dict
  if version >= 2:
    cfg['config_version'] = version
  for k, v in changes.items():
    if v is None:
      del cfg[k]
    else:
      cfg[k] = v
  return cfg


@pytest.mark.parametrize('version', [1, 2, 3])
def test_every_past_config_format_resumes(tmp_path, version):
  from glo_tf1 import io as io_lib  # pylint: disable=import-outside-toplevel
  from glo_tf1 import settings as settings_lib  # pylint: disable=import-outside-toplevel
  run = str(tmp_path / 'run')
  os.makedirs(run)
  missing = {1: {'decoder': None, 'precision': None, 'variable_device': None,
                 'channels': None},
             2: {'channels': None}, 3: {}}[version]
  io_lib.write_json(os.path.join(run, rundir.CONFIG_NAME),
                    _config_of_version(version, **missing))
  cfg, resumed = run_config.resolve_for_run(run, None, {})
  assert resumed and 'config_version' not in cfg
  assert cfg['decoder'] == 'post' and cfg['precision'] == 'fp32'  # what v1 runs had
  assert cfg['channels'] == 3  # every run before format 3 was RGB
  assert cfg['variable_device'] == 'auto' and cfg['image_size'] == 16
  run_config.write_config(run, cfg)  # written back in today's format, read back the same
  assert (io_lib.read_json(os.path.join(run, rundir.CONFIG_NAME))['config_version'] ==
          settings_lib.CONFIG_VERSION == 3)
  assert run_config.read_config(run) == cfg
  if version == 3:  # today's format must name channels: a 1-channel run is not an RGB one
    io_lib.write_json(os.path.join(run, rundir.CONFIG_NAME),
                      _config_of_version(3, channels=None))
    with pytest.raises(rundir.RunDirError, match='lacks the model settings channels'):
      run_config.resolve_for_run(run, None, {})


def test_a_newer_config_format_and_a_v1_config_without_a_fixed_setting_are_refused(tmp_path):
  from glo_tf1 import io as io_lib  # pylint: disable=import-outside-toplevel
  run = str(tmp_path / 'run')
  os.makedirs(run)
  path = os.path.join(run, rundir.CONFIG_NAME)
  io_lib.write_json(path, _config_of_version(4))
  with pytest.raises(rundir.RunDirError, match='config_version 4 was written by a newer'):
    run_config.read_config(run)
  io_lib.write_json(path, _config_of_version(1, latent_dims=None))
  with pytest.raises(rundir.RunDirError, match='config.json: .*lacks the model settings '
                     'latent_dims'):
    run_config.resolve_for_run(run, None, {})
