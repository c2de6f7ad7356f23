"""The README's tables match the code: the presets table is the one generated from
glo_tf1/config.py, and every flag the departures table names exists and accepts the value
it is given there (the "by default" column names the blog preset's own values)."""
import importlib.util
import os
import re

import pytest

from conftest import ROOT
from glo_tf1 import config
from glo_tf1 import train


def _readme():
  with open(os.path.join(ROOT, 'README.md')) as f:
    return f.read()


def _presets_table_module():
  spec = importlib.util.spec_from_file_location(
      'presets_table', os.path.join(ROOT, 'reproduce', 'presets_table.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_presets_table_is_generated_from_config():
  module = _presets_table_module()
  assert module.block() in _readme(), (
      'README.md presets table is stale: run python reproduce/presets_table.py --write '
      'README.md')
  # The generated table really has every setting with each preset's value.
  table = module.table()
  for key in config.BLOG:
    if key != 'preset':
      (row,) = [l for l in table.splitlines() if l.startswith('| `--%s` |' % key)]
      assert row.count('|') >= 6


def _departures_rows():
  text = _readme()
  start = text.index('## Departures from the post')
  section = text[start:text.index('<!-- SECTION:departures -->', start)]
  rows = [l for l in section.splitlines() if re.match(r'\| [1-8] \|', l)]
  return [[c.strip() for c in l.strip('|').split(' | ')] for l in rows]


def _flags(cell):
  """[(name, value or None)] of every `--name value` inside backticks in a cell."""
  out = []
  for span in re.findall(r'`([^`]*)`', cell):
    out += re.findall(r'--(\w+)(?:[ =]([\w.]+))?', span)
  return [(n, v or None) for n, v in out]


def _typed(name, value):
  default = config.BLOG[name]
  if isinstance(default, bool):
    return value == 'true'
  if isinstance(default, float):
    return float(value)
  if isinstance(default, str):
    return value
  return int(value)


def test_departures_table_has_the_eight_defects():
  rows = _departures_rows()
  assert [r[0] for r in rows] == [str(i) for i in range(1, 9)]
  assert all(len(r) == 4 for r in rows)


@pytest.mark.parametrize('column', [2, 3])
def test_departures_table_flags_exist_and_accept_their_values(column):
  seen = 0
  for row in _departures_rows():
    for name, value in _flags(row[column]):
      seen += 1
      assert name in train.FLAGS, '--%s in the departures table is not a flag' % name
      if value is None or value.isupper() or name not in config.BLOG:
        continue  # a placeholder (N) or a flag outside the presets (--run_dir)
      cfg = config.resolve('blog', {name: _typed(name, value)})  # raises if not accepted
      if column == 2:  # "glo-tf1 by default": the blog preset's own value
        assert cfg[name] == config.BLOG[name], (name, value)
  assert seen >= 4
