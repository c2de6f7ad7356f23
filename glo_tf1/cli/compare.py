"""glo-compare: one table of several runs' evaluation reports, seeds averaged.

  glo-compare REPORT_OR_DIR... [--format markdown|latex|csv] [--out FILE]
              [--latex_width LENGTH] [--note table|off|file] [--metrics psnr_db,fid_train] [--sections train_learned,pca_train,...]
              [--label RUN=NAME ...]

Each argument is an evaluation.json, a run directory (its eval/evaluation.json) or a folder
of runs (every evaluation.json under it). Runs with the same settings but --seed form one
row, mean ± sample standard deviation over the seeds with their number; each row names its
preset and the flags that differ from it. The evaluation protocol goes under the table
(markdown, LaTeX) or into a column (CSV). Reports made with different protocols (code
steps, image counts, FID references) are refused, naming the difference
(docs/evaluation.md, "Tables across runs and seeds"). Another method's numbers join as a
hand-written report, one row named by its "method" (docs/evaluation.md, "Other methods in
the table").
"""
import os

from absl import flags

from glo_tf1 import settings
from glo_tf1.cli import common
from glo_tf1.evaluation import metrics

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.enum('format', 'markdown', list(settings.COMPARE_FORMATS), 'Table format: markdown, latex (a tabular '
             'to \\input) or csv (mean and std columns).')
_define.string('out', None, 'Write the table to this file (default: print it); a file '
               'of that name that glo-compare did not write is refused, never replaced.')
_define.list('metrics', list(metrics.default_metrics()), 'Metrics of each report section to '
             'show: %s (evaluation/metrics.py).' % ', '.join(c.key for c in metrics.columns()))
_define.list('sections', None, 'Report sections to show, in this order of the report '
             '(default: every section that all reports have), e.g. '
             'train_learned,pca_train,heldout,pca_heldout.')

_define.string('latex_width', None, 'LaTeX only: the table\'s width, a LaTeX length '
               '(\\textwidth, 0.9\\linewidth, 12cm): a tabular* spread to it. Default: a plain '
               'tabular, its columns in blocks that fit a 345 pt article text width.')
_define.enum('note', 'table', ['table', 'off', 'file'], 'LaTeX only: the protocol note after '
             'the tabular (table), left out (off), or in NAME.note.tex beside --out NAME.tex, '
             'for the caption (file).')
_define.multi_string('label', [], 'RUN=NAME: the row of the report at or under RUN (a report, '
                     'a run directory or a folder of one configuration\'s seeds) is named NAME '
                     '(default: its preset and flags, or another method\'s "method"). Repeat '
                     'for each row.')


def labels(values):
  """{RUN: NAME} of --label values (split at the first '=')."""
  out = {}
  for value in values:
    run_dir, eq, name = value.partition('=')
    if not eq or not run_dir or not name.strip() or not name.isprintable():
      raise settings.ConfigError('--label: give RUN=NAME (a report or run directory, then the '
                                 'row\'s name, printable: no newline or tab), got %r' % value)
    same = [k for k in out if os.path.abspath(k) == os.path.abspath(run_dir)]
    if same:
      raise settings.ConfigError('--label %s is given twice (%r and %r); label each path once'
                                 % (run_dir, out[same[0]], name.strip()))
    out[run_dir] = name.strip()
  return out


# The first bytes of each kind of file glo-compare writes (markdown, CSV, LaTeX table, its
# note), by which a table written before io.claim kept a record is recognised as ours.
_OWN_STARTS = (b'| run | step | seeds |', b'run,step,num_seeds,seeds,',
               b'% glo-compare: needs ', b'Evaluation protocol: ')


def _outputs(fv):
  """The files --out writes: the table, and its note with --note file."""
  if not fv.out:
    return []
  from glo_tf1.evaluation import latex  # pylint: disable=import-outside-toplevel
  return [fv.out] + ([latex.note_path(fv.out)] if fv.note == 'file' else [])


def _claim(fv):
  """io.claim of --out's files: a file there that glo-compare did not write (nor an
  earlier version's table, by its first bytes) is refused, named, and never replaced."""
  from glo_tf1 import io  # pylint: disable=import-outside-toplevel
  io.claim(_outputs(fv), '--out', lambda p: io.starts_with(p, _OWN_STARTS))


def main(fv, paths):
  from glo_tf1 import io  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import compare  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import compare_render  # pylint: disable=import-outside-toplevel
  if not paths:
    raise settings.ConfigError('give the evaluation reports, run directories or folders of '
                               'runs to compare (glo-compare --help)')
  if fv.out and os.path.isdir(fv.out):
    raise settings.ConfigError('--out %s is a folder; give the table\'s file name' % fv.out)
  if fv.format != 'latex' and (fv.latex_width is not None or fv.note != 'table'):
    raise settings.ConfigError('--latex_width and --note are for --format latex, not %s'
                               % fv.format)
  if fv.note == 'file' and not fv.out:
    raise settings.ConfigError('--note file writes NAME.note.tex beside the table: give '
                               '--out NAME.tex')
  table = compare.build_table(paths, fv.metrics, fv.sections, labels(fv.label))
  if fv.out and any(os.path.exists(fv.out) and os.path.samefile(fv.out, p)
                    for row in table['rows'] for p in row['reports']):
    raise settings.ConfigError('--out %s is one of the reports being compared; write the '
                               'table elsewhere' % fv.out)
  text = compare_render.render(table, fv.format, fv.latex_width, fv.note)
  if fv.out:
    os.makedirs(os.path.dirname(os.path.abspath(fv.out)), exist_ok=True)
    _claim(fv)
    io.write_text_atomic(fv.out, text)
    if fv.note == 'file':
      from glo_tf1.evaluation import latex  # pylint: disable=import-outside-toplevel
      note = latex.note_path(fv.out)
      io.write_text_atomic(note, compare_render.latex_parts(table, fv.latex_width, 'file')[1])
      print('Wrote %s (the note, for the caption)' % os.path.abspath(note))
    print('Wrote %s (%d rows from %d reports)' % (
        os.path.abspath(fv.out), len(table['rows']),
        sum(len(r['reports']) for r in table['rows'])))
  else:
    print(text, end='')
  return 0


def run():
  common.run_program(FLAGS, main, __doc__, positional=True)


if __name__ == '__main__':
  run()
