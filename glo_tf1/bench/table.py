"""The one Markdown table renderer of the benchmark's reports (each mode gives its columns
and its rows of formatted cells)."""


def markdown(columns, rows):
  """A Markdown table: `columns` are header names, or (name, 'right') for a right-aligned
  column; `rows` are sequences of cells (str). Returns its lines joined by newlines."""
  names = [c if isinstance(c, str) else c[0] for c in columns]
  rules = ['---' if isinstance(c, str) else '---:' for c in columns]
  lines = [names, rules] + [list(r) for r in rows]
  return '\n'.join('| %s |' % ' | '.join(cells) for cells in lines)


def short(n):
  """1000 -> '1k', 1000000 -> '1M'; other counts as they are."""
  n = int(n)
  return '%dM' % (n // 10 ** 6) if n >= 10 ** 6 and n % 10 ** 6 == 0 else \
      '%dk' % (n // 1000) if n >= 1000 and n % 1000 == 0 else str(n)
