"""Files: the ordered image list and its manifest (the image check is check.py).

GLO keeps one code per image, addressed by the image's position in the file list, so the
list must mean the same thing on every machine and in every session: it is sorted (the
post's `glob` was not, defect 3), and each run directory records it as `manifest.tsv`
(index, relative path, size, content hash; version 2 escapes the path, so a file name may
hold any character). A resume against a different list is refused.
"""
import ast
import codecs
import concurrent.futures
import hashlib
import os
import stat

import numpy as np

from glo_tf1 import io
from glo_tf1 import settings

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
MANIFEST_NAME = 'manifest.tsv'
_HASH_CHUNK = 1 << 16


class DataError(settings.UserError):
  """The data directory or one of its files cannot be used. The message names it."""


def shown(name):
  """A file name as messages show it: control characters, backslashes and bytes that are
  not UTF-8 escaped (a name can hold any byte but '/' and NUL)."""
  return ascii(name)[1:-1] if not name.isprintable() or _unencodable(name) else name


def _unencodable(name):
  try:
    name.encode('utf-8')
    return False
  except UnicodeEncodeError:  # bytes that are not UTF-8, kept as surrogates by os.fsdecode
    return True


def describe_missing(missing, total, what, folder, first=5):
  """'N of M WHAT are missing from FOLDER: a, b, ... (first 5)': how many, and a few of
  them, however many there are (every message about missing files says it so)."""
  names = ', '.join(shown(n) for n in missing[:first])
  return '%d of %d %s %s missing from %s: %s%s' % (
      len(missing), total, what, 'is' if len(missing) == 1 else 'are', folder, names,
      ' (first %d)' % first if len(missing) > first else '')


def _refuse_unencodable(names, where):
  bad = [n for n in names if _unencodable(n)]
  if bad:
    raise DataError(
        '%d file name(s) in %s are not valid UTF-8, which TensorFlow\'s file names and the '
        'manifest need; rename them (e.g. with convmv). First: %s'
        % (len(bad), where, ', '.join(shown(n) for n in bad[:5])))


def _walk(data_dir):
  """(image names, special files, whether anything is there, notes) of a listing that
  follows symlinked folders (each real folder once, so a link loop ends), keeps dangling
  or looping links to image names (the data check reports them as bad), and never opens
  a file that is not a regular one (FIFOs, devices, sockets: opening a FIFO blocks)."""
  names, special, notes = [], [], []
  seen = set()
  anything = False
  todo = ['']
  while todo:
    rel = todo.pop()
    folder = os.path.join(data_dir, rel)
    try:
      st = os.stat(folder)
      entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
      notes.append('folder %s skipped: %s' % (shown(folder), e.strerror or e))
      continue
    if (st.st_dev, st.st_ino) in seen:
      notes.append('folder %s skipped: the same folder as one already listed (a symlink '
                   'loop or a second link)' % shown(folder))
      continue
    seen.add((st.st_dev, st.st_ino))
    subdirs = []
    for entry in entries:
      name = entry.name if not rel else rel + '/' + entry.name
      try:
        mode = entry.stat().st_mode  # follows symlinks
      except OSError:  # a dangling or looping link
        mode = None
      if mode is not None and stat.S_ISDIR(mode):
        subdirs.append(name)
        continue
      anything = True
      if entry.name.startswith('.') or not entry.name.lower().endswith(IMAGE_EXTENSIONS):
        continue
      if mode is None or stat.S_ISREG(mode):
        names.append(name)
      else:
        special.append(name)
    todo.extend(reversed(subdirs))
  return names, special, anything, notes


