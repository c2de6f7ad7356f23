"""The folder layout is the architecture (docs/layout.md): imports run down the stack only,
never up and never in a circle; only cli/ reads flags; only training/, evaluation/ and the
benchmark open sessions. Read from the source with `ast`, whatever the code does."""
import ast
import os
import re

import pytest

from conftest import ROOT
from conftest import package_modules

# Rank of each room: a module may import modules of its own rank or lower. deploy (where
# things run: devices, placement, precision) sits above the model and imports none of it:
# training asks deploy for the devices and passes them into the model's functions.
# rundir (the run directory's format: config, manifest, provenance, lock, checkpoints)
# sits below both of its users, training (which writes it) and evaluation (which reads it).
RANKS = {'': 0, 'version': 0, 'compat': 0, 'settings': 0, 'io': 0, 'checks': 0, 'progress': 0,
         'data': 1,
         'model': 2, 'deploy': 3, 'rundir': 4, 'training': 5, 'evaluation': 6, 'bench': 7,
         'cli': 8}
# What rundir takes from model/: the decoder's geometry, whose real filters config.json
# records (config.saved_config). Nothing of GLO's graph: the format does not depend on it.
RUNDIR_FROM_MODEL = {'glo_tf1.model.decoders.geometry'}
SESSION_ROOMS = ('training', 'evaluation', 'bench')
# The package's front door: `glo_tf1.load` hands out the Python API of evaluation/trained.py
# (imported inside the function, so `import glo_tf1` stays light). Nothing else may.
FRONT_DOOR = {('glo_tf1', 'glo_tf1.evaluation.trained')}
SESSION = re.compile(r'\b(Session|MonitoredTrainingSession|MonitoredSession|'
                     r'InteractiveSession)\(')
# What knows about GPUs: nvidia-smi, and TensorFlow's questions about the machine's GPUs.
GPU_NAMES = ('nvidia-smi', 'list_physical_devices', 'get_device_details',
             'set_visible_devices', 'is_built_with_cuda', 'list_local_devices')
# compat imports TensorFlow for everyone and starts its CUDA platform once, quietly
# (list_physical_devices); it uses no answer, so importing it is not knowing the GPUs.
SHARED_IMPORT = 'glo_tf1.compat'


def _modules():
  """{dotted module name: path} of every module of the package."""
  return package_modules()


def modules_under(root, package):
  """{dotted module name: path} of every module of `package` in folder `root` (a package's
  __init__.py is the package's own name)."""
  out = {}
  for folder, _, names in os.walk(os.path.join(root, package)):
    for name in names:
      if name.endswith('.py'):
        rel = os.path.relpath(os.path.join(folder, name), root)[:-3].replace(os.sep, '.')
        out[rel[:-len('.__init__')] if rel.endswith('.__init__') else rel] = \
            os.path.join(folder, name)
  return out


def _resolve(node, importer, modules):
  """The base module of an `ImportFrom` (relative ones resolved against `importer`)."""
  if not node.level:
    return node.module
  is_package = modules.get(importer, '').endswith('__init__.py')
  parts = importer.split('.')[:len(importer.split('.')) - node.level + is_package]
  return '.'.join(parts + ([node.module] if node.module else []))


