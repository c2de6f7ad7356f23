r"""glo-compare's LaTeX layout: a booktabs table that fits the page (issue 30).

The table is one `tabular` (or `tabular*` of a given width) for `\input` into a `table`
float of a single-column `article` (text width 345 pt at 10 pt):

* the columns are grouped under `\cmidrule` headers, one per image set and metric with its
  unit ("train, PSNR (dB)", "held-out, PSNR (dB)"), over short headers of the
  reconstructor ("GLO", "re-opt.", "PCA"); a cell is the mean with the spread small after it;
* the step and seeds columns are shown only where rows differ in them (otherwise the note
  says them);
* columns that would run past the width (from an estimate of Computer Modern's widths) go
  into further blocks of the same tabular, each under its own headers, so no table is
  wider than the page however many sections are shown;
* the protocol note names only what the shown columns need; it goes after the tabular, off,
  or into a file of its own for the caption (NOTE_MODES).
"""
import re

from glo_tf1 import settings
from glo_tf1.evaluation import metrics as metrics_lib
from glo_tf1.evaluation import report as report_lib

NOTE_MODES = ('table', 'off', 'file')
# The text width of LaTeX's `article` at 10 pt, single column (its default), in pt.
ARTICLE_TEXT_WIDTH_PT = 345.
PREAMBLE = r'\usepackage{booktabs}'
TABCOLSEP_PT = 6.
# Words of a width argument that mean the text width; what they stand for is estimated as
# ARTICLE_TEXT_WIDTH_PT when deciding where to break the table into blocks.
_TEXT_WIDTHS = (r'\textwidth', r'\linewidth', r'\columnwidth', r'\hsize')
_UNITS_PT = {'pt': 1., 'bp': 72.27 / 72, 'in': 72.27, 'cm': 72.27 / 2.54, 'mm': 72.27 / 25.4}

# Short headers: the image set over a group, the reconstructor under it.
_SET = {'train': 'train', 'fid_train': 'train', 'heldout': 'held-out',
        'fid_heldout': 'held-out', 'samples': 'samples'}
_RECONSTRUCTOR = {'learned': 'GLO', 'learned_batch_stats': 'batch st.', 'optimised': 're-opt.',
                  'pca': 'PCA', 'unit': 'N(0,I)', 'fitted': 'diag.', 'full': 'full cov.',
                  'real': 'real'}
_FID_FIELDS = ('FID training reference images', 'FID held-out reference images', 'FID method',
               'FID protocol')


def parse_width(width):
  """(the LaTeX length to give tabular*, its estimated size in pt) of --latex_width: a
  length such as `\\textwidth`, `0.9\\linewidth`, `12cm`, `300pt`; (None, 345) for None.
  Raises ConfigError naming the flag and value for anything else."""
  if width is None:
    return None, ARTICLE_TEXT_WIDTH_PT
  text = width.strip()
  match = re.fullmatch(r'(\d*\.?\d+)?\s*(\\[a-z]+|pt|bp|in|cm|mm)', text)
  if not match or (match.group(2).startswith('\\') and match.group(2) not in _TEXT_WIDTHS) or (
      not match.group(2).startswith('\\') and not match.group(1)):
    raise settings.ConfigError(
        '--latex_width: got %r; give a LaTeX length: %s, a fraction of one (0.9\\linewidth), '
        'or a number with pt, bp, in, cm or mm' % (width, ', '.join(_TEXT_WIDTHS)))
  factor = float(match.group(1) or 1)
  unit = match.group(2)
  size = factor * (ARTICLE_TEXT_WIDTH_PT if unit.startswith('\\') else _UNITS_PT[unit])
  if not 0 < size < 5000:
    raise settings.ConfigError('--latex_width: %r is no page\'s width' % width)
  return text, size


# Computer Modern Roman 10 pt advance widths (pt, cmr10.tfm) of the characters a table
# holds; others count as a wide capital. Over-estimated by _SAFETY.
_WIDTHS = dict(zip('abcdefghijklmnopqrstuvwxyz',
                   (5., 5.56, 4.44, 5.56, 4.44, 3.06, 5., 5.56, 2.78, 3.06, 5.28, 2.78, 8.33,
                    5.56, 5., 5.56, 5.28, 3.92, 3.94, 3.89, 5.56, 5.28, 7.22, 5.28, 5.28,
                    4.44)))
