r"""glo-compare's LaTeX, compiled for real: every table the compare tests make (the same
inputs, rendered again) and the committed figures/*/table.tex, each \input into a plain
single-column `article` with the preamble docs/evaluation.md shows, by `pdflatex`; an
error or an `Overfull \hbox` in the log fails. Without pdflatex the compiling tests skip,
saying why, except in CI (CI=true), where .ci/run installs TeX Live and a missing pdflatex
fails. Also: the layout's groups and headers, the note naming only what the shown columns
need, --note file and --latex_width."""
import glob
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from conftest import run_main
from glo_tf1 import settings
from glo_tf1.evaluation import compare
from glo_tf1.evaluation import compare_render
from glo_tf1.evaluation import compare_reports
from glo_tf1.evaluation import latex
from test_compare import _report
from test_compare import _write

TEX_PACKAGES = 'texlive-latex-base texlive-latex-recommended texlive-latex-extra'


def _pdflatex():
  found = shutil.which('pdflatex')
  if found:
    return found
  why = ('pdflatex is not installed (apt-get install -y --no-install-recommends %s), so '
         'the LaTeX tables are not compiled' % TEX_PACKAGES)
  if os.environ.get('CI') == 'true':
    pytest.fail('CI=true: ' + why + '; .ci/run installs them')
  pytest.skip(why)


def _preamble():
  """The preamble docs/evaluation.md shows (the \\usepackage lines of its LaTeX example)."""
  with open(os.path.join(ROOT, 'docs', 'evaluation.md')) as f:
    docs = f.read()
  (example,) = re.findall(r'```latex\n(.*?)```', docs, re.S)
  uses = re.findall(r'^\\usepackage.*$', example, re.M)
  assert latex.PREAMBLE in uses, example
  assert r'\input{' in example
  return '\n'.join(uses)


def compile_table(tmp_path, text, note=None, name='t'):
  """Compiles `text` (and a note file) in a plain article; returns the log. Fails on an
  error or an overfull box."""
  pdflatex = _pdflatex()
  folder = tmp_path / ('tex-' + name)
  folder.mkdir()
  (folder / 'table.tex').write_text(text)
  caption = ''
  if note is not None:
    (folder / 'table.note.tex').write_text(note)
    caption = r'\caption[Results]{Results. \input{table.note}}'
  (folder / 'doc.tex').write_text('\n'.join([
      r'\documentclass{article}', _preamble(), r'\begin{document}',
      r'Text before the table.', r'\begin{table}[h]', r'\centering', r'\input{table.tex}',
      caption, r'\end{table}', r'\end{document}', '']))
  proc = subprocess.run([pdflatex, '-interaction=nonstopmode', '-halt-on-error', 'doc.tex'],
                        cwd=str(folder), capture_output=True, text=True, timeout=120)
  log = (folder / 'doc.log').read_text(errors='replace')
  errors = [l for l in log.splitlines() if l.startswith('! ')]
  assert proc.returncode == 0 and not errors, (errors, log[-3000:])
  overfull = [l for l in log.splitlines() if 'Overfull \\hbox' in l]
  assert not overfull, (overfull, text)
  assert (folder / 'doc.pdf').exists()
  return log


def check_compiles(tmp_path, text, note=None, name='t'):
  """compile_table for another test's table (seeds.sh's, paper.sh's), without skipping
  that test where pdflatex is missing (this module's tests say so; in CI they fail)."""
  if shutil.which('pdflatex') or os.environ.get('CI') == 'true':
    compile_table(tmp_path, text, note, name)


def _fid_report(seed, psnr):
  """A report with FID sections too (glo-evaluate's default): the widest default table."""
  report = _report(seed, psnr)
  report['sections']['pca_heldout'] = {'num_images': 20, 'psnr_db': 22.0, 'mse_pm1': 0.02}
  for values in report['sections'].values():
    values['mse_01'] = 10 ** (-values['psnr_db'] / 10)
  for i, name in enumerate(['fid_samples_unit', 'fid_samples_fitted', 'fid_samples_full',
                            'fid_reconstructions', 'fid_pca_reconstructions',
                            'fid_heldout_reconstructions', 'fid_pca_heldout_reconstructions',
                            'fid_heldout_images']):
    report['sections'][name] = {'num_images': 64, 'fid_train': 100. + 10 * i + seed,
                                'fid_heldout': 120. + 10 * i - seed}
  report['fid'] = {'method': 'tf1-inception', 'references': {
      'train': {'num_images': 64}, 'heldout': {'num_images': 20}}}
  return report