def list_images(data_dir, file_list=None):
  """Sorted image paths relative to `data_dir`.

  Args:
    data_dir: folder of images (searched recursively; symlinked folders are followed).
    file_list: optional text file with one relative path per line; only those are used
      (for example the training partition of CelebA), in sorted order. Entries are
      normalised ('./a.jpg' is 'a.jpg': one code per file) and must lie inside data_dir.
  Returns:
    A sorted list of relative paths ('/'-separated). Files that are not regular files
    (FIFOs, devices, sockets) are left out and listed in a note; they are never opened.
  Raises:
    DataError: missing or empty folder, no images, a listed file that does not exist or
      lies outside data_dir, or a file name that is not valid UTF-8.
  """
  if not data_dir:
    raise DataError('--data_dir is required')
  if not os.path.exists(data_dir):
    raise DataError('data directory %s does not exist' % data_dir)
  if not os.path.isdir(data_dir):
    raise DataError('data directory %s is not a directory' % data_dir)
  if file_list:
    return _read_file_list(data_dir, file_list)
  names, special, anything, notes = _walk(data_dir)
  if special:
    notes.append('%d file(s) that are not regular files (FIFO, device or socket) left out, '
                 'never opened: %s' % (len(special), ', '.join(shown(n) for n in special[:10])))
  for note in notes:
    print('note: %s' % note, flush=True)
  if not anything:
    raise DataError('data directory %s is empty' % data_dir)
  if not names:
    raise DataError('data directory %s has no images (looked for %s)'
                    % (data_dir, ', '.join(IMAGE_EXTENSIONS)))
  _refuse_unencodable(names, data_dir)
  return sorted(names)


def read_lines(path, names=False):
  """[(line number, text)] of the non-empty lines of a UTF-8 text file, stripped; a UTF-8
  byte-order mark (Windows editors write one) is skipped, not read as part of the first
  name.

  Args:
    names: the lines are file names: bytes that are not UTF-8 are kept (as surrogates,
      like os.fsdecode) for the caller to refuse by name; otherwise they are refused here.
  Raises:
    DataError: UTF-16 text, NUL bytes (a binary file) or, unless `names`, a line that is
      not UTF-8, naming the file and the line.
  """
  with open(path, 'rb') as f:
    data = f.read()
  if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
    raise DataError('%s is UTF-16 text; save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)'
                    % path)
  if data.startswith(codecs.BOM_UTF8):
    data = data[len(codecs.BOM_UTF8):]
  out = []
  for number, raw in enumerate(data.splitlines(), 1):
    if b'\0' in raw:
      raise DataError('%s line %d holds NUL bytes: a binary file or UTF-16 text, not a '
                      'UTF-8 text file' % (path, number))
    try:
      text = raw.decode('utf-8')
    except UnicodeDecodeError:
      if not names:
        raise DataError('%s line %d is not UTF-8 text (%s): a binary or mis-encoded file'
                        % (path, number, ascii(raw[:40])[2:-1])) from None
      text = raw.decode('utf-8', 'surrogateescape')
    if text.strip():
      out.append((number, text.strip()))
  return out


def _read_file_list(data_dir, file_list):
  if not os.path.isfile(file_list):
    raise DataError('file list %s does not exist' % file_list)
  entries = read_lines(file_list, names=True)
  if not entries:
    raise DataError('file list %s is empty' % file_list)
  names, missing = set(), []
  for line, entry in entries:
    name = os.path.normpath(entry).replace(os.sep, '/')
    if os.path.isabs(name) or name == '..' or name.startswith('../'):
      raise DataError('file list %s, line %d: %s is outside --data_dir %s; list paths '
                      'relative to it' % (file_list, line, shown(entry), data_dir))
    if name not in names and not os.path.isfile(os.path.join(data_dir, name)):
      missing.append(name)
    names.add(name)
  if missing:
    raise DataError('file list %s: %s' % (file_list, describe_missing(
        missing, len(names), 'listed files', data_dir)))
  _refuse_unencodable(names, file_list)
  return sorted(names)


def seeded_subset(num_available, num_wanted, rng):
  """Sorted indices of min(num_wanted, num_available) items drawn without replacement:
  the first num_wanted of rng.permutation(num_available) (numpy's legacy `choice` without
  replacement draws the same). All of them, in order, when num_wanted is 0 or not less.

  Args:
    rng: a numpy.random.RandomState (the caller's seeded stream).
  """
  if not num_wanted or num_wanted >= num_available:
    return np.arange(num_available)
  return np.sort(rng.permutation(num_available)[:num_wanted])


def fingerprint(path):
  """(size, hash) of a file; the hash covers its size and first and last 64 KiB.

  Cheap for 200k files yet it sees any edit to a small image (CelebA's are ~10 KB, so
  for them it is a hash of the whole file).
  """
  try:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without blocking
  except OSError:  # a dangling link, a file gone: the data check names it
    return -1, 'unreadable'
  with os.fdopen(fd, 'rb') as f:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
      return -1, 'not-a-file'
    size = st.st_size
    h = hashlib.sha1(str(size).encode())
    h.update(f.read(_HASH_CHUNK))
    if size > 2 * _HASH_CHUNK:
      f.seek(-_HASH_CHUNK, os.SEEK_END)
    h.update(f.read(_HASH_CHUNK))
  return size, h.hexdigest()[:16]


