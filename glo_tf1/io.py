"""Files written whole or not at all, and JSON read with one error policy.

Every file glo-tf1 writes for a reader to find later (config.json, manifest.tsv,
provenance.json, reports, cache files) goes through `atomic_open`: a uniquely named temp
file beside the target, fsync, rename. A crash or a second process never leaves half a
file, and two writers never share a temp name.

Every output whose size is known before it is written (glo-sample's exports,
glo-prepare-data's images, the input cache, glo-evaluate's report) is checked against the
free space first (`check_room`), so a disk too small refuses at once instead of filling
part-way; a disk that fills anyway still fails as each writer handles it.

Nothing of the user's is replaced: a program that writes a file of a fixed name into a
folder the user chose (glo-evaluate's report, glo-compare's --out, the input cache) first
`claim`s it. The folder's record (`WRITTEN`) lists the names glo-tf1 wrote there; a file of
such a name that the record does not list, nor recognises as an output of a version that
kept no record, is refused, named, before anything is written (docs/reliability.md, "What
may be removed or replaced").

Every JSON file glo-tf1 reads goes through `read_json`: a missing file is `missing`
(None by default), anything unreadable or of the wrong type is a `FileFormatError` that
names the file.
"""
import contextlib
import collections.abc
import json
import numbers
import os
import shutil
import tempfile

from glo_tf1 import settings


class FileFormatError(settings.UserError):
  """A file glo-tf1 reads back is damaged or not what it should be; the message names it."""


class NotOursError(settings.UserError):
  """A file glo-tf1 would replace is not one it wrote (`claim`); the message names it."""


class NoRoomError(settings.UserError):
  """An output would not fit in the free space of its file system; the message names the
  folder, the size needed and the space free."""


_TEMP_SUFFIX = '.tmp'
# `check_room`'s margin: 5% of the estimate plus 16 MiB stay free, for what an estimate
# misses (file-system metadata, a log) and for the rest of the machine.
ROOM_MARGIN = 0.05
ROOM_RESERVE = 16 << 20
BLOCK = 4096  # a file takes whole blocks of the file system (ext4's and XFS's usual size)


