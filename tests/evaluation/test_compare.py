"""glo-compare: seeds grouped into mean ± sample std (against the statistics module), rows
named by preset and flags, mixed protocols refused naming the difference, the LaTeX
tabular's structure, the CSV, and reproduce/seeds.sh end to end on the embedded faces."""
import csv
import fcntl
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time

import pytest

from conftest import ROOT
from conftest import run_main
from conftest import TINY
from glo_tf1 import io as glo_io
from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.evaluation import compare
from glo_tf1.evaluation import compare_render
from glo_tf1.evaluation import compare_reports
from glo_tf1.evaluation import latex as latex_lib
from glo_tf1.rundir import config as run_config


def _report(seed, psnr, latent_dims=32, steps=1000, heldout=20, step=3000):
  cfg = settings.resolve('demo', {'seed': seed, 'latent_dims': latent_dims})
  section = lambda n, p: {'num_images': n, 'psnr_db': p, 'mse_pm1': 4 * 10 ** (-p / 10)}
  return {'config': cfg, 'seed': 0, 'step': step,
          'protocol': {'steps': steps, 'batch_size': 32},
          'pca': {'fit_images': 180, 'components': latent_dims},
          'sections': {'train_learned': section(32, psnr), 'train': section(32, psnr - 1),
                       'pca_train': section(32, 24.0), 'heldout': section(heldout, 20.0)}}


def _write(folder, name, report):
  path = os.path.join(str(folder), name, 'eval', 'evaluation.json')
  os.makedirs(os.path.dirname(path))
  glo_io.write_json(path, report)
  return path


@pytest.fixture
def runs(tmp_path):
  """Three seeds of the demo and two of the demo with 16 dims, as run directories."""
  psnr = {('a', 0): 35.0, ('a', 1): 35.5, ('a', 2): 34.2, ('b', 0): 30.1, ('b', 1): 30.9}
  for (kind, seed), value in psnr.items():
    _write(tmp_path, '%s-%d' % (kind, seed),
           _report(seed, value, latent_dims=32 if kind == 'a' else 16))
  return tmp_path, psnr


def test_seeds_are_grouped_with_mean_and_sample_std(runs):
  folder, psnr = runs
  table = compare.build_table([str(folder)])
  assert [r['label'] for r in table['rows']] == ['demo', 'demo --latent_dims=16']
  a, b = table['rows']
  assert a['seeds'] == [0, 1, 2] and b['seeds'] == [0, 1] and a['step'] == 3000
  want_a = [psnr[('a', s)] for s in range(3)]
  assert a['values'][('train_learned', 'psnr_db')] == want_a
  md = compare_render.markdown(table)
  cell = '%.2f ± %.2f' % (statistics.mean(want_a), statistics.stdev(want_a))
  assert '| `demo` | 3000 | 3 | %s |' % cell in md
  want_b = [psnr[('b', s)] for s in range(2)]
  assert '%.2f ± %.2f' % (statistics.mean(want_b), statistics.stdev(want_b)) in md
  assert 'code steps 1000' in md and 'held-out images 20' in md and 'PCA fit images 180' in md
  # Columns: PSNR of every section all reports have, in the report's order.
  assert [c[0] for c in table['columns']] == ['train_learned', 'train', 'pca_train', 'heldout']


def test_one_seed_has_no_spread_and_reports_of_one_seed_twice_are_refused(tmp_path):
  one = _write(tmp_path, 'x', _report(0, 33.0))
  assert compare_render.markdown(compare.build_table([one])).count('±') == 1  # the footnote's
  _write(tmp_path, 'y', _report(0, 34.0))
  with pytest.raises(compare.CompareError, match='same settings and seed'):
    compare.build_table([str(tmp_path)])


@pytest.mark.parametrize('change,words', [
    ({'steps': 20}, ('code steps: 1000 in', '20 in')),
    ({'heldout': 10}, ('held-out images: 20 in', '10 in'))])
def test_mixed_protocols_are_refused_naming_the_difference(runs, change, words):
  folder, _ = runs
  odd = _write(folder, 'odd', _report(5, 33.0, **change))
  with pytest.raises(compare.CompareError) as e:
    compare.build_table([str(folder)])
  message = str(e.value)
  assert all(w in message for w in words), message
  assert os.path.join('odd', 'eval', 'evaluation.json') in message and odd.startswith('/')


def _latex_rows(text):
  """The tabular's rows between \\toprule and \\bottomrule, rules left out; and the note."""
  lines = text.strip().splitlines()
  start, end = lines.index(r'\toprule'), lines.index(r'\bottomrule')
  assert lines[end + 1] == r'\end{tabular}'
  return [l for l in lines[start + 1:end] if l != r'\midrule' and not l.startswith(
      r'\cmidrule')], lines[end + 2:]


