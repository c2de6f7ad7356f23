"""The report's format across versions: the demo report committed before the sections were
derived (format 1, kept as tests/fixtures/evaluation_format1.*) and the committed one
render to their markdown byte for byte; the old one joins a glo-compare table; the new
metrics are glo-compare columns with their units."""
import copy
import json
import os

from glo_tf1 import io as glo_io
from glo_tf1.evaluation import compare
from glo_tf1.evaluation import compare_render
from glo_tf1.evaluation import compare_reports
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'figures', 'demo')
# figures/demo's report as glo-evaluate wrote it before format 2 (commit da5b595^).
FORMAT1 = os.path.join(ROOT, 'tests', 'fixtures', 'evaluation_format1')


def _demo():
  with open(FORMAT1 + '.json') as f:
    return json.load(f)


def test_the_derived_sections_render_the_committed_report_unchanged():
  for stem in (FORMAT1, os.path.join(DEMO, 'evaluation')):
    with open(stem + '.json') as f:
      written = json.load(f)
    with open(stem + '.md') as f:
      assert report.markdown(written) == f.read(), stem


def test_an_old_format_report_is_read_with_steps_an_integer_or_null(tmp_path):
  old = _demo()
  assert 'format_version' not in old and old['sections']['train_learned']['steps'] == 'trained'
  path = str(tmp_path / 'evaluation.json')
  glo_io.write_json(path, old)
  loaded = compare_reports.load_report(path)
  assert loaded['format_version'] == report.FORMAT_VERSION == 2
  steps = {n: s.get('steps') for n, s in loaded['sections'].items()}
  assert steps['train_learned'] is None and steps['fid_reconstructions'] is None
  assert steps['train'] == 1000
  table = compare.build_table([path])
  assert ('fid_samples_unit', 'fid_train') in table['columns']
  assert '| `demo` | 3000 | 1 | 35.69 |' in compare_render.render(table, 'markdown')


def test_kid_precision_recall_and_memorisation_are_glo_compare_columns(tmp_path):
  paths = []
  for seed, kid in ((0, 0.0123), (1, 0.0141)):
    r = copy.deepcopy(_demo())
    r['config']['seed'] = seed
    r['format_version'] = 2
    s = r['sections']['fid_samples_full']
    s.update(kid_train=kid, kid_train_std=0.001, precision=0.5 + seed / 10, recall=0.25,
             memorised_p5=0.05, memorised_median=0.5)
    paths.append(str(tmp_path / ('s%d' % seed) / 'evaluation.json'))
    os.makedirs(os.path.dirname(paths[-1]))
    glo_io.write_json(paths[-1], r)
  keys = ['kid_train', 'precision', 'recall', 'memorised_p5']
  table = compare.build_table(paths, metrics=keys)
  assert table['columns'] == [('fid_samples_full', k) for k in keys]
  text = compare_render.render(table, 'markdown')
  assert '0.0132 ± 0.0013' in text and '0.550 ± 0.071' in text
  for key in ('kid_train', 'precision', 'memorised_p5'):
    assert metrics.column(key).unit in text  # each declared unit, said once under the table
  assert 'VGG-16' in text
  assert compare_render.header(('fid_samples_full', 'kid_train')) == ('samples full cov.', 'KID')