_WIDTHS.update(dict.fromkeys('0123456789', 5.))
_WIDTHS.update(dict.fromkeys('.,:;!\'|', 2.78))
_WIDTHS.update(dict.fromkeys('()[]', 3.89))
_WIDTHS.update({' ': 3.33, '-': 3.33, '=': 7.78, '+': 7.78, '_': 5., 'I': 3.61, '/': 5.})
_SAFETY = 1.0


def text_width(text, size=1.):
  """The estimated width in pt of plain `text` set in Computer Modern at 10 pt * size."""
  return sum(_WIDTHS.get(ch, 7.5) for ch in text) * size * _SAFETY


def _headers(col):
  """(metric with its unit, image set, reconstructor) of a column: ('PSNR (dB)', 'train',
  'GLO')."""
  section_name, metric = col
  section = {s.name: s for s in report_lib.SECTIONS}.get(section_name)
  column = metrics_lib.column(metric)
  unit = column.short if column else metric
  if section is None:
    return unit, section_name, ''
  image_set = _SET.get(section.image_set, section.image_set)
  sub = _RECONSTRUCTOR.get(section.reconstructor, section.reconstructor)
  if section.image_set == 'heldout' and section.reconstructor == 'optimised':
    sub = 'GLO'  # a held-out image has no learned code: fitting is how GLO sees it
  return unit, image_set, sub


_SPECIAL = {'\\': r'\textbackslash{}', '&': r'\&', '%': r'\%', '$': r'\$', '#': r'\#',
            '_': r'\_', '{': r'\{', '}': r'\}', '~': r'\textasciitilde{}',
            '^': r'\textasciicircum{}', '-': '-{}', '±': r'$\pm$',
            '<': r'\textless{}', '>': r'\textgreater{}', '|': r'\textbar{}'}


def escape(text):
  """`text` with every character that is special to LaTeX escaped; other non-ASCII
  characters pass as they are (LaTeX reads UTF-8 input by default since 2018; a glyph
  its fonts lack fails at compile time, docs/evaluation.md)."""
  return ''.join(_SPECIAL.get(ch, ch) for ch in str(text))


def _cell(text):
  """(LaTeX, estimated width) of a cell's text `mean ± std` (compare_render.cell): the mean, its
  spread after it in \\scriptsize."""
  mean, _, std = text.partition(' ± ')
  if not std:
    return mean, text_width(mean)
  return (r'%s\,{\scriptsize$\pm$%s}' % (mean, std),
          text_width(mean) + 1.7 + text_width(std + '=', 0.7))


def _uniform(rows, key):
  values = {key(r) for r in rows}
  return values.pop() if len(values) == 1 else None