def imports_of(path, modules, importer=''):
  """The package modules `path` imports (anywhere in the file, functions included).

  `import a.b` imports a.b; `from P import X` imports the module P.X when there is one, else
  takes X from P itself: P's __init__.py (so `from glo_tf1 import __version__` is an
  import of glo_tf1/__init__.py, whatever else the line names)."""
  with open(path) as f:
    tree = ast.parse(f.read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found |= {a.name for a in node.names if a.name in modules}
    elif isinstance(node, ast.ImportFrom):
      base = _resolve(node, importer, modules)
      for alias in node.names:
        sub = '%s.%s' % (base, alias.name)
        found.add(sub if sub in modules else base)
  return {m for m in found if m in modules}


def import_edges(modules):
  """[(importer, imported)] of every import between `modules`."""
  return [(m, i) for m, path in modules.items() for i in imports_of(path, modules, m)
          if i != m]


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


def reachable(edges, starts):
  """Every module `starts` import, directly or through others (starts included)."""
  graph = {}
  for a, b in edges:
    graph.setdefault(a, set()).add(b)
  seen, todo = set(), list(starts)
  while todo:
    node = todo.pop()
    if node not in seen:
      seen.add(node)
      todo.extend(graph.get(node, ()))
  return seen


def knows_gpus(path):
  """Whether a module's code (not its comments or docstrings' prose) names nvidia-smi or
  asks TensorFlow about the machine's GPUs (GPU_NAMES)."""
  with open(path) as f:
    tree = ast.parse(f.read())
  for node in ast.walk(tree):
    if isinstance(node, ast.Attribute) and node.attr in GPU_NAMES:
      return True
    if isinstance(node, ast.Call):
      for arg in node.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and \
            any(n in arg.value for n in GPU_NAMES):
          return True
      if isinstance(node.func, ast.Name) and node.func.id in GPU_NAMES:
        return True
  return False


@pytest.fixture(scope='module')
def edges():
  return import_edges(_modules())


def test_every_module_lives_in_a_known_room():
  assert {room(m) for m in _modules()} <= set(RANKS)


def test_no_import_runs_up_the_stack(edges):
  assert upward_imports(edges) == []


def test_no_import_cycle(edges):
  assert cycles(edges) == []


def test_the_model_imports_nothing_that_knows_the_gpus(edges):
  """model/ holds GLO only: nothing it imports, directly or not, is deploy/ or finds GPUs
  (nvidia-smi, TensorFlow's device queries); deploy/ is where that lives."""
  modules = _modules()
  model = [m for m in modules if room(m) == 'model']
  used = reachable(edges, model)
  assert not [m for m in used if room(m) == 'deploy'], sorted(used)
  assert [m for m in used if m != SHARED_IMPORT and knows_gpus(modules[m])] == []
  assert knows_gpus(modules['glo_tf1.deploy.devices'])  # the check sees what it looks for


def test_evaluation_imports_nothing_from_training(edges):
  """Evaluation reads runs through rundir/, never through the trainer's code."""
  assert sorted((a, b) for a, b in edges
                if room(a) == 'evaluation' and room(b) == 'training') == []
  assert any(room(a) == 'evaluation' and room(b) == 'rundir' for a, b in edges)


def test_the_run_directory_format_needs_no_model(edges):
  from_model = {b for a, b in edges if room(a) == 'rundir' and room(b) == 'model'}
  assert from_model <= RUNDIR_FROM_MODEL, sorted(from_model)


def test_the_checks_catch_what_they_look_for():
  up = [('glo_tf1.model.towers', 'glo_tf1.evaluation.generation'),
        ('glo_tf1.data.cache', 'glo_tf1.rundir.checkpoints'),
        ('glo_tf1.training.loop', 'glo_tf1.data.files'),
        ('glo_tf1.model.towers', 'glo_tf1.deploy.devices'),
        ('glo_tf1', 'glo_tf1.evaluation.trained'), ('glo_tf1', 'glo_tf1.evaluation.report')]
  assert upward_imports(up) == sorted(up[:2] + up[3:4] + up[5:])
  loop = [('glo_tf1.data.cache', 'glo_tf1.data.pipelines'),
          ('glo_tf1.data.pipelines', 'glo_tf1.data.cache'), ('glo_tf1.io', 'glo_tf1.settings')]
  assert cycles(loop) == [['glo_tf1.data.cache', 'glo_tf1.data.pipelines',
                           'glo_tf1.data.cache']]


def _write(root, files):
  for rel, text in files.items():
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
      f.write(text)


def test_a_cycle_through_a_package_init_is_found(tmp_path):
  """The cycle this package once had (glo_tf1/__init__ -> evaluation.trained ->
  training.run_dir -> `from glo_tf1 import __version__`), in a package of its own: the
  name taken from the package is an import of its __init__.py, even on a line that also
  names a submodule; a submodule taken from the package is not."""
  _write(str(tmp_path), {
      'pkg/__init__.py': 'VERSION = 1\n\ndef load():\n  from pkg.api import front\n',
      'pkg/api/__init__.py': '', 'pkg/api/front.py': 'from pkg.low import rundir\n',
      'pkg/low/__init__.py': '', 'pkg/io.py': '',
      'pkg/low/rundir.py': 'from pkg import io, VERSION\n'})
  modules = modules_under(str(tmp_path), 'pkg')
  assert cycles(import_edges(modules)) == [
      ['pkg', 'pkg.api.front', 'pkg.low.rundir', 'pkg']]
  _write(str(tmp_path), {'pkg/low/rundir.py': 'from pkg import io\nfrom . import io\n'})
  assert ('pkg.low.rundir', 'pkg.io') in import_edges(modules)
  assert cycles(import_edges(modules)) == []
  _write(str(tmp_path), {'pkg/low/rundir.py': 'from .. import VERSION\n'})  # relative
  assert cycles(import_edges(modules)) == [
      ['pkg', 'pkg.api.front', 'pkg.low.rundir', 'pkg']]


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
