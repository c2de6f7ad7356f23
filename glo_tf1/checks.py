"""The three questions every program asks of its arguments, each answered once.

  is_int      an integer and not a bool (True is an int to Python; a flag or a JSON value
              of true must not pass for 1);
  inside      whether a path is a folder or lies under it, symbolic links and '..' resolved;
  unwritable  why a file cannot be created in a folder, or None when it can.

A leaf of the stack (docs/layout.md): it imports nothing of glo_tf1, so the settings schema,
training, evaluation and the programs all ask here and word the refusal for their user.
"""
import numbers
import os
import tempfile


def is_int(value):
  """Whether `value` is an integer (Python's or NumPy's) and not a bool."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def inside(path, folder):
  """Whether `path` is `folder` or lies under it, both resolved (symbolic links and '..'),
  so a link or a '../' cannot hide that one is in the other."""
  path, folder = os.path.realpath(path), os.path.realpath(folder)
  return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def unwritable(folder, create=False):
  """Why files cannot be written in `folder`, or None when they can: 'does not exist', 'is
  a file, not a folder', 'cannot be created (REASON)' or 'is not writable (REASON)', REASON
  in the system's words, to follow the folder's name in a message.

  The one test that cannot be fooled is to write: a temporary file is created there and
  removed (os.access says yes to root on a read-only file system's files and knows no
  quota). With `create`, a missing folder is made first (and its parents), as a program
  does before it writes its outputs.
  """
  if create and not os.path.lexists(folder):
    try:
      os.makedirs(folder, exist_ok=True)
    except OSError as e:
      return 'cannot be created (%s)' % (e.strerror or e)
  if not os.path.isdir(folder):
    return 'is a file, not a folder' if os.path.exists(folder) else 'does not exist'
  try:
    tempfile.TemporaryFile(dir=folder).close()
  except OSError as e:
    return 'is not writable (%s)' % (e.strerror or e)
  return None