def test_latex_is_a_booktabs_tabular_with_one_cell_per_column(runs):
  """What a plain article with booktabs compiles (no TeX here: the structure is checked):
  one environment, balanced braces, every row with one cell per column and no unescaped
  special character, two header rows, the note a paragraph after the tabular."""
  folder, _ = runs
  text = compare_render.latex(compare.build_table([str(folder)]))
  lines = text.strip().splitlines()
  (begin,) = [l for l in lines if l.startswith(r'\begin{')]
  spec = re.match(r'\\begin\{tabular\}\{([lrc]+)\}$', begin).group(1)
  assert text.count(r'\end{tabular}') == 1 and r'\hline' not in text
  assert lines.index(r'\toprule') < lines.index(r'\midrule') < lines.index(r'\bottomrule')
  rows, note = _latex_rows(text)
  unescaped = re.compile(r'(?<!\\)[&%#_$^~]')
  for line in rows:
    assert line.endswith(r'\\'), line
    # A \multicolumn{n} header spans n cells.
    spans = sum(int(n) - 1 for n in re.findall(r'\\multicolumn\{(\d+)\}', line))
    assert len(re.findall(r'(?<!\\)&', line)) + spans == len(spec) - 1, line
    assert not unescaped.findall(re.sub(r'(?<!\\)&|\$\\pm\$', '', line)), line
  assert len(re.findall(r'(?<!\\)\{', text)) == len(re.findall(r'(?<!\\)\}', text))
  # Three header rows: the metric with its unit, the image set (\cmidrule under each), the
  # reconstructor (evaluation/latex.py); then the rows, the seeds column as they differ.
  head_metrics, head_sets, head_names = rows[0], rows[1], rows[2]
  assert 'PSNR (dB)' in head_metrics and '{train}' in head_sets and 'held-{}out' in head_sets
  assert head_names.startswith('run & seeds & GLO & re-{}opt. & PCA')
  assert r'\cmidrule(lr){3-5}' in text
  assert rows[3].startswith('demo & 3 & ')
  assert rows[4].startswith(r'demo -{}-{}latent\_dims=16 & 2 & ') and r'$\pm$' in rows[4]
  assert '\\texttt' not in text and '`' not in text
  # The protocol note: one paragraph after the table, which TeX breaks into lines.
  assert note[0] == '' and note[1].startswith(r'\smallskip\noindent{\footnotesize Evaluation')
  assert note[1].endswith(r'\par}') and 'code steps 1000' in note[1]
  # PCA's 24.0 on every seed: its mean alone, never "± 0.00".
  assert '24.00 &' in rows[3] and r'$\pm$0.00' not in text and r'$\pm$ 0.00' not in text


def test_an_other_methods_report_is_a_labelled_row_in_every_format(runs, tmp_path):
  """The documented example report beside the demo's seeds: its row in markdown, LaTeX and
  CSV with its mean ± std, dashes where it reports nothing, --label naming rows."""
  import statistics  # pylint: disable=import-outside-toplevel
  folder, _ = runs
  with open(os.path.join(ROOT, 'docs', 'evaluation.md')) as f:
    docs = f.read()
  (example,) = re.findall(r'```json\n(.*?)```', docs, re.S)
  (quoted,) = re.findall(r'Its row reads `([^`]*)`', docs)
  assert json.loads(example) == compare_reports.EXTERNAL_EXAMPLE  # the docs show the tested one
  vae = tmp_path / 'vae.json'
  vae.write_text(example)
  table = compare.build_table([str(folder), str(vae)],
                              labels={str(folder / 'a-1'): 'GLO (ours)'})
  labels = [r['label'] for r in table['rows']]
  assert labels == ['GLO (ours)', 'demo --latent_dims=16', 'VAE (our run)']
  heldout = compare_reports.EXTERNAL_EXAMPLE['sections']['heldout']['psnr_db']
  cell = '%.2f ± %.2f' % (statistics.mean(heldout), statistics.stdev(heldout))
  md = compare_render.markdown(table)
  (row,) = [l for l in md.splitlines() if l.startswith('| VAE')]
  assert row.split(' | ')[1:3] == ['–', '3'] and cell in row and '| %s |' % quoted == row
  assert row.count('–') == 1 + 2  # the step; train_learned and pca_train not reported
  assert '| GLO (ours) | 3000 | 3 |' in md and 'VAE (our run): numbers from its own' in md
  rows, _ = _latex_rows(compare_render.latex(table))
  tex = [l for l in rows if l.startswith('VAE')]  # a row in each block of columns
  assert tex[0].startswith('VAE (our run) & -- & 3 & -- & ')
  assert cell.replace(' ± ', r'\,{\scriptsize$\pm$') + '}' in ' '.join(tex)
  got = list(csv.DictReader(io.StringIO(compare_render.csv_text(table))))[-1]
  assert got['run'] == 'VAE (our run)' and got['step'] == '' and got['seeds'] == '0 1 2'
  assert float(got['heldout.psnr_db.std']) == pytest.approx(statistics.stdev(heldout))
  assert got['train_learned.psnr_db.mean'] == '' and 'held-out images=20' in got['protocol']