def _tables(tmp_path):
  """{name: table} of the inputs the compare tests tabulate, and wider ones."""
  psnr = {('a', 0): 35.0, ('a', 1): 35.5, ('a', 2): 34.2, ('b', 0): 30.1, ('b', 1): 30.9}
  runs = tmp_path / 'runs'
  for (kind, seed), value in psnr.items():
    _write(runs, '%s-%d' % (kind, seed), _report(seed, value, 32 if kind == 'a' else 16))
  vae = tmp_path / 'vae.json'
  vae.write_text(json.dumps(compare_reports.EXTERNAL_EXAMPLE))
  fid = tmp_path / 'fid'
  for seed in range(3):
    _write(fid, 's-%d' % seed, _fid_report(seed, 34. + seed))
  odd = tmp_path / 'odd'
  _write(odd, 'x', _report(0, 33.0))
  long_name = tmp_path / 'long'
  _write(long_name, 'x', _report(0, 33.0, latent_dims=8))
  return {
      'seeds': compare.build_table([str(runs)]),
      'with_other_method': compare.build_table(
          [str(runs), str(vae)], labels={str(runs / 'a-1'): 'GLO (ours)'}),
      'other_method_only': compare.build_table([str(vae)]),
      'escaped_label': compare.build_table([str(odd)], labels={str(odd / 'x'): 'a<b>|c & 5%'}),
      'fid_default_sections': compare.build_table([str(fid), str(vae)]),
      'fid_both_metrics': compare.build_table(
          [str(fid)], metrics=['mse_01', 'psnr_db', 'fid_train', 'fid_heldout']),
      # reproduce/paper.sh's table: its metrics and row label.
      'paper': compare.build_table(
          [str(fid / 's-0')], metrics=['mse_01', 'psnr_db', 'fid_heldout'],
          labels={str(fid / 's-0'): 'GLO (mnist)'}),
      'long_row_names': compare.build_table(
          [str(runs), str(long_name)], labels={str(long_name / 'x'): 'demo --image_size=16 '
                                               '--latent_dims=8 --decoder_filters=16,8 '
                                               '--batch_size=8 --num_steps=20'}),
  }


@pytest.fixture(scope='module')
def tables(tmp_path_factory):
  return _tables(tmp_path_factory.mktemp('latex-tables'))


def _note(table):
  return latex.note_text(table, compare_reports.CHECK_ONLY)


def _layout(table, width=None):
  return compare_render.latex_parts(table, width, 'off')[0]


WIDTHS = [None, r'\textwidth', r'0.8\linewidth']


@pytest.mark.parametrize('name', ['seeds', 'with_other_method', 'other_method_only',
                                  'escaped_label', 'fid_default_sections', 'fid_both_metrics',
                                  'paper', 'long_row_names'])
def test_every_table_compiles_without_an_overfull_box(tables, tmp_path, name):
  """Each note mode and width; a wide selection (14 columns) breaks into blocks that fit."""
  table = tables[name]
  for i, width in enumerate(WIDTHS):
    for note in latex.NOTE_MODES:
      text, note_text = compare_render.latex_parts(table, width, note)
      assert text == compare_render.render(table, 'latex', width, note) if note != 'file' else True
      compile_table(tmp_path, text, note_text, name='%d-%s' % (i, note))


def test_the_committed_tables_compile_and_are_what_glo_compare_makes(tmp_path):
  found = sorted(glob.glob(os.path.join(ROOT, 'figures', '*', 'table.tex')))
  assert found
  for path in found:
    with open(path) as f:
      text = f.read()
    folder = os.path.dirname(path)
    # seeds.sh remakes it from the committed reports: the same text.
    assert text == compare_render.render(compare.build_table([folder]), 'latex'), path
    compile_table(tmp_path, text, name=os.path.basename(folder))


def test_columns_are_grouped_by_metric_and_image_set_with_the_unit_on_top(tables):
  """Three header rows: the metric with its unit over all its columns, the image set over
  its reconstructors (\cmidrule under each), short reconstructor names."""
  lines = _layout(tables['seeds']).splitlines()
  start = lines.index(r'\toprule')
  assert lines[start + 1:start + 6] == [
      r' &  & \multicolumn{4}{c}{PSNR (dB)} \\', r'\cmidrule(lr){3-6}',
      r' &  & \multicolumn{3}{c}{train} & held-{}out \\',
      r'\cmidrule(lr){3-5} \cmidrule(lr){6-6}', r'run & seeds & GLO & re-{}opt. & PCA & GLO \\']
  # FID's columns stay together under one FID header even when the report interleaves
  # metrics section by section.
  text = _layout(tables['fid_both_metrics'])
  tops = re.findall(r'\\multicolumn\{(\d+)\}\{c\}\{(FID[^}]*)\}', text)
  assert tops and all(int(span) > 1 for span, _ in tops)


