"""glo-compare's output: a table (compare.build_table) as markdown, CSV or LaTeX.

A cell is the mean ± the sample standard deviation over the seeds, at its metric's
precision (cell); headers and units come from the metrics' declarations
(evaluation/metrics.py). The evaluation protocol goes under the table in a note (markdown,
LaTeX) or into a column (CSV); a note names only what the shown columns need (the CSV
keeps the whole protocol). The LaTeX layout and its note are evaluation/latex.py's.
"""
import csv
import io as _io

from glo_tf1 import settings
from glo_tf1.evaluation import compare
from glo_tf1.evaluation import compare_reports as reports_lib
from glo_tf1.evaluation import latex as latex_lib
from glo_tf1.evaluation import metrics as metrics_lib

FORMATS = settings.COMPARE_FORMATS


def _fmt(metric):
  col = metrics_lib.column(metric)
  return col.fmt if col else '%.5f'


def cell(values, metric, pm='±', missing='–'):
  """mean ± std at the metric's precision; the mean alone for one value or a spread that
  rounds to zero (PCA's, the same on every seed); `missing` for no value."""
  if values is None:
    return missing
  mean, std = compare.mean_std(values)
  f = _fmt(metric)
  shown = metrics_lib.shown(metric, mean, f)
  if std is None or f % std == f % 0 or shown == 'exact':
    return shown
  return '%s %s %s' % (f % mean, pm, f % std)


def header(col):
  """(section's short name, metric's short name with its unit), e.g. ('held-out',
  'PSNR (dB)')."""
  section, metric = col
  short = {s.name: s.short for s in metrics_lib.sections()}
  col = metrics_lib.column(metric)
  return short.get(section, section), col.short if col else metric


def protocol_text(table):
  """The note under a table: the protocol, the units, how cells are made (plain text).
  It names only what the shown columns need, as the LaTeX note does (latex.protocol: no
  FID reference counts without a FID column, no PCA fit without a PCA one)."""
  proto, cols = latex_lib.protocol(table), table['columns']
  parts = ['%s %s' % kv for kv in _stated(proto)]
  shown = {m for _, m in cols}
  units = [c.unit for c in metrics_lib.columns() if c.unit and c.key in shown]
  text = ['Evaluation protocol: %s.' % ', '.join(parts)] if parts else []
  if units:
    text.append('%s.' % '; '.join(units))
  text.append('Mean ± sample standard deviation over the seeds (their number in the seeds '
              'column); a mean alone: one seed, or a deviation that rounds to zero.')
  # What an external row's report states beyond the table's protocol is its own, said of
  # its row only, and only where a shown column needs it.
  text += latex_lib.external_sentences(table['rows'], lambda row: [
      kv for kv in _stated(row['protocol']) if kv[0] in proto and proto[kv[0]] is None])
  return ' '.join(text)


def _stated(proto):
  """The protocol's (name, value) pairs a table states: those with a value, but the
  fields only checked (compare_reports.CHECK_ONLY)."""
  return [(k, v) for k, v in proto.items() if v is not None and k not in reports_lib.CHECK_ONLY]


def _step(row, missing):
  return missing if row['step'] is None else str(row['step'])


def _num_seeds(row):
  return str(len(row['seeds']))


def markdown(table):
  cols = table['columns']
  lines = ['| run | step | seeds | %s |' % ' | '.join(' '.join(header(c)) for c in cols),
           '| --- | ---: | ---: | %s |' % ' | '.join('---:' for _ in cols)]
  for row in table['rows']:
    label = row['label'].replace('|', '\\|')
    lines.append('| %s | %s | %s | %s |' % (
        label if row['external'] or row.get('labelled') else '`%s`' % label,
        _step(row, '–'), _num_seeds(row),
        ' | '.join(cell(row['values'][c], c[1]) for c in cols)))
  return '\n'.join(lines + ['', protocol_text(table)]) + '\n'



def latex(table, width=None, note='table'):
  """The booktabs table to \\input into a paper (evaluation/latex.py lays it out to fit the
  page; `width`: --latex_width, `note`: --note table or off)."""
  return latex_parts(table, width, 'off' if note == 'file' else note)[0]


def latex_parts(table, width=None, note='table'):
  """(the LaTeX table, its note for a file of its own with note='file', else None)."""
  cells = {c: [cell(r['values'][c], c[1], missing='--') for r in table['rows']]
           for c in table['columns']}
  return latex_lib.render(table, cells, width, note, hidden=reports_lib.CHECK_ONLY)


def csv_text(table):
  """One line per row: the mean and standard deviation of each column, the seeds, the
  protocol."""
  out = _io.StringIO()
  writer = csv.writer(out, lineterminator='\n')
  head = ['run', 'step', 'num_seeds', 'seeds']
  for section, metric in table['columns']:
    head += ['%s.%s.mean' % (section, metric), '%s.%s.std' % (section, metric)]
  writer.writerow(head + ['protocol'])
  text = lambda proto: '; '.join('%s=%s' % kv for kv in _stated(proto))
  for row in table['rows']:
    seeds = '' if None in row['seeds'] else ' '.join(map(str, row['seeds']))
    cells = [row['label'], _step(row, ''), len(row['seeds']), seeds]
    for c in table['columns']:
      if row['values'][c] is None:
        cells += ['', '']
        continue
      mean, std = compare.mean_std(row['values'][c])
      cells += [repr(mean), '' if std is None else repr(std)]
    # Another method's row: the protocol fields its report states.
    writer.writerow(cells + [text(row['protocol'] if row['external'] else table['protocol'])])
  return out.getvalue()


def render(table, fmt, latex_width=None, note='table'):
  if fmt not in FORMATS:
    raise reports_lib.CompareError('--format: got %r, accepted values are %s'
                                   % (fmt, ', '.join(FORMATS)))
  if fmt == 'latex':
    return latex(table, latex_width, note)
  return {'markdown': markdown, 'csv': csv_text}[fmt](table)