@pytest.mark.parametrize('change,message', [
    ({'protocol': {'held-out images': 500}}, r"held-out images in .*vae.json: 500 -> 20"),
    ({'sections': {'heldot': {'psnr_db': 20.0}}}, r"unknown section 'heldot'; sections are "
                                                  r"train_learned, train"),
    ({'sections': {'heldout': {'psnr': 20.0}}}, r"unknown metric 'psnr' in 'heldout'"),
    ({'sections': {'heldout': {'psnr_db': [20.0, 'x']}}}, r'finite number'),
    ({'seeds': [0, 1]}, r'2 seeds, but a list of 3 values'),
    ({'sections': {'fid_samples_full': {'fid_train': 40.0}}},
     r'gives fid_samples_full.fid_train, which the glo-evaluate reports do not have'),
    ({'colour': 'red'}, r"unknown field\(s\) colour"),
    ({'method': 'VAE\n| x |'}, r'"method" must be a non-empty string of printable'),
    ({'source': 'a\tb'}, r'"source" must be'),
    ({'step': True}, r'"step" must be a non-negative integer'),
    ({'step': -3}, r'"step" must be a non-negative integer'),
    ({'seeds': [0, 0, 1]}, r'"seeds" must be a non-empty list of distinct'),
    ({'sections': {'heldout': {'psnr_db': [1e308, 1e308, 1e308]}}},
     r'heldout.psnr_db: .* is beyond any such metric'),
    ({'protocol': {'held-out images': [20]}}, r"protocol field 'held-out images' must be"),
])
def test_a_bad_other_methods_report_is_refused_naming_file_and_field(runs, tmp_path, change,
                                                                     message):
  folder, _ = runs
  vae = tmp_path / 'vae.json'
  vae.write_text(json.dumps(dict(compare_reports.EXTERNAL_EXAMPLE, **change)))
  with pytest.raises(compare.CompareError, match=message) as e:
    compare.build_table([str(folder), str(vae)])
  assert 'vae.json' in str(e.value)


def test_labels_must_name_one_row_and_rows_must_differ(runs, tmp_path):
  folder, _ = runs
  with pytest.raises(compare.CompareError, match='no report given is at or under'):
    compare.build_table([str(folder)], labels={str(tmp_path / 'elsewhere'): 'x'})
  with pytest.raises(compare.CompareError, match='make 2 rows'):
    compare.build_table([str(folder)], labels={str(folder): 'x'})
  with pytest.raises(compare.CompareError, match="two rows would be named 'x'"):
    compare.build_table([str(folder)], labels={str(folder / 'a-0'): 'x', str(folder / 'b-0'): 'x'})


def test_csv_has_mean_and_std_columns(runs):
  folder, psnr = runs
  rows = list(csv.DictReader(io.StringIO(
      compare_render.csv_text(compare.build_table([str(folder)])))))
  assert [r['run'] for r in rows] == ['demo', 'demo --latent_dims=16']
  want = [psnr[('a', s)] for s in range(3)]
  assert float(rows[0]['train_learned.psnr_db.mean']) == pytest.approx(statistics.mean(want))
  assert float(rows[0]['train_learned.psnr_db.std']) == pytest.approx(statistics.stdev(want))
  assert rows[0]['num_seeds'] == '3' and 'code steps=1000' in rows[0]['protocol']


def test_missing_paths_and_folders_without_reports_name_them(tmp_path):
  with pytest.raises(compare.CompareError, match='does not exist'):
    compare_reports.find_reports([str(tmp_path / 'nowhere')])
  with pytest.raises(compare.CompareError, match='holds no evaluation.json'):
    compare_reports.find_reports([str(tmp_path)])


@pytest.mark.e2e
def test_cli_writes_each_format_and_exits_2_on_mixed_protocols(runs, tmp_path):
  folder, _ = runs
  for fmt in settings.COMPARE_FORMATS:
    out = str(tmp_path / ('table.' + fmt))
    run_main('glo_tf1.cli.compare', str(folder), '--format', fmt, '--out', out)
    with open(out) as f:
      assert 'demo' in f.read()
  vae = tmp_path / 'vae.json'
  vae.write_text(json.dumps(compare_reports.EXTERNAL_EXAMPLE))
  proc = run_main('glo_tf1.cli.compare', str(folder), str(vae), '--label',
                  '%s=GLO, 32 dims' % (folder / 'a-0'), '--label', '%s=VAE' % vae)
  assert '| GLO, 32 dims | 3000 | 3 |' in proc.stdout and '| VAE | – | 3 |' in proc.stdout
  proc = run_main('glo_tf1.cli.compare', str(folder), '--label', 'nolabel', check=False)
  assert proc.returncode == 2 and '--label: give RUN=NAME' in proc.stderr, proc.stderr
  _write(folder, 'odd', _report(7, 33.0, steps=5))
  proc = run_main('glo_tf1.cli.compare', str(folder), check=False)
  assert proc.returncode == 2 and 'code steps' in proc.stderr, proc.stderr