def test_step_and_seeds_columns_only_where_rows_differ(tables):
  """Two rows of 3 and 2 seeds at one step: a seeds column, no step column (the note has
  the step)."""
  text = _layout(tables['seeds'])
  assert r'run & seeds & GLO' in text and 'step &' not in text
  rows = [l for l in text.splitlines() if l.startswith('demo')]
  assert rows[0].startswith(r'demo & 3 & 34.90\,{\scriptsize$\pm$0.66} & ') and rows[1].startswith(
      r'demo -{}-{}latent\_dims=16 & 2 & ')
  note = _note(tables['seeds'])
  assert 'Checkpoint step 3000.' in note and 'their number in the seeds column' in note


def test_the_note_names_only_what_the_shown_columns_need(tables):
  fid_note = _note(tables['fid_default_sections'])
  assert 'FID training reference images 64' in fid_note and 'PCA fit images 180' in fid_note
  table = dict(tables['fid_default_sections'],
               columns=[('train_learned', 'psnr_db'), ('heldout', 'psnr_db')])
  note = _note(table)
  assert 'FID' not in note and 'PCA' not in note and 'held-out images 20' in note
  only_train = dict(table, columns=[('train_learned', 'psnr_db')])
  assert 'held-out images' not in _note(only_train)
  assert 'code steps' not in _note(only_train)  # no fitted codes shown
  # FID against the held-out images only: their reference count, not the training one's.
  paper = _note(tables['paper'])
  assert 'FID held-out reference images 20' in paper and 'FID training reference' not in paper
  assert 'One seed: each cell is its value.' in paper and '1 seeds' not in paper
  assert 'N(0,I): samples of codes drawn from N(0, I)' in paper


def test_the_markdown_note_names_only_what_the_shown_columns_need(tmp_path):
  """glo-compare's markdown note picks its protocol fields as the LaTeX note does (issue
  30): a selection without FID or PCA columns has no FID reference counts, FID method or
  PCA fit; with them, it has. Another method's own fields likewise."""
  for seed in range(2):
    _write(tmp_path / 'fid', 's-%d' % seed, _fid_report(seed, 34. + seed))
  fid = str(tmp_path / 'fid')
  def note(table):
    text = compare_render.markdown(table).split('\n\n')[-1]
    # The same protocol fields as the LaTeX note of the same selection.
    stated = lambda t: re.search(r'Evaluation protocol: (.*?)\.', t).group(1)
    assert stated(text) == stated(_note(table)), (text, _note(table))
    return text
  full = note(compare.build_table([fid]))
  for want in ('FID training reference images 64', 'FID method tf1-inception',
               'PCA fit images 180', 'code steps 1000'):
    assert want in full, full
  plain = note(compare.build_table([fid], sections=['train_learned', 'heldout']))
  assert 'FID' not in plain and 'PCA' not in plain, plain
  assert 'training images 32' in plain and 'held-out images 20' in plain
  # The held-out reference only where a column is against it.
  held = note(compare.build_table([fid], metrics=['fid_heldout'],
                                  sections=['fid_heldout_images']))
  assert 'FID held-out reference images 20' in held and 'FID training reference' not in held
  assert 'PCA' not in held and 'code steps' not in held
  # Another method alone: the fields its report states, those its shown columns need.
  vae = tmp_path / 'vae.json'
  example = compare_reports.EXTERNAL_EXAMPLE
  vae.write_text(json.dumps(dict(example, protocol={
      'held-out images': 20, 'FID method': 'eigh', 'PCA fit images': 180})))
  alone = compare_render.markdown(compare.build_table([str(vae)]))
  assert 'it states held-out images 20.' in alone and 'FID' not in alone, alone
  assert 'PCA' not in alone
  vae.write_text(json.dumps(dict(example, protocol={
      'held-out images': 20, 'FID method': 'eigh', 'PCA fit images': 180}, sections=dict(
          example['sections'], fid_samples_full={'fid_train': [50., 51., 52.]}))))
  alone = compare_render.markdown(compare.build_table([str(vae)]))
  assert 'it states held-out images 20, FID method eigh.' in alone, alone
  assert 'PCA' not in alone


