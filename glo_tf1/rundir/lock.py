"""RUN/lock: one trainer writes into a run directory at a time (an OS-level flock the
kernel releases however the holder ends), and a failed start leaves nothing behind."""
import contextlib
import fcntl
import os
import platform
import time

from glo_tf1 import checks
from glo_tf1.rundir import LOCK_NAME
from glo_tf1.rundir import RunDirError


def make_writable_dir(run_dir):
  """Creates `run_dir` if needed and checks that this process can write into it."""
  try:
    os.makedirs(run_dir, exist_ok=True)
  except OSError as e:
    raise RunDirError('cannot create run directory %s: %s' % (run_dir, e.strerror or e))
  why = checks.unwritable(run_dir)
  if why:
    raise RunDirError('run directory %s %s' % (run_dir, why))


_HELD = {}  # real path of a run directory -> open file holding its lock (this process)


@contextlib.contextmanager
def exclusive(run_dir):
  """Holds RUN/lock while training writes into `run_dir` (created if needed).

  An OS-level lock (flock) on an open file: the kernel releases it when the process ends,
  however it ends, so a kill -9 never leaves a stale lock. The file holds the holder's
  pid and host, so a second trainer names it.
  A start that ends with nothing in the run directory but the lock (training failed or was
  refused before writing anything: a bad setting, bad data) removes the lock, and the
  run directory and its parents if this call created them, so a failed start leaves
  nothing behind (a folder the user made stays, empty). A lock file is only ever removed
  by its holder, and `_lock` checks that the file it locked is still the one at RUN/lock.
  Raises:
    RunDirError: another process holds the lock.
  """
  created = _missing_folders(run_dir)
  make_writable_dir(run_dir)
  key = os.path.realpath(run_dir)
  if key in _HELD:  # already ours (a test preparing twice in one process)
    yield
    return
  path = os.path.join(run_dir, LOCK_NAME)
  f = _lock(run_dir, path)
  f.seek(0)
  f.truncate()
  f.write('pid %d on %s, started %s\n' % (os.getpid(), platform.node(),
                                           time.strftime('%Y-%m-%dT%H:%M:%S%z')))
  f.flush()
  _HELD[key] = f
  try:
    yield
  finally:
    del _HELD[key]
    if os.listdir(run_dir) == [LOCK_NAME]:  # still held: nobody else is in
      os.unlink(path)
      for folder in created:  # the run directory first, then the parents made for it
        try:
          os.rmdir(folder)
        except OSError:  # not empty (another run's), or not ours to remove
          break
    f.close()  # releases the lock


def _missing_folders(run_dir):
  """The folders of run_dir's path that do not exist yet, deepest first."""
  out, folder = [], os.path.abspath(run_dir)
  while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
    out.append(folder)
    folder = os.path.dirname(folder)
  return out


def _lock(run_dir, path):
  """The open, flock-ed lock file at `path`: retried when the file was removed or
  replaced between opening and locking it (its holder cleaned up a failed start).
  Raises:
    RunDirError: another process holds the lock.
  """
  while True:
    try:
      f = open(path, 'a+', encoding='utf-8')  # pylint: disable=consider-using-with
    except FileNotFoundError:  # the folder was removed by a failed start's cleanup
      make_writable_dir(run_dir)
      continue
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      f.seek(0)
      holder = f.read().strip() or 'another process'
      f.close()
      raise RunDirError('run directory %s is in use by %s (it holds %s); two trainers in '
                        'one run directory would overwrite each other\'s steps. Wait for it '
                        'to end, stop it, or use another --run_dir.' % (run_dir, holder, path))
    try:
      same = os.path.samestat(os.fstat(f.fileno()), os.stat(path))
    except FileNotFoundError:
      same = False
    if same:
      return f
    f.close()