@pytest.mark.e2e
def test_seeds_script_trains_evaluates_and_tabulates_on_the_embedded_faces(tmp_path):
  out = str(tmp_path / 'seeds')
  env = dict(os.environ, SEEDS_OUT=out, SEEDS_EVAL_FLAGS='--steps=3 --nofid',
             SEEDS_MAX_IMAGES='12')
  tiny = ['--image_size=16', '--latent_dims=8', '--decoder_filters=16,8', '--batch_size=8',
          '--num_steps=20', '--shuffle_capacity=64', '--min_after_dequeue=8',
          '--num_reader_threads=1', '--save_summaries_steps=10', '--image_summary_steps=20']
  proc = subprocess.run(['bash', os.path.join(ROOT, 'reproduce', 'seeds.sh'), 'demo', '2']
                        + tiny, capture_output=True, text=True, env=env, timeout=600,
                        cwd=str(tmp_path))
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  reports = [os.path.join(out, 'seed-%d' % s, 'eval', 'evaluation.json') for s in (0, 1)]
  seeds = []
  for path in reports:
    with open(path) as f:
      report = json.load(f)
    seeds.append(report['config']['seed'])
    assert report['sections']['heldout']['num_images'] == 12
  assert seeds == [0, 1]
  with open(os.path.join(out, 'table.md')) as f:
    md = f.read()
  assert '| `demo --image_size=16 --latent_dims=8 --decoder_filters=16,8' in md
  assert '| 20 | 2 |' in md  # step 20, two seeds in one row
  assert 'training images 12, held-out images 12' in md  # SEEDS_MAX_IMAGES, stated
  from test_latex import check_compiles  # pylint: disable=import-outside-toplevel
  with open(os.path.join(out, 'table.tex')) as f:
    check_compiles(tmp_path, f.read())  # pdflatex, no overfull box
  assert os.path.exists(os.path.join(out, 'table.csv'))


@pytest.mark.parametrize('edit,message', [
    (lambda r: r['sections']['heldout'].update(psnr_db=None), r'heldout.psnr_db is None, not'),
    (lambda r: r['sections']['heldout'].update(psnr_db=float('nan')), r'heldout.psnr_db is nan'),
    (lambda r: r['sections']['heldout'].update(psnr_db='20'), r"heldout.psnr_db is '20'"),
    (lambda r: r.pop('protocol'), r'"protocol" must hold'),
    (lambda r: r.pop('step'), r'no "step"'),
    (lambda r: r['config'].pop('preset'), r"no 'preset'"),
    (lambda r: r.update(sections=[1, 2]), r'"sections" must map'),
])
def test_a_broken_report_is_refused_naming_file_and_field(runs, edit, message):
  """Hand-edited or damaged glo-evaluate reports: a named refusal, never a traceback or a
  'nan ± nan' cell."""
  folder, _ = runs
  report = _report(0, 33.0)
  report['config'] = run_config.saved_config(report['config'])  # as the JSON holds it
  edit(report)
  path = os.path.join(str(folder), 'broken', 'eval', 'evaluation.json')
  os.makedirs(os.path.dirname(path))
  with open(path, 'w') as f:
    f.write(json.dumps(report, allow_nan=True))
  with pytest.raises(compare.CompareError, match=message) as e:
    compare.build_table([str(folder)])
  assert path in str(e.value)


@pytest.mark.e2e
def test_cli_will_not_write_over_a_report_or_into_a_folder(runs):
  folder, _ = runs
  report = str(folder / 'a-0' / 'eval' / 'evaluation.json')
  before = open(report).read()
  proc = run_main('glo_tf1.cli.compare', str(folder), '--out', report, check=False)
  assert proc.returncode == 2 and 'is one of the reports being compared' in proc.stderr
  assert open(report).read() == before
  proc = run_main('glo_tf1.cli.compare', str(folder), '--out', str(folder), check=False)
  assert proc.returncode == 2 and 'is a folder' in proc.stderr, proc.stderr
  # Issue 31: a user's file at --out (or at the note beside it) is refused, named, kept.
  paper = folder / 'paper'
  paper.mkdir()
  (paper / 'results.md').write_text('my results')
  (paper / 'table.note.tex').write_text('my caption')
  for out, extra in (('results.md', []),
                     ('table.tex', ['--format', 'latex', '--note', 'file'])):
    proc = run_main('glo_tf1.cli.compare', str(folder), '--out', str(paper / out), *extra,
                    check=False)
    mine = paper / ('results.md' if out == 'results.md' else 'table.note.tex')
    assert proc.returncode == 2, proc.stderr
    assert '--out: %s already exists and glo-tf1 did not write it' % mine in proc.stderr
    assert sorted(os.listdir(str(paper))) == ['results.md', 'table.note.tex']
  assert (paper / 'results.md').read_text() == 'my results'
  assert (paper / 'table.note.tex').read_text() == 'my caption'
  # Its own tables are replaced: recorded ones, and an earlier version's (no record),
  # recognised by their first line.
  for fmt in ('markdown', 'csv', 'latex'):
    out = str(paper / ('t.' + fmt))
    run_main('glo_tf1.cli.compare', str(folder), '--format', fmt, '--out', out)
    os.remove(str(paper / glo_io.WRITTEN))
    run_main('glo_tf1.cli.compare', str(folder), '--format', fmt, '--out', out)
    assert glo_io.read_json(str(paper / glo_io.WRITTEN)) == {'written': ['t.' + fmt]}
    os.remove(str(paper / glo_io.WRITTEN))