def test_a_wide_selection_breaks_into_blocks_of_one_tabular(tables):
  text = _layout(tables['fid_both_metrics'])
  assert text.count(r'\toprule') == 1 and text.count(r'\bottomrule') == 1
  assert text.count(r'run & ') > 1  # each block under its own headers
  spec = re.search(r'\\begin\{tabular\}\{([lrp{}0-9t]+)\}', text).group(1)
  for line in text.splitlines():
    if line.endswith(r'\\'):
      spans = sum(int(n) - 1 for n in re.findall(r'\\multicolumn\{(\d+)\}', line))
      assert len(re.findall(r'(?<!\\)&', line)) + spans == len(re.findall('[lrp]', spec)) - 1
  # Every column's cells are there, once per row, across the blocks.
  for col in tables['fid_both_metrics']['columns']:
    value = tables['fid_both_metrics']['rows'][0]['values'][col]
    mean, _, std = compare_render.cell(value, col[1]).partition(' ± ')
    want = r'%s\,{\scriptsize$\pm$%s}' % (mean, std) if std else mean + ' '
    assert want in text


def test_latex_width_is_a_tabular_star_and_bad_widths_are_refused(tables):
  text = _layout(tables['seeds'], r'\textwidth')
  assert r'\begin{tabular*}{\textwidth}{@{\extracolsep{\fill}}' in text
  assert text.rstrip().endswith(r'\end{tabular*}')
  assert latex.parse_width('12cm') == ('12cm', pytest.approx(12 * 72.27 / 2.54))
  for bad in ['wide', r'\paperheight', 'cm', '12']:
    with pytest.raises(settings.ConfigError, match='--latex_width'):
      latex.parse_width(bad)


@pytest.mark.e2e
def test_cli_writes_the_note_file_and_refuses_latex_flags_elsewhere(tmp_path):
  folder = os.path.join(ROOT, 'figures', 'demo_seeds')
  out = tmp_path / 'table.tex'
  run_main('glo_tf1.cli.compare', folder, '--format', 'latex', '--note', 'file',
           '--latex_width', r'\linewidth', '--out', str(out))
  text, note = out.read_text(), (tmp_path / 'table.note.tex').read_text()
  assert 'Evaluation' not in text and note.startswith('Evaluation protocol: code steps 1000')
  assert r'\begin{tabular*}{\linewidth}' in text
  compile_table(tmp_path, text, note)
  proc = run_main('glo_tf1.cli.compare', folder, '--note', 'off', check=False)
  assert proc.returncode == 2 and 'for --format latex' in proc.stderr
  proc = run_main('glo_tf1.cli.compare', folder, '--format', 'latex', '--note', 'file',
                  check=False)
  assert proc.returncode == 2 and '--out NAME.tex' in proc.stderr
  proc = run_main('glo_tf1.cli.compare', folder, '--format', 'latex', '--latex_width', 'x',
                  check=False)
  assert proc.returncode == 2 and "--latex_width: got 'x'" in proc.stderr


def test_without_pdflatex_it_skips_saying_why_but_fails_in_ci(monkeypatch):
  monkeypatch.setattr(shutil, 'which', lambda name: None)
  monkeypatch.delenv('CI', raising=False)
  with pytest.raises(pytest.skip.Exception, match='pdflatex is not installed'):
    _pdflatex()
  monkeypatch.setenv('CI', 'true')
  with pytest.raises(pytest.fail.Exception, match='CI=true: pdflatex is not installed'):
    _pdflatex()
  # .ci/run installs the packages when pdflatex is missing, then runs the README's tests.
  with open(os.path.join(ROOT, '.ci', 'run')) as f:
    script = f.read()
  assert 'command -v pdflatex' in script and 'apt-get update' in script
  assert ' '.join(script.split('install -y --no-install-recommends')[1].split()[:4]
                  ).replace('\\', '').split() == TEX_PACKAGES.split()
  assert script.rstrip().endswith('exec bash tests/run.sh')


def test_notes_state_the_references_of_kid_precision_recall_and_memorisation():
  """KID, precision/recall and memorisation are measured against FID's references, so
  their columns keep the references' counts and protocol; only FID's own matrix-root
  method goes without a FID column."""
  proto = {'FID training reference images': 64, 'FID held-out reference images': 20,
           'FID method': 'eigh', 'FID protocol': 'ours', 'training images': 32}
  def kept(*metrics):
    table = {'columns': [('fid_samples_full', m) for m in metrics], 'protocol': proto}
    return set(latex.protocol(table))
  assert kept('kid_train') == {'FID training reference images', 'FID protocol'}
  assert kept('kid_heldout') == {'FID held-out reference images', 'FID protocol'}
  assert kept('precision', 'recall') == {'FID training reference images', 'FID protocol'}
  assert kept('memorised_p5') == {'FID training reference images',
                                  'FID held-out reference images', 'FID protocol'}
  assert kept('fid_train') == {'FID training reference images', 'FID method', 'FID protocol'}
  assert kept('mse_pm1') == set()