def layout(table, cells, width=None):
  """The tabular's text (no note) for `table` (compare.build_table), its `cells`
  ({column: [text per row]}, compare_render.cell's) and --latex_width."""
  esc = escape
  length, target = parse_width(width)
  cols, rows = table['columns'], table['rows']
  # One metric's columns side by side, under one header with its unit (sections in order).
  metric_order = list(dict.fromkeys(m for _, m in cols))
  cols = sorted(cols, key=lambda c: metric_order.index(c[1]))
  lead = [('run', lambda r: esc(r['label']), lambda r: r['label'])]
  if _uniform(rows, lambda r: r['step']) is None or len(rows) == 1 and rows[0]['step'] is None:
    lead.append(('step', lambda r: '--' if r['step'] is None else str(r['step']),
                 lambda r: str(r['step'])))
  if _uniform(rows, lambda r: len(r['seeds'])) is None:
    lead.append(('seeds', lambda r: str(len(r['seeds'])), lambda r: str(len(r['seeds']))))
  lead_w = [max([text_width(h)] + [text_width(raw(r)) for r in rows]) + 2 * TABCOLSEP_PT
            for h, _, raw in lead]
  # The run column wraps (ragged right) where its names would take over half the page.
  run_cap = max(target / 2, max(text_width(w) for r in rows for w in r['label'].split()) + 1)
  wrap = lead_w[0] - 2 * TABCOLSEP_PT > run_cap
  if wrap:
    lead_w[0] = run_cap + 2 * TABCOLSEP_PT
  cells = {c: [_cell(text) for text in cells[c]] for c in cols}
  heads = {c: _headers(c) for c in cols}
  col_w = {c: max([text_width(heads[c][2])] + [w for _, w in cells[c]]) + 2 * TABCOLSEP_PT
           for c in cols}
  blocks = _blocks(cols, heads, col_w, target - sum(lead_w))
  n = max(len(b) for b in blocks)
  run_spec = r'p{%.0fpt}' % run_cap if wrap else 'l'
  spec = run_spec + 'l' * (len(lead) - 1) + 'r' * n
  if length:
    begin = r'\begin{tabular*}{%s}{@{\extracolsep{\fill}}%s}' % (length, spec)
    end = r'\end{tabular*}'
  else:
    begin, end = r'\begin{tabular}{%s}' % spec, r'\end{tabular}'
  lines = ['%% glo-compare: needs %s' % PREAMBLE, begin, r'\toprule']
  first = len(lead) + 1
  for i, block in enumerate(blocks):
    if i:
      lines.append(r'\midrule')
    for level in (1, 2):
      top, rules, at = [''] * len(lead), [], first
      for group, span in _groups(block, heads, level):
        top.append(r'\multicolumn{%d}{c}{%s}' % (span, esc(group[-1])) if span > 1
                   else esc(group[-1]))
        rules.append(r'\cmidrule(lr){%d-%d}' % (at, at + span - 1))
        at += span
      lines.append(' & '.join(top + [''] * (n - len(block))) + r' \\')
      lines.append(' '.join(rules))
    lines.append(' & '.join([h for h, _, _ in lead] + [esc(heads[c][2]) for c in block]
                            + [''] * (n - len(block))) + r' \\')
    lines.append(r'\midrule')
    for j, row in enumerate(rows):
      lead_cells = [show(row) for _, show, _ in lead]
      if wrap:
        lead_cells[0] = r'\raggedright ' + lead_cells[0]
      lines.append(' & '.join(lead_cells + [cells[c][j][0] for c in block]
                              + [''] * (n - len(block))) + r' \\')
  lines += [r'\bottomrule', end]
  return '\n'.join(lines) + '\n'


def _groups(block, heads, level):
  """[(group, number of adjacent columns under it)] of a block's columns: level 1 the
  metric with its unit, level 2 (metric, image set)."""
  out = []
  for c in block:
    key = heads[c][:level]
    if out and out[-1][0] == key:
      out[-1][1] += 1
    else:
      out.append([key, 1])
  return [tuple(g) for g in out]


def _blocks(cols, heads, col_w, room):
  """The columns split into blocks that fit `room` pt beside the run column(s), each as
  many columns as fit (at least one); a block's width counts its group headers, and each
  column position is as wide as its widest block's column."""
  def fits(blocks):
    n = max(len(b) for b in blocks)
    widths = [max(col_w[b[i]] for b in blocks if i < len(b)) for i in range(n)]
    for b in blocks:
      for level in (1, 2):
        at = 0
        for group, span in _groups(b, heads, level):
          need = text_width(group[-1]) + 2 * TABCOLSEP_PT
          if need > sum(widths[at:at + span]):
            widths[at + span - 1] += need - sum(widths[at:at + span])
          at += span
    return sum(widths) <= room
  for size in range(len(cols), 0, -1):
    blocks = [cols[i:i + size] for i in range(0, len(cols), size)]
    if fits(blocks) or size == 1:
      return blocks
  return [cols]


def protocol(table):
  """The table's protocol, less what no shown column needs (_unneeded)."""
  drop = _unneeded(table)
  return {k: v for k, v in table['protocol'].items() if k not in drop}


def _unneeded(table):
  """The protocol fields no shown column needs: FID's references without a FID column, the
  PCA fit without a PCA column, an image set's count without its column, the code fitting
  without fitted codes."""
  sections = {s.name: s for s in report_lib.SECTIONS}
  shown = [sections.get(name) for name, _ in table['columns']]
  metrics = {metric for _, metric in table['columns']}
  # KID, precision/recall and memorisation are measured on FID's Inception features
  # against the same references: their columns need the references' counts and protocol.
  inception = {c.key for m in metrics_lib.METRICS.values() if m.context == 'inception'
               for c in m.columns} & metrics
  sets = {s.image_set for s in shown if s}
  drop = set()
  if not inception:
    drop.update(_FID_FIELDS)
  if not metrics & {c.key for c in metrics_lib.METRICS['fid'].columns}:
    drop.add('FID method')  # the Fréchet distance's matrix root: FID's alone
  if not {m for m in inception if not m.endswith('_heldout')}:
    drop.add('FID training reference images')
  heldout = {c.key for m in metrics_lib.METRICS.values() if m.reads_heldout_reference
             for c in m.columns}
  if not {m for m in inception if m.endswith('_heldout')} | (metrics & heldout):
    drop.add('FID held-out reference images')
  if not any(s and s.reconstructor == 'pca' for s in shown):
    drop.add('PCA fit images')
  if not sets & {'train'}:
    drop.add('training images')
  if not sets & {'heldout'}:
    drop.add('held-out images')
  if not any(s and s.reconstructor == 'optimised' for s in shown):
    drop.update(('code steps', 'code batch size'))
  return drop


