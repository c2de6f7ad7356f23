"""The folder layout is the architecture (docs/layout.md): imports run down the stack only,
never up and never in a circle; only cli/ reads flags; only training/, evaluation/ and the
benchmark open sessions. Read from the source with `ast`, whatever the code does."""
import ast
import os
import re

import pytest

from conftest import ROOT
from conftest import package_modules

# Rank of each room: a module may import modules of its own rank or lower.
RANKS = {'': 0, 'version': 0, 'compat': 0, 'settings': 0, 'io': 0, 'progress': 0, 'data': 1, 'model': 2,
         'deploy': 3, 'training': 4, 'evaluation': 5, 'bench': 6, 'cli': 7}
SESSION_ROOMS = ('training', 'evaluation', 'bench')
# The package's front door: `glo_tf1.load` hands out the Python API of evaluation/trained.py
# (imported inside the function, so `import glo_tf1` stays light). Nothing else may.
FRONT_DOOR = {('glo_tf1', 'glo_tf1.evaluation.trained')}
SESSION = re.compile(r'\b(Session|MonitoredTrainingSession|MonitoredSession|'
                     r'InteractiveSession)\(')


def _modules():
  """{dotted module name: path} of every module of the package."""
  return package_modules()


def imports_of(path, modules):
  """The package modules `path` imports (anywhere in the file, functions included)."""
  with open(path) as f:
    tree = ast.parse(f.read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [node.module] + ['%s.%s' % (node.module, a.name) for a in node.names]
    else:
      continue
    for name in names:
      if name in modules:
        found.add(name)
  # `from glo_tf1.data import files` names glo_tf1.data and glo_tf1.data.files: keep the
  # most specific module only.
  return {m for m in found if not any(o.startswith(m + '.') for o in found)}


def room(module):
  """The module's room; a package's `__main__` (python -m) is a program: cli's."""
  parts = module.split('.')
  if parts[-1] == '__main__':
    return 'cli'
  return parts[1] if len(parts) > 1 else ''


def upward_imports(edges):
  """[(importer, imported)] that run up the stack (to a higher rank), but the front door."""
  return sorted((a, b) for a, b in edges
                if RANKS[room(b)] > RANKS[room(a)] and (a, b) not in FRONT_DOOR)


def cycles(edges):
  """Every import cycle, each as a list of modules (empty when the graph is acyclic)."""
  graph = {}
  for a, b in edges:
    graph.setdefault(a, set()).add(b)
  found, state = [], {}

  def visit(node, stack):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph.get(node, ())):
      if state.get(nxt) == 'open':
        found.append(stack[stack.index(nxt):] + [nxt])
      elif nxt not in state:
        visit(nxt, stack)
    stack.pop()
    state[node] = 'done'

  for node in sorted(graph):
    if node not in state:
      visit(node, [])
  return found


@pytest.fixture(scope='module')
def edges():
  modules = _modules()
  return [(m, i) for m, path in modules.items() for i in imports_of(path, modules) if i != m]


def test_every_module_lives_in_a_known_room():
  assert {room(m) for m in _modules()} <= set(RANKS)


def test_no_import_runs_up_the_stack(edges):
  assert upward_imports(edges) == []


def test_no_import_cycle(edges):
  assert cycles(edges) == []


def test_the_checks_catch_what_they_look_for():
  up = [('glo_tf1.model.towers', 'glo_tf1.evaluation.generation'),
        ('glo_tf1.data.cache', 'glo_tf1.training.run_dir'),
        ('glo_tf1.training.loop', 'glo_tf1.data.files'),
        ('glo_tf1', 'glo_tf1.evaluation.trained'), ('glo_tf1', 'glo_tf1.evaluation.report')]
  assert upward_imports(up) == sorted(up[:2] + up[4:])
  loop = [('glo_tf1.data.cache', 'glo_tf1.data.pipelines'),
          ('glo_tf1.data.pipelines', 'glo_tf1.data.cache'), ('glo_tf1.io', 'glo_tf1.settings')]
  assert cycles(loop) == [['glo_tf1.data.cache', 'glo_tf1.data.pipelines',
                           'glo_tf1.data.cache']]


def test_only_cli_reads_flags():
  for module, path in _modules().items():
    if room(module) == 'cli':
      continue
    with open(path) as f:
      text = f.read()
    assert 'absl import flags' not in text and 'FLAGS' not in text, module


def test_sessions_run_only_in_training_evaluation_and_the_benchmark():
  for module, path in _modules().items():
    if room(module) in SESSION_ROOMS:
      continue
    with open(path) as f:
      text = f.read()
    assert not SESSION.search(text), module
