"""docs/post.md walks the blog post in its order and names the code behind each snippet:
every `path::name` it gives must be a file of the repository defining that function or
class (read with ast, so nothing is imported), and its sections must keep the post's
order (issue 29)."""
import ast
import os
import re

from conftest import ROOT

POST_DOC = os.path.join(ROOT, 'docs', 'post.md')
# The post's own order: its implementation snippets, then its figures.
SECTIONS = ['Input pipeline', '`project`', 'Decoder', 'Loss', 'Codes variable', 'Towers',
            'Optimizer', 'MonitoredTrainingSession', 'Figures']
FIGURES = ['Reconstructions', 'Samples', 'Interpolation', 'Nearest neighbours']
REFERENCE = re.compile(r'`([\w/]+\.py)::([\w.]+)`')


def _text():
  with open(POST_DOC) as f:
    return f.read()


def _definitions(path):
  """Dotted names of every class and function a module defines (Class.method too)."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  names = set()

  def visit(node, prefix):
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(prefix + child.name)
        visit(child, prefix + child.name + '.')
  visit(tree, '')
  return names


def test_every_named_function_exists():
  refs = REFERENCE.findall(_text())
  assert len(refs) >= len(SECTIONS) + len(FIGURES), refs
  missing = []
  for path, name in refs:
    full = os.path.join(ROOT, path)
    if not os.path.isfile(full):
      missing.append('%s (no such file)' % path)
    elif name not in _definitions(full):
      missing.append('%s::%s (not defined there)' % (path, name))
  assert not missing, 'docs/post.md names code that does not exist: %s' % missing


def test_the_reference_check_catches_a_missing_name():
  defined = _definitions(os.path.join(ROOT, 'glo_tf1', 'training', 'distribute.py'))
  assert 'Local.session' in defined and 'Local' in defined
  assert 'Local.no_such_method' not in defined
  assert 'session' not in defined  # a method is only found under its class


def test_sections_follow_the_post():
  text = _text()
  assert re.findall(r'^## (.+)$', text, re.M) == SECTIONS
  figures = text.split('\n## Figures\n', 1)[1]
  assert re.findall(r'^### (.+)$', figures, re.M) == FIGURES


def test_every_section_quotes_or_names_code():
  parts = re.split(r'^## .+$', _text(), flags=re.M)[1:]
  for title, body in zip(SECTIONS, parts):
    assert REFERENCE.search(body), '%s names no function' % title
    if title != 'Figures':
      assert '```python' in body, '%s quotes no snippet of the post' % title


def test_post_doc_is_linked_from_the_readme_first_screen():
  with open(os.path.join(ROOT, 'README.md')) as f:
    first_screen = f.read().split('\n## ', 1)[0]
  assert '(docs/post.md)' in first_screen