@pytest.mark.e2e
def test_seeds_publish_deletes_only_what_it_wrote(tmp_path):
  """SEEDS_OUT naming a folder of someone else's files: refused before anything is deleted
  or trained (issue 22: `rm -rf "$OUT"` wiped whatever SEEDS_OUT named)."""
  mine = tmp_path / 'home'
  mine.mkdir()
  (mine / 'thesis.tex').write_text('years of work')
  env = dict(os.environ, SEEDS_OUT=str(mine), SEEDS_FIGURES=str(tmp_path / 'tables'))
  # A run without --publish into that folder first (stopped by a bad flag): it must not
  # mark the folder as the script's, or --publish would then delete it (a hostile test).
  proc = subprocess.run(['bash', os.path.join(ROOT, 'reproduce', 'seeds.sh'), 'demo', '1',
                         '--num_steps=notanumber'], capture_output=True, text=True, env=env,
                        timeout=300)
  assert proc.returncode == 2 and not (mine / '.glo_seeds_output').exists(), proc.stderr
  assert 'holds: thesis.tex' in proc.stderr and os.listdir(str(mine)) == ['thesis.tex']
  proc = subprocess.run(['bash', os.path.join(ROOT, 'reproduce', 'seeds.sh'), '--publish',
                         'demo', '1'], capture_output=True, text=True, env=env, timeout=300)
  assert proc.returncode == 2 and 'was not written by seeds.sh' in proc.stderr, proc.stderr
  assert (mine / 'thesis.tex').read_text() == 'years of work'
  assert not (tmp_path / 'tables').exists()


def _seeds(env, *args):
  """reproduce/seeds.sh stopped at its first glo-train by a bad flag: everything it does
  to its folders (refusals, --publish's removal, the data it writes) happens before."""
  return subprocess.run(['bash', os.path.join(ROOT, 'reproduce', 'seeds.sh')] + list(args)
                        + ['demo', '1', '--num_steps=notanumber'], capture_output=True,
                        text=True, env=dict(os.environ, **env), timeout=300)


@pytest.mark.e2e
def test_seeds_mark_lists_its_names_and_publish_removes_only_those(tmp_path):
  """Issue 31: a folder empty at the first run was marked as a whole, and --publish then
  deleted the thesis.tex the user put there later. The mark lists the names the script
  created; anything else in the folder stops --publish, named, before anything is deleted;
  a name the script did not create is never overwritten."""
  out, tables = tmp_path / 'd', tmp_path / 'f'
  out.mkdir()
  env = dict(SEEDS_OUT=str(out), SEEDS_FIGURES=str(tables))
  assert _seeds(env).returncode == 2  # the data written, then glo-train refuses the flag
  mark = (out / '.glo_seeds_output').read_text().splitlines()
  assert mark[1:] == ['data', 'train.txt', 'heldout.txt', 'seed-0'], mark
  (out / 'thesis.tex').write_text('years of work')
  before = sorted(os.listdir(str(out)))
  proc = _seeds(env, '--publish')
  assert proc.returncode == 2 and 'did not create' in proc.stderr, proc.stderr
  assert 'thesis.tex' in proc.stderr and 'nothing was deleted' in proc.stderr
  assert sorted(os.listdir(str(out))) == before and not tables.exists()
  assert (out / 'thesis.tex').read_text() == 'years of work'
  # Without the stranger, --publish removes exactly the listed names and starts over.
  (out / 'thesis.tex').unlink()
  (out / 'data' / 'stale.jpg').write_text('an earlier run of the script')
  proc = _seeds(env, '--publish')
  assert proc.returncode == 2 and 'notanumber' in proc.stderr, proc.stderr
  assert not (out / 'data' / 'stale.jpg').exists() and (out / 'train.txt').exists()
  assert (tables / '.glo_seeds_output').exists()  # made by this run: the script's
  # A name the script would write but did not create, in a marked folder: refused, kept.
  os.remove(str(out / 'train.txt'))
  (out / '.glo_seeds_output').write_text('\n'.join(
      l for l in (out / '.glo_seeds_output').read_text().splitlines() if l != 'train.txt'))
  (out / 'train.txt').write_text('my list')
  proc = _seeds(env)
  assert proc.returncode == 2 and 'train.txt exists and was not written' in proc.stderr
  assert (out / 'train.txt').read_text() == 'my list'


def _earlier_seeds_folder(folder, lfw_dir):
  """SEEDS_OUT as a seeds.sh before the list of names left it: the faces, their lists, a
  run directory (glo-train's start: config.json, manifest.tsv) and the one-line mark."""
  from conftest import prepare_from_argv  # pylint: disable=import-outside-toplevel
  from glo_tf1.cli import train  # pylint: disable=import-outside-toplevel
  shutil.copytree(lfw_dir, str(folder / 'data'))
  faces = sorted(os.listdir(str(folder / 'data')))
  (folder / 'train.txt').write_text(''.join(n + '\n' for n in faces if '_09' not in n))
  (folder / 'heldout.txt').write_text(''.join(n + '\n' for n in faces if '_09' in n))
  try:
    prepare_from_argv(['--data_dir', folder / 'data', '--file_list', folder / 'train.txt',
                       '--run_dir', folder / 'seed-0', '--skip_data_check'] + TINY)
  finally:
    train.FLAGS.unparse_flags()
  (folder / '.glo_seeds_output').write_text('written by reproduce/seeds.sh\n')


