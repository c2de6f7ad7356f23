"""The typed settings: every setting declares its kind and bounds, `validate` checks each
against them, and a validated config is frozen."""
import json

import pytest

from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.model.decoders import geometry


def test_every_setting_has_a_spec_help_and_its_presets_validate():
  assert set(settings.SPECS) == set(settings.BLOG)
  assert set(settings.HELP) == set(settings.BLOG) - {'preset'}
  for name, spec in settings.SPECS.items():
    assert (spec.kind == 'enum') == (name in settings.CHOICES and
                                     name not in ('image_size', 'channels')), name
  for preset in settings.PRESETS:
    cfg = settings.resolve(preset)
    assert isinstance(cfg, settings.Settings) and cfg['preset'] == preset


def test_a_setting_added_in_one_call_is_validated_listed_and_undone(monkeypatch):
  """settings.add_setting: one call puts a setting in every preset, the schema and
  validation (the toy loss's hyper-parameter in tests/test_extension_points.py); with
  monkeypatch.setitem it goes again."""
  with monkeypatch.context() as patch:
    settings.add_setting('toy_delta', 1.0, 'float', 'A toy delta.', low=0.0, open=True,
                         setitem=patch.setitem)
    settings.add_setting('toy_mode', 'a', 'enum', 'A toy mode.', choices=('a', 'b'),
                         setitem=patch.setitem)
    for preset in settings.PRESETS:
      assert settings.resolve(preset)['toy_delta'] == 1.0
    assert settings.resolve('demo', {'toy_delta': 0.05, 'toy_mode': 'b'})['toy_mode'] == 'b'
    with pytest.raises(settings.ConfigError, match=r'--toy_delta: must be a positive number, '
                       r'got 0\.0'):
      settings.resolve('demo', {'toy_delta': 0.0})
    with pytest.raises(settings.ConfigError, match='--toy_mode: must be one of a, b'):
      settings.resolve('demo', {'toy_mode': 'c'})
    listed = {s.name: s for s in settings.schema()}
    assert listed['toy_delta'].help == 'A toy delta.' and listed['toy_mode'].choices == ('a', 'b')
    assert set(listed['toy_delta'].defaults.values()) == {1.0}
    with pytest.raises(ValueError, match='exists already'):
      settings.add_setting('seed', 0, 'int', 'again', setitem=patch.setitem)
    with pytest.raises(settings.ConfigError, match='--toy_bad'):  # its default must pass
      settings.add_setting('toy_bad', -1, 'int', 'bad', low=0, setitem=patch.setitem)
  for table in [settings.SPECS, settings.HELP, settings.CHOICES] + list(settings.PRESETS.values()):
    assert not {'toy_delta', 'toy_mode', 'toy_bad'} & set(table)
  settings.resolve('demo')  # valid again without them


def _numbers():
  for name, spec in settings.SPECS.items():
    if spec.kind in ('int', 'float', 'int_or_auto') and name not in settings.CHOICES:
      yield name, spec


@pytest.mark.parametrize('name,spec', list(_numbers()))
def test_each_bound_is_accepted_or_refused_as_declared(name, spec):
  """At each declared bound: the bound itself (refused when open), one step inside it
  (accepted) and one step outside it (refused, the error naming the flag)."""
  base = settings.resolve('blog', {'shuffle_capacity': 10 ** 6, 'min_after_dequeue': 0})
  step = 1 if spec.kind != 'float' else 1e-3

  def ok(value):
    try:
      base.replace(**{name: value})
      return True
    except settings.ConfigError as e:
      assert str(e).startswith('--%s: must be ' % name) and repr(value) in str(e)
      return False

  if spec.low is not None:
    assert ok(spec.low) is (not spec.open)
    assert ok(spec.low + step)
    assert not ok(spec.low - step)
  if spec.high is not None:
    assert ok(spec.high) is (not spec.open)
    assert ok(spec.high - step)
    assert not ok(spec.high + step)
  assert ok(None) is spec.optional
  assert not ok(True)  # a bool is not a number
  assert not ok('3')


def test_kinds_refuse_the_wrong_type():
  cfg = settings.resolve('blog')
  for name, value in (('tight_crop', 1), ('decoder', 'vae'), ('image_size', 48),
                      ('image_size', 64.0), ('decoder_filters', []),
                      ('decoder_filters', [64, 0]), ('learning_rate', float('nan')),
                      ('num_gpus', 'all')):
    with pytest.raises(settings.ConfigError, match='^--%s: must be ' % name):
      cfg.replace(**{name: value})
  assert cfg.replace(num_gpus='auto')['num_gpus'] == 'auto'
  assert cfg.replace(learning_rate=2)['learning_rate'] == 2  # an int is a number


def test_cross_field_rules_name_the_setting():
  cfg = settings.resolve('blog')
  with pytest.raises(settings.ConfigError, match='^--min_after_dequeue: must be below'):
    cfg.replace(min_after_dequeue=cfg['shuffle_capacity'])
  with pytest.raises(settings.ConfigError, match='^--num_reader_threads: --deterministic'):
    cfg.replace(deterministic=True, num_reader_threads=2)
  with pytest.raises(settings.ConfigError, match='^--input_cache: '):
    cfg.replace(input_pipeline='post', num_reader_threads=1, input_cache='auto')


def test_a_validated_config_is_frozen_and_round_trips_through_config_json(tmp_path):
  cfg = settings.resolve('blog')
  with pytest.raises(TypeError):
    cfg['seed'] = 1  # pylint: disable=unsupported-assignment-operation
  with pytest.raises(AttributeError, match='frozen'):
    cfg.seed = 1
  filters = cfg['decoder_filters']
  filters.append(7)  # the caller's copy
  assert cfg.decoder_filters == settings.BLOG['decoder_filters']
  assert cfg.replace(seed=3).seed == 3 and cfg.seed == 0
  path = str(tmp_path / 'config.json')
  io.write_json(path, settings.to_saved(cfg, geometry.filters_used(cfg)))
  back = settings.validate(settings.migrate(io.read_json(path)))
  assert back == cfg and json.load(open(path))['decoder_filters'] == filters[:-1]
  with pytest.raises(settings.ConfigError, match='^--config: unknown settings'):
    settings.validate(dict(cfg, colour='red'))


def test_config_json_records_the_filters_the_model_has():
  """The issue's case: paper at 32 px asks for five entries and has three; the derived
  record is dropped on reading, so it never becomes a setting."""
  cfg = settings.resolve('paper', {'image_size': 32})
  saved = settings.to_saved(cfg, geometry.filters_used(cfg))
  assert saved['decoder_filters'] == [256, 128, 64, 64, 32]
  assert saved['decoder_filters_used'] == [256, 128, 64]
  assert settings.validate(settings.migrate(saved)) == cfg