def human_size(nbytes):
  """'40.1 GB', '512.0 kB', '12 bytes' (decimal units, as df -H and the issue speak)."""
  for unit, scale in (('TB', 1e12), ('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
    if nbytes >= scale:
      return '%.1f %s' % (nbytes / scale, unit)
  return '%d bytes' % nbytes


def blocks(nbytes):
  """`nbytes` rounded up to whole file-system blocks: the room one file of that size takes."""
  return -(-int(nbytes) // BLOCK) * BLOCK


def png_bytes(height, width, channels):
  """An upper bound on the room an 8-bit PNG of these pixels takes on disk: its raw pixels
  (PNG never stores more), a filter byte per row, zlib's 5 bytes per stored 64 KiB
  block and 256 bytes of chunks, in whole blocks. Smooth images take less, noise as much."""
  raw = height * width * channels
  return blocks(raw + height + 5 * (raw // 65535 + 1) + 256)


def used_bytes(folder):
  """The room the files under `folder` take now (0 when it does not exist): what a
  resumed output already wrote."""
  total = 0
  for top, _, names in os.walk(folder):
    for name in names:
      try:
        total += os.lstat(os.path.join(top, name)).st_blocks * 512
      except OSError:
        pass
  return total


def check_room(folder, needed, what):
  """Refuses (NoRoomError) an output of about `needed` bytes at `folder` (a folder or a
  file to be: the nearest existing folder of it or above it is measured) when its file
  system has less free space than that plus the margin (ROOM_MARGIN of it and
  ROOM_RESERVE). `what` names the output. Returns the free bytes. A disk that fills anyway (another writer) still fails where it is written."""
  existing = os.path.abspath(folder)
  while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
    existing = os.path.dirname(existing)
  free = shutil.disk_usage(existing).free
  needed = max(0, int(needed))
  want = needed + int(needed * ROOM_MARGIN) + ROOM_RESERVE
  if want > free:
    raise NoRoomError(
        '%s: not enough free space in %s for %s: it needs about %s (%s with a margin of '
        '%d%% and %s), %s free; free some space or choose another place'
        % (folder, existing, what, human_size(needed), human_size(want),
           round(ROOM_MARGIN * 100), human_size(ROOM_RESERVE), human_size(free)))
  return free


def temporary_target(name):
  """The file name an atomic_open temporary named `name` was to become, or None when
  `name` is not one: ".TARGET.XXXXXXXX.tmp" (mkstemp's random part holds no dot). For
  cleaning up after a process that was killed while writing."""
  if not (name.startswith('.') and name.endswith(_TEMP_SUFFIX)):
    return None
  target, _, random_part = name[1:-len(_TEMP_SUFFIX)].rpartition('.')
  return target if target and random_part else None


@contextlib.contextmanager
def atomic_open(path, mode='w'):
  """Opens a unique temp file beside `path`; on success fsyncs it and renames it to `path`.
  Text is written as UTF-8 whatever the locale.

  On an exception the temp file is removed and `path` is left as it was. The file gets the
  mode a plain open() would give it (0666 less the umask), not mkstemp's 0600, so a
  shared run directory stays readable to the accounts the umask allows.
  """
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(path),
                             suffix=_TEMP_SUFFIX)
  try:
    os.fchmod(fd, 0o666 & ~_umask())
    with os.fdopen(fd, mode, **({} if 'b' in mode else {'encoding': 'utf-8'})) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def _umask():
  """The process's umask: from /proc/self/status where Linux gives it (reading it by
  os.umask would change it for a moment under other threads), else by os.umask."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('Umask:'):
          return int(line.split()[1], 8)
  except OSError:
    pass
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def write_text_atomic(path, text):
  """Writes `text` to `path` atomically (see `atomic_open`)."""
  with atomic_open(path, 'w') as f:
    f.write(text)


def write_json(path, obj):
  """Writes `obj` as indented, key-sorted JSON, atomically."""
  write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_plain) + '\n')


def _plain(obj):
  """A read-only mapping (settings.Settings) as the dict it reads as; a NumPy integer (a
  setting given through the Python API: checks.is_int accepts it) as the int it is."""
  if isinstance(obj, collections.abc.Mapping):
    return dict(obj)
  if isinstance(obj, numbers.Integral):
    return int(obj)
  raise TypeError('%s is not JSON serializable' % type(obj).__name__)


def read_json(path, missing=None, expect=dict):
  """The JSON value in `path`, or `missing` when there is no such file.

  Raises:
    FileFormatError: the file cannot be read, is not JSON, or its top-level value is not
      an instance of `expect` (None: any).
  """
  try:
    with open(path, encoding='utf-8') as f:
      value = json.load(f)
  except FileNotFoundError:
    return missing
  except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError included
    raise FileFormatError('%s is not a readable JSON file (%s)' % (path, e)) from e
  if expect is not None and not isinstance(value, expect):
    raise FileFormatError('%s should hold a JSON %s, found %s' % (
        path, 'object' if expect is dict else expect.__name__, type(value).__name__))
  return value


WRITTEN = '.glo_written.json'  # a folder's record of the names glo-tf1 wrote there


def written_names(folder, record=WRITTEN):
  """The names that `folder`'s record (a JSON {"written": [names]}) lists; [] without one.
  Raises FileFormatError for a damaged record."""
  path = os.path.join(folder, record)
  written = read_json(path, missing={'written': []}).get('written')
  if not isinstance(written, list) or not all(isinstance(n, str) for n in written):
    raise FileFormatError('%s: "written" must list file names, got %r' % (path, written))
  return written


def record_written(folder, names, written, record=WRITTEN):
  """Adds `names` to `folder`'s record, which listed `written` (written_names), before
  their files are made; writes nothing when each is listed already."""
  if set(names) - set(written):
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, record), {'written': sorted(set(written) | set(names))})


def claim(paths, flag, adopt=None, record=True):
  """Before `paths` are written (or replaced): refuses, naming them, any that exists and
  that glo-tf1 did not write; then (`record`) lists their names in their folders' records.

  A file is glo-tf1's when its folder's record (WRITTEN) lists its name, or when
  `adopt(path)` recognises it as an output of a version that kept no record (a report
  that reads as one). `record=False` only checks: a program calls it before its work, so
  an hour of work is not lost to a refusal at the end, and again with `record` just
  before it writes. A name is recorded before its file is made, as reproduce/owned.sh
  does, so a write cut short leaves nothing unrecorded behind.

  Args:
    paths: the files about to be written.
    flag: what chose them, for the message ('--out_dir', '--out').
    adopt: path -> True for an output of glo-tf1 recognised by its content (None: none).
  Raises:
    NotOursError: listing each file that is not glo-tf1's; nothing is recorded.
    FileFormatError: a damaged record.
  """
  folders = {}
  for path in paths:
    folders.setdefault(os.path.dirname(os.path.abspath(path)), []).append(
        os.path.basename(path))
  records, theirs = {}, []
  for folder, names in folders.items():
    records[folder] = written_names(folder)
    theirs += [os.path.join(folder, n) for n in names
               if n not in records[folder] and os.path.lexists(os.path.join(folder, n))
               and not (adopt and adopt(os.path.join(folder, n)))]
  if theirs:
    raise NotOursError(
        '%s: %s already exist%s and glo-tf1 did not write %s (not listed in %s); nothing '
        'was written or replaced. Move %s, or choose another %s' % (
            flag, ', '.join(theirs), 's' if len(theirs) == 1 else '',
            'it' if len(theirs) == 1 else 'them', WRITTEN,
            'it' if len(theirs) == 1 else 'them', flag))
  for folder, names in folders.items() if record else ():
    record_written(folder, names, records[folder])


def starts_with(path, prefixes):
  """Whether the regular file `path` begins with one of the byte strings `prefixes` (a
  recogniser for `claim`'s `adopt`; False for anything unreadable)."""
  try:
    if not os.path.isfile(path):
      return False
    with open(path, 'rb') as f:
      head = f.read(max(len(p) for p in prefixes))
  except OSError:
    return False
  return any(head.startswith(p) for p in prefixes)