@pytest.mark.e2e
def test_an_earlier_scripts_folder_is_adopted_only_when_recognisably_its_own(tmp_path,
                                                                             lfw_dir):
  """Folders written before the mark listed names (runs/seeds-*, runs/demo*) were refused
  as a whole. Adopted now when every entry is a name the script makes and is its own by
  content (a run directory of glo-tf1, the embedded faces and their lists); anything
  else, and the folder is refused as before, nothing written."""
  old = tmp_path / 'old'
  _earlier_seeds_folder(old, lfw_dir)
  foreign = tmp_path / 'foreign'
  shutil.copytree(str(old), str(foreign))
  (foreign / 'seed-1').mkdir()  # a name seeds.sh makes, but not a run of glo-tf1
  (foreign / 'seed-1' / 'notes.txt').write_text('mine')
  proc = _seeds(dict(SEEDS_OUT=str(foreign)))
  assert proc.returncode == 2 and 'was not written by seeds.sh' in proc.stderr, proc.stderr
  assert 'adopted' not in proc.stderr
  assert (foreign / '.glo_seeds_output').read_text() == 'written by reproduce/seeds.sh\n'
  assert (foreign / 'seed-1' / 'notes.txt').read_text() == 'mine'
  publish = tmp_path / 'publish'
  shutil.copytree(str(old), str(publish))
  proc = _seeds(dict(SEEDS_OUT=str(old)))
  assert proc.returncode == 2 and 'notanumber' in proc.stderr, proc.stderr  # it went on
  assert 'was written by an earlier seeds.sh' in proc.stderr
  mark = (old / '.glo_seeds_output').read_text().splitlines()
  assert mark[0].startswith('# reproduce/seeds.sh') and sorted(mark[1:]) == [
      'data', 'heldout.txt', 'seed-0', 'train.txt']
  assert (old / 'seed-0' / 'config.json').exists()  # adopted, not cleared (no --publish)
  # --publish adopts, then removes what it listed: the published runs start afresh.
  proc = _seeds(dict(SEEDS_OUT=str(publish), SEEDS_FIGURES=str(tmp_path / 'tables')),
                '--publish')
  assert proc.returncode == 2 and 'notanumber' in proc.stderr, proc.stderr
  assert 'was written by an earlier seeds.sh' in proc.stderr
  assert not (publish / 'seed-0' / 'config.json').exists()
  assert (publish / 'train.txt').exists()  # written again by this run
  # The oldest demo.sh trained into runs/demo itself: refused, with what to do.
  demo = os.path.join(ROOT, 'reproduce', 'demo.sh')
  before = sorted(os.listdir(str(old / 'seed-0')))
  proc = subprocess.run(['bash', demo], capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, DEMO_OUT=str(old / 'seed-0'),
                                 DEMO_STEPS='notanumber'))
  assert proc.returncode == 2 and 'a glo-tf1 run directory itself' in proc.stderr
  assert sorted(os.listdir(str(old / 'seed-0'))) == before


@pytest.mark.e2e
def test_demo_publish_never_deletes_a_run_folder_it_did_not_create(tmp_path):
  """Issue 31: demo.sh --publish ran `rm -rf "$OUT/run"` on whatever DEMO_OUT held. A
  folder of the user's is refused before anything is written; in the script's own folder
  a name it did not create is refused too (reproduce/owned.sh, shared with seeds.sh)."""
  mine = tmp_path / 'mine'
  (mine / 'run').mkdir(parents=True)
  (mine / 'run' / 'thesis.tex').write_text('years of work')
  demo = os.path.join(ROOT, 'reproduce', 'demo.sh')
  env = dict(os.environ, DEMO_OUT=str(mine), DEMO_STEPS='notanumber')
  proc = subprocess.run(['bash', demo, '--publish'], capture_output=True, text=True, env=env,
                        timeout=300)
  assert proc.returncode == 2 and 'was not written by demo.sh' in proc.stderr, proc.stderr
  assert os.listdir(str(mine)) == ['run'] and 'holds: run' in proc.stderr
  assert (mine / 'run' / 'thesis.tex').read_text() == 'years of work'
  ours = tmp_path / 'ours'  # marked by demo.sh, but "run" is the user's: not listed
  ours.mkdir()
  (ours / '.glo_demo_output').write_text('# reproduce/demo.sh created these names\n')
  (ours / 'run').mkdir()
  (ours / 'run' / 'thesis.tex').write_text('years of work')
  proc = subprocess.run(['bash', demo, '--publish'], capture_output=True, text=True,
                        env=dict(env, DEMO_OUT=str(ours)), timeout=300)
  assert proc.returncode == 2 and 'run exists and was not written by demo.sh' in proc.stderr
  assert (ours / 'run' / 'thesis.tex').read_text() == 'years of work'