def _stated(proto, hidden):
  return [(k, v) for k, v in proto.items() if v is not None and k not in hidden]


def note_text(table, hidden=()):
  """The protocol note (plain text): what the shown columns need, the step and seeds
  where their columns are left out, how a cell reads, other methods' sources."""
  rows = table['rows']
  proto = protocol(table)
  parts = ['%s %s' % kv for kv in _stated(proto, hidden)]
  text = ['Evaluation protocol: %s.' % ', '.join(parts)] if parts else []
  step = _uniform(rows, lambda r: r['step'])
  if step is not None and not (len(rows) == 1 and rows[0]['step'] is None):
    text.append('Checkpoint step %s.' % step)
  seeds = _uniform(rows, lambda r: len(r['seeds']))
  if seeds == 1:
    text.append('One seed: each cell is its value.')
  else:
    over = ('%d seeds' % seeds if seeds is not None else
            'the seeds (their number in the seeds column)')
    text.append('Mean ± sample standard deviation over %s; a mean alone: one seed, or a '
                'deviation that rounds to zero.' % over)
  subs = {_headers(c)[2] for c in table['columns']}
  legend = [(k, v) for k, v in (('GLO', 'GLO\'s codes (learned for training images, fitted '
                                 'with the decoder frozen for held-out ones)'),
                                ('re-opt.', 'codes re-optimised with the decoder frozen'),
                                ('PCA', 'the linear baseline'),
                                ('N(0,I)', 'samples of codes drawn from N(0, I)'),
                                ('diag.', 'samples of a diagonal Gaussian fitted to the codes'),
                                ('full cov.', 'samples of a full-covariance Gaussian fitted to '
                                 'the codes'),
                                ('real', 'the real images themselves')) if k in subs]
  if legend:
    text.append('%s.' % '; '.join('%s: %s' % kv for kv in legend))
  unneeded = _unneeded(table)
  text += external_sentences(rows, lambda row: [
      kv for kv in _stated(row['protocol'], hidden)
      if proto.get(kv[0]) is None and kv[0] not in unneeded])
  return ' '.join(text)


def external_sentences(rows, own):
  """The note's sentences on rows from another method's report (compare_render.py's
  markdown note and this LaTeX one): each row's source and `own(row)`, the (field, value)
  pairs its report states beyond the table's protocol; then what a dash means."""
  text = []
  for row in (r for r in rows if r['external']):
    stated = own(row)
    text.append('%s: numbers from its own report%s%s.' % (
        row['label'], ' (%s)' % row['source'] if row.get('source') else '',
        '; it states %s' % ', '.join('%s %s' % kv for kv in stated) if stated else ''))
  return text + (['A dash: not reported.'] if text else [])


def render(table, cells, width=None, note='table', hidden=()):
  """(the table's text, the note's text or None) of `table` and its `cells` (layout): the
  note after the tabular in a footnotesize paragraph (`table`), left out (`off`), or
  returned apart for a file of its own (`file`, LaTeX text for a caption). `hidden`:
  protocol fields never stated (compare_reports.CHECK_ONLY)."""
  if note not in NOTE_MODES:
    raise settings.ConfigError('--note: got %r, accepted values are %s'
                               % (note, ', '.join(NOTE_MODES)))
  text = layout(table, cells, width)
  escaped = escape(note_text(table, hidden))
  if note == 'table':
    return text + '\n' + r'\smallskip\noindent{\footnotesize %s\par}' % escaped + '\n', None
  return text, (escaped + '\n' if note == 'file' else None)


def note_path(out):
  """The note file beside a table file: its name with `.note.tex` for `.tex`."""
  base = out[:-len('.tex')] if out.endswith('.tex') else out
  return base + '.note.tex'