def build_manifest(data_dir, names, num_threads=8):
  """[(index, name, size, hash)] in file-list order."""
  paths = [os.path.join(data_dir, n) for n in names]
  with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
    prints = list(pool.map(fingerprint, paths, chunksize=256))
  return [(i, n, s, h) for i, (n, (s, h)) in enumerate(zip(names, prints))]


def manifest_digest(rows, ordered=False):
  """sha256 of a manifest's (name, size, hash) rows: in list order when `ordered`, else
  of the set (glo-compare's check that reports saw the same files)."""
  key = [(n, sz, h) for _, n, sz, h in rows]
  return hashlib.sha256(repr(key if ordered else sorted(key)).encode()).hexdigest()


_MANIFEST_V1 = 'index\tpath\tsize\thash'
_MANIFEST_V2 = '# glo-tf1 manifest 2: tab-separated; paths escaped as Python literals'


def escape_name(name):
  """`name` with a backslash and every character that is not printable (tab, newline, any
  line or paragraph separator) escaped as in a Python string literal, so that it cannot
  break a row or a field; other characters stay as they are."""
  if name.isprintable() and '\\' not in name:
    return name
  return ''.join(ascii(c)[1:-1] if c == '\\' or not c.isprintable() else c for c in name)


def unescape_name(text):
  """Inverse of escape_name."""
  if '\\' not in text:
    return text
  return ast.literal_eval('"%s"' % text.replace('"', '\\"'))


def write_manifest(path, manifest):
  """Writes a manifest (version 2: names escaped, so a tab or newline in a file name
  cannot break a row)."""
  io.write_text_atomic(path, _MANIFEST_V2 + '\n' + _MANIFEST_V1 + '\n' + ''.join(
      '%d\t%s\t%d\t%s\n' % (i, escape_name(n), s, h) for i, n, s, h in manifest))


def keep_only(manifest, names):
  """The manifest of the rows whose path is in `names`, re-indexed in order."""
  keep = set(names)
  return [(i, n, s, h) for i, (_, n, s, h) in enumerate(r for r in manifest if r[1] in keep)]


def read_manifest(path):
  """The rows of a manifest; reads version 2 and the unversioned one of older runs.

  Raises:
    DataError: not a manifest, or a damaged row (naming the file and line).
  """
  with open(path, encoding='utf-8', errors='surrogateescape', newline='') as f:
    lines = f.read().split('\n')
  if lines and lines[-1] == '':
    lines.pop()
  escaped = bool(lines) and lines[0] == _MANIFEST_V2
  head = 1 if escaped else 0
  if len(lines) <= head or lines[head] != _MANIFEST_V1:
    raise DataError('%s is not a glo-tf1 manifest' % path)
  out = []
  for k, line in enumerate(lines[head + 1:], head + 2):
    try:
      i, n, s, h = line.split('\t')
      out.append((int(i), unescape_name(n) if escaped else n, int(s), h))
    except (ValueError, SyntaxError):
      raise DataError('%s, line %d is damaged: %s' % (path, k, shown(line[:200]))) from None
  return out


def manifest_differences(old, new, limit=10):
  """Human-readable differences between two manifests, at most `limit` lines."""
  diffs = []
  old_by_name = {n: (i, s, h) for i, n, s, h in old}
  new_by_name = {n: (i, s, h) for i, n, s, h in new}
  for n in sorted(set(old_by_name) - set(new_by_name)):
    diffs.append('removed: %s (index %d)' % (n, old_by_name[n][0]))
  for n in sorted(set(new_by_name) - set(old_by_name)):
    diffs.append('added: %s' % n)
  moved = []  # listed last: a consequence of the other differences
  for n in sorted(set(old_by_name) & set(new_by_name)):
    (oi, os_, oh), (ni, ns, nh) = old_by_name[n], new_by_name[n]
    if (os_, oh) != (ns, nh):
      diffs.append('modified: %s (size %d -> %d)' % (n, os_, ns))
    elif oi != ni:
      moved.append('moved: %s (index %d -> %d)' % (n, oi, ni))
  diffs += moved
  total = len(diffs)
  if total > limit:
    diffs = diffs[:limit] + ['... and %d more' % (total - limit)]
  return diffs