def test_seeds_on_other_data_are_not_averaged_and_leaked_held_out_images_are_refused(tmp_path):
  """Issue 22: a run trained on other files, or evaluated on other held-out files or on its
  own training images, is not averaged with the others as a seed."""
  def report(seed, **heldout):
    r = _report(seed, 33.0 + seed)
    r['training_data_sha256'] = heldout.pop('train', 'aaa')
    r['sections']['heldout'].update(dict({'data_sha256': 'hhh', 'identical_to_training': 0},
                                         **heldout))
    return r
  for seed in (0, 1):
    _write(tmp_path, 'same-%d' % seed, report(seed))
  table = compare.build_table([str(tmp_path)])
  assert [len(r['seeds']) for r in table['rows']] == [2]  # same data: one row of 2 seeds
  assert 'hhh' not in compare_render.markdown(table) and 'hhh' not in compare_render.csv_text(table)
  other = tmp_path / 'other'
  _write(other, 'x', report(2, train='bbb'))
  with pytest.raises(compare.CompareError, match="two rows would be named 'demo'.*other "
                     "training data") as e:
    compare.build_table([str(tmp_path)])
  for name in ('same-0', 'same-1', 'other/x'):  # issue 31: the reports of both rows, named
    assert os.path.join(name, 'eval', 'evaluation.json') in str(e.value), str(e.value)
  assert len(compare.build_table([str(tmp_path)], labels={str(other): 'demo, other data'})[
      'rows']) == 2
  elsewhere = tmp_path / 'elsewhere'
  _write(elsewhere, 'y', report(3, data_sha256='zzz'))
  with pytest.raises(compare.CompareError, match=r'held-out data: .*zzz in .*hhh in'):
    compare.build_table([str(tmp_path / 'same-0'), str(elsewhere)])
  leaked = tmp_path / 'leaked'
  _write(leaked, 'z', report(4, identical_to_training=10))
  with pytest.raises(compare.CompareError, match='include training images'):
    compare.build_table([str(tmp_path / 'same-0'), str(leaked)])


def _seeds_until_training(tmp_path, lfw_dir, log_name):
  """reproduce/seeds.sh (2 seeds of a 100,000-step TINY run, its own process group)
  started and left to train until glo-train prints a progress line; returns (process,
  path of its combined output). The process group is killed if it fails to get there."""
  names = sorted(os.listdir(lfw_dir))
  (tmp_path / 'train.txt').write_text('\n'.join(n for n in names if 'lfw_09' not in n))
  (tmp_path / 'heldout.txt').write_text('\n'.join(n for n in names if 'lfw_09' in n))
  env = dict(os.environ, SEEDS_OUT=str(tmp_path / 'seeds'), SEEDS_DATA_DIR=lfw_dir,
             SEEDS_TRAIN_LIST=str(tmp_path / 'train.txt'),
             SEEDS_HELDOUT_LIST=str(tmp_path / 'heldout.txt'),
             SEEDS_EVAL_FLAGS='--steps=3 --nofid', SEEDS_MAX_IMAGES='12')
  flags = [f for f in TINY if not f.startswith('--preset')] + ['--num_steps=100000']
  log = tmp_path / log_name
  # As at a terminal, the script starts with SIGINT's default action. A pytest started in
  # the background by a script ignores SIGINT, and an ignored signal is inherited; bash then
  # cannot trap it (the case children.sh warns of, tested below).
  previous = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    with open(log, 'w') as out:
      proc = subprocess.Popen(['bash', os.path.join(ROOT, 'reproduce', 'seeds.sh'), 'demo',
                               '2'] + flags, stdout=out, stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)
  finally:
    signal.signal(signal.SIGINT, previous)
  deadline = time.time() + 120
  while not re.search(r'ing at step \d+.*\nstep \d+/100000', log.read_text(), re.S):
    if proc.poll() is not None or time.time() > deadline:
      _kill_group(proc)
      raise AssertionError(log.read_text()[-3000:])
    time.sleep(0.2)
  return proc, log


def _kill_group(proc):
  """SIGKILL to the script and the programs it started (in process groups of their own)."""
  subprocess.run(['pkill', '-KILL', '-P', str(proc.pid)], check=False)
  proc.kill()


def _lock_is_free(run):
  with open(os.path.join(run, rundir.LOCK_NAME)) as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      return False
  return True


@pytest.mark.e2e
def test_seeds_script_stopped_by_a_signal_stops_its_trainer_and_tabulates_nothing(
    tmp_path, lfw_dir):
  """Issue 22: SIGTERM to seeds.sh left its glo-train running with the run's lock (a rerun
  exited 2); Ctrl-C (SIGINT to the process group) went on to evaluate the partial run,
  train the next seed and print a table of one-seed rows, exit 0."""
  run = str(tmp_path / 'seeds' / 'seed-0')
  proc, log = _seeds_until_training(tmp_path, lfw_dir, 'term.log')
  proc.send_signal(signal.SIGTERM)  # the script alone, as `kill PID` does
  assert proc.wait(timeout=60) == 143, log.read_text()[-3000:]
  text = log.read_text()
  assert 'stopped by SIGTERM while training seed 0' in text and 'to resume' in text, text
  assert 'checkpoint saved' in text and _lock_is_free(run)  # the trainer saved and ended
  # The same command resumes (no 'in use' refusal); Ctrl-C on the whole group stops it.
  proc, log = _seeds_until_training(tmp_path, lfw_dir, 'int.log')
  assert 'Resuming at step' in log.read_text()
  os.killpg(proc.pid, signal.SIGINT)
  try:
    code = proc.wait(timeout=60)
  except subprocess.TimeoutExpired:
    _kill_group(proc)
    raise AssertionError('Ctrl-C on the seeds.sh group was not acted on within 60 s: '
                         + log.read_text()[-3000:])
  assert code == 130, log.read_text()[-3000:]
  text = log.read_text()
  assert 'stopped by SIGINT while training seed 0' in text and 'checkpoint saved' in text
  assert _lock_is_free(run)
  assert sorted(os.listdir(str(tmp_path / 'seeds'))) == ['.glo_seeds_output', 'seed-0']
  assert not os.path.exists(os.path.join(run, 'eval'))  # no evaluation, no table


