"""CITATION.cff (Citation File Format 1.2.0) cites glo-tf1 at pyproject.toml's version,
with references to the GLO paper and to the blog post (title and date as
docs/reference/notebook-facts.md gives them). The venv has no YAML parser, so the file is
read by a small reader of the YAML subset it uses (block mappings and lists, plain, quoted
and folded scalars); where PyYAML is importable the two readings must agree."""
import os
import re
import tomllib

import pytest

from conftest import ROOT

CFF = os.path.join(ROOT, 'CITATION.cff')
# CFF 1.2.0's reference types (schema.json, definitions.reference.type).
REFERENCE_TYPES = {
    'art', 'article', 'audiovisual', 'bill', 'blog', 'book', 'catalogue', 'conference-paper',
    'conference', 'data', 'database', 'dictionary', 'edited-work', 'encyclopedia',
    'film-broadcast', 'generic', 'government-document', 'grant', 'hearing',
    'historical-work', 'legal-case', 'legal-rule', 'magazine-article', 'manual', 'map',
    'multimedia', 'music', 'newspaper-article', 'pamphlet', 'patent',
    'personal-communication', 'proceedings', 'report', 'serial', 'slides', 'software-code',
    'software-container', 'software-executable', 'software-virtual-machine', 'software',
    'sound-recording', 'standard', 'statute', 'thesis', 'unpublished', 'video', 'website'}


def _scalar(text):
  text = text.strip()
  if len(text) >= 2 and text[0] == text[-1] and text[0] in '"\'':
    return text[1:-1]
  return text


def _parse(lines, indent=0):
  """Reads the block starting at lines[0] (at `indent`): a mapping or a list. Returns
  (value, lines left). Scalars stay strings."""
  lines = list(lines)
  if lines and lines[0].startswith(' ' * indent + '- '):
    items = []
    while lines and lines[0].startswith(' ' * indent + '- '):
      rest = lines[0][indent + 2:]
      if not re.match(r'[A-Za-z][\w-]*:( |$)', rest):  # a scalar item
        items.append(_scalar(rest))
        lines = lines[1:]
        continue
      # A mapping item: indented by indent + 2, its first line carrying the dash.
      item, lines = _parse([' ' * (indent + 2) + rest] + lines[1:], indent + 2)
      items.append(item)
    return items, lines
  mapping = {}
  while lines:
    line = lines[0]
    body = line[indent:]
    if len(line) - len(line.lstrip(' ')) != indent or body.startswith('- '):
      break
    match = re.match(r'([A-Za-z][\w-]*):(?: (.*))?$', body)
    assert match, 'not a "key: value" line: %r' % line
    key, value = match.group(1), (match.group(2) or '').strip()
    assert key not in mapping, 'key %r twice' % key
    lines = lines[1:]
    if value in ('>-', '>', '|', '|-'):
      folded = []
      while lines and lines[0].startswith(' ' * (indent + 1)):
        folded.append(lines.pop(0).strip())
      mapping[key] = ' '.join(folded)
    elif value:
      mapping[key] = _scalar(value)
    else:
      mapping[key], lines = _parse(lines, len(lines[0]) - len(lines[0].lstrip(' ')))
  return mapping, lines


def _read_cff():
  with open(CFF, encoding='utf-8') as f:
    text = f.read()
  assert '\t' not in text  # YAML forbids tabs in indentation
  lines = [l.rstrip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith('#')]
  doc, rest = _parse(lines)
  assert not rest, rest[:3]
  return text, doc


def _pyproject_version():
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    return tomllib.load(f)['project']['version']


def test_the_subset_reader_reads_nesting_and_refuses_a_bad_line():
  doc, _ = _parse(['a: "1.0"', 'b:', '  - c: x', '    d:', '      - e: y', '  - c: z',
                   'f: >-', '  one', '  two', 'g:', '  - h', "  - 'i: j'"])
  assert doc == {'a': '1.0', 'b': [{'c': 'x', 'd': [{'e': 'y'}]}, {'c': 'z'}],
                 'f': 'one two', 'g': ['h', 'i: j']}
  with pytest.raises(AssertionError, match='not a "key: value" line'):
    _parse(['a: 1', 'oops'])


def test_citation_cff_cites_this_version_the_paper_and_the_post():
  text, doc = _read_cff()
  for key in ('cff-version', 'message', 'title', 'authors', 'version', 'references'):
    assert key in doc, key
  assert doc['cff-version'] == '1.2.0' and doc['type'] == 'software'
  assert doc['version'] == _pyproject_version()
  assert doc['authors'] and all(a.get('name') or a.get('family-names') for a in doc['authors'])
  refs = doc['references']
  for ref in refs:
    assert ref['type'] in REFERENCE_TYPES and ref['title'] and ref['authors'], ref
  (paper,) = [r for r in refs if r['title'] == 'Optimizing the Latent Space of Generative Networks']
  assert [a['family-names'] for a in paper['authors']] == [
      'Bojanowski', 'Joulin', 'Lopez-Paz', 'Szlam']
  assert paper['year'] == '2018' and 'ICML 2018' in paper['conference']['name']
  assert '1707.05776' in paper['url'] and paper['doi'] == '10.48550/arXiv.1707.05776'
  # The post's title and date as the notebook facts give them.
  with open(os.path.join(ROOT, 'docs', 'reference', 'notebook-facts.md')) as f:
    title, date = re.search(r'The blog post "([^"]+)" \((\d{4}-\d\d-\d\d)\)', f.read()).groups()
  (post,) = [r for r in refs if r['type'] == 'blog']
  assert post['title'] == title and post['date-published'] == date
  try:
    import yaml  # pylint: disable=import-outside-toplevel
  except ImportError:
    return
  parsed = yaml.safe_load(text)  # YAML's own reading: the same, but for typed scalars
  assert parsed['version'] == doc['version'] and parsed['cff-version'] == '1.2.0'
  assert [r['title'] for r in parsed['references']] == [r['title'] for r in refs]
  (parsed_post,) = [r for r in parsed['references'] if r['type'] == 'blog']
  assert str(parsed_post['date-published']) == date


def test_readme_points_to_citation_cff():
  with open(os.path.join(ROOT, 'README.md')) as f:
    assert '[CITATION.cff](CITATION.cff)' in f.read()