def test_seeds_script_started_with_sigint_ignored_says_ctrl_c_cannot_stop_it(tmp_path):
  """Started in the background by another script, bash inherits SIGINT ignored and cannot
  trap it (the cause of a Ctrl-C that stopped nothing in the background CI runs of issue
  31): the script says so at once, and names the signal that works."""
  env = dict(os.environ, SEEDS_OUT=str(tmp_path / 'out'))
  command = ['bash', os.path.join(ROOT, 'reproduce', 'seeds.sh'), 'demo', '1',
             '--num_steps=notanumber']
  results = {}
  previous = signal.getsignal(signal.SIGINT)
  try:
    for handler in (signal.SIG_IGN, signal.default_int_handler):  # the child: ignored, default
      signal.signal(signal.SIGINT, handler)
      results[handler] = subprocess.run(command, capture_output=True, text=True, env=env,
                                        timeout=300)
  finally:
    signal.signal(signal.SIGINT, previous)
  ignored, default = results[signal.SIG_IGN], results[signal.default_int_handler]
  assert re.search(r"seeds.sh: SIGINT is ignored in this shell .*Ctrl-C cannot stop it; "
                   r"'kill \d+' \(SIGTERM\) stops it cleanly", ignored.stderr), ignored.stderr
  assert default.returncode == ignored.returncode == 2
  assert 'SIGINT is ignored' not in default.stderr, default.stderr


@pytest.mark.parametrize('value,refused', [('abc', True), ('-1', True), ('007', True),
                                           ('0', False), ('12', False)])
def test_seeds_max_images_is_a_count_and_0_means_all(tmp_path, value, refused):
  """As glo-evaluate's --max_images (0: every image); a bad value is refused before
  anything runs (a bad training flag then stops an accepted one at glo-train)."""
  env = dict(os.environ, SEEDS_OUT=str(tmp_path / 'out'), SEEDS_MAX_IMAGES=value)
  proc = subprocess.run(['bash', os.path.join(ROOT, 'reproduce', 'seeds.sh'), 'demo', '1',
                         '--num_steps=notanumber'], capture_output=True, text=True, env=env,
                        timeout=300)
  assert proc.returncode == 2
  assert ('SEEDS_MAX_IMAGES must be a number of images' in proc.stderr) == refused, proc.stderr


def test_another_methods_protocol_and_source_are_its_rows_own(runs, tmp_path):
  """A protocol field the glo-evaluate reports lack is said of the external row only, its
  source is cited; alone, the externals' table has no empty protocol sentence."""
  folder, _ = runs
  vae = tmp_path / 'vae.json'
  vae.write_text(json.dumps(dict(compare_reports.EXTERNAL_EXAMPLE, protocol={
      'held-out images': 20, 'FID method': 'eigh'})))
  table = compare.build_table([str(folder), str(vae)])
  assert table['protocol']['FID method'] is None
  md = compare_render.markdown(table)
  assert 'FID method eigh' not in md.split('VAE (our run): ')[0]
  # No FID column: the FID method it states is no shown column's, so not said (issue 30;
  # test_latex.py's markdown-note test has it said where a FID column is shown).
  assert ('VAE (our run): numbers from its own report (Kingma & Welling 2014; 3 seeds, our '
          'training script).') in md and 'FID method' not in md
  alone = compare_render.markdown(compare.build_table([str(vae)]))
  assert 'Evaluation protocol: .' not in alone and 'Evaluation protocol' not in alone
  assert 'it states held-out images 20.' in alone and 'FID method' not in alone
  twin = tmp_path / 'twin.json'
  twin.write_text(vae.read_text())
  with pytest.raises(compare.CompareError, match="duplicate method 'VAE \\(our run\\)'"):
    compare.build_table([str(vae), str(twin)])


def test_latex_escapes_angle_brackets_and_bars_and_huge_means_are_refused(runs, tmp_path):
  folder, _ = runs
  table = compare.build_table([str(folder)], labels={str(folder / 'a-0'): 'a<b>|c'})
  assert r'a\textless{}b\textgreater{}\textbar{}c &' in compare_render.latex(table)
  assert latex_lib.escape('é') == 'é'  # UTF-8 input, as documented
  for seed in (0, 1):
    path = folder / ('a-%d' % seed) / 'eval' / 'evaluation.json'
    report = glo_io.read_json(str(path))
    report['sections']['train_learned']['psnr_db'] = 1.7e308
    glo_io.write_json(str(path), report)
  with pytest.raises(compare.CompareError, match=r'mean or spread of train_learned.psnr_db'):
    compare.build_table([str(folder)])


def test_cli_refuses_a_path_labelled_twice():
  from glo_tf1.cli import compare as cli  # pylint: disable=import-outside-toplevel
  with pytest.raises(settings.ConfigError, match=r"--label cmp is given twice \('A' and 'B'\)"):
    cli.labels(['cmp=A', 'cmp=B'])
  with pytest.raises(settings.ConfigError, match='printable'):
    cli.labels(['cmp=A\nB'])
  assert cli.labels(['cmp=A', 'other=B']) == {'cmp': 'A', 'other': 'B'}
