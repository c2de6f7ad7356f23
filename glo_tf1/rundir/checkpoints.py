"""TensorFlow checkpoints in a run directory: listing them (never outside RUN), choosing
a step for a reader, repairing a torn or moved run for a resume, and checking that a
checkpoint fits the model about to restore it."""
import os
import re

from google.protobuf import text_format

from glo_tf1.compat import tf
from glo_tf1.rundir import CHECKPOINT_STATE
from glo_tf1.rundir import DAMAGED_NAME
from glo_tf1.rundir import RunDirError

_CKPT_RE = re.compile(r'^model\.ckpt-(\d+)\.index$')


def _exists(prefix):
  return os.path.isfile(prefix + '.index')


def _state_paths(run_dir):
  """The paths RUN/checkpoint names, newest last, as written (absolute in runs written
  before save_relative_paths); None without the file, [] when it is unreadable."""
  path = os.path.join(run_dir, CHECKPOINT_STATE)
  if not os.path.exists(path):
    return None
  state = tf.train.generate_checkpoint_state_proto(run_dir, 'x')
  state.Clear()
  try:
    with open(path, encoding='utf-8') as f:
      text_format.Merge(f.read(), state)
  except (OSError, UnicodeDecodeError, text_format.ParseError):
    return []
  paths = [p for p in state.all_model_checkpoint_paths if p != state.model_checkpoint_path]
  return paths + ([state.model_checkpoint_path] if state.model_checkpoint_path else [])


def _inside(run_dir, path):
  """The checkpoint `path` (as RUN/checkpoint names it) as a prefix inside run_dir, or None.

  A relative path is relative to run_dir. An absolute one (a run written before relative
  paths, then copied or moved) is looked up by its shortest tail that exists in run_dir
  ('/old/run/model.ckpt-20' -> RUN/model.ckpt-20; a remap's 'remap-7/model.ckpt-7'); the
  directory it names is never read.
  """
  if not os.path.isabs(path):
    prefix = os.path.join(run_dir, path)
    return prefix if _exists(prefix) else None
  parts = [p for p in path.split(os.sep) if p]
  for k in range(1, len(parts) + 1):
    prefix = os.path.join(run_dir, *parts[-k:])
    if _exists(prefix):
      return prefix
  return None


def _scan(run_dir):
  """Checkpoint prefixes present in run_dir and in a remap's stage folders, oldest first."""
  found = []
  for folder in [''] + sorted(d for d in os.listdir(run_dir) if d.startswith('remap-')):
    full = os.path.join(run_dir, folder)
    if not os.path.isdir(full):
      continue
    for name in os.listdir(full):
      match = _CKPT_RE.match(name)
      if match:
        prefix = os.path.join(full, name[:-len('.index')])
        found.append((int(match.group(1)), os.path.getmtime(prefix + '.index'), prefix))
  return [p for _, _, p in sorted(found)]


def checkpoint_step(prefix):
  """The global step in a `model.ckpt-STEP` name, or None."""
  tail = str(prefix).rsplit('-', 1)[-1]
  return int(tail) if tail.isdigit() else None


def find_checkpoints(run_dir):
  """(prefixes oldest first, notes): the checkpoints of run_dir, never outside it.

  From RUN/checkpoint, its paths resolved inside run_dir (`_inside`); when that file is
  missing or names none of the checkpoints present, from the files present (by step).
  Raises:
    RunDirError: RUN/checkpoint names as newest a checkpoint that is not in run_dir.
  """
  named = _state_paths(run_dir)
  present = _scan(run_dir) if os.path.isdir(run_dir) else []
  notes = []
  if named is None or not named:
    if present:
      notes.append('%s is %s; rebuilt from the %d checkpoint(s) present (newest: %s)'
                   % (os.path.join(run_dir, CHECKPOINT_STATE),
                      'missing' if named is None else 'unreadable', len(present),
                      os.path.basename(present[-1])))
    return present, notes
  resolved = [_inside(run_dir, p) for p in named]
  if resolved[-1] is None:
    raise RunDirError(
        '%s names %s as the newest checkpoint, but it is not in %s (a run directory copied '
        'without it?). Copy it in, or remove %s to resume from the newest checkpoint '
        'present%s.' % (os.path.join(run_dir, CHECKPOINT_STATE), named[-1], run_dir,
                        CHECKPOINT_STATE, ' (%s)' % os.path.basename(present[-1])
                        if present else ' (there is none: the run would start over)'))
  outside = [p for p, r in zip(named, resolved)
             if r is not None and os.path.isabs(p) and
             os.path.realpath(p) != os.path.realpath(r)]
  if outside:
    notes.append('%s named checkpoints in another directory (%s: a copied or moved run); '
                 'the ones in %s are used' % (os.path.join(run_dir, CHECKPOINT_STATE),
                                              os.path.dirname(outside[-1]), run_dir))
  return [r for r in resolved if r is not None], notes


def unreadable(prefix):
  """Why the checkpoint at `prefix` does not read back completely (every tensor read,
  checksums included), or None when it does."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except
    # Damaged files raise DataLossError, but also IndexError ('Read less bytes than
    # requested'), ValueError or OSError: anything here means it does not read back.
    lines = str(e).strip().splitlines()
    return '%s: %s' % (type(e).__name__, lines[0] if lines else 'no message')
  return None


def newest_intact(run_dir):
  """(prefix or None, [(torn prefix, reason)]): the newest checkpoint that reads back, and
  the newer ones that do not. Reads only (readers and error messages use it)."""
  prefixes, _ = find_checkpoints(run_dir)
  torn = []
  for prefix in reversed(prefixes):
    reason = unreadable(prefix)
    if reason is None:
      return prefix, torn
    torn.append((prefix, reason))
  return None, torn


def repair_checkpoints(run_dir):
  """Makes RUN/checkpoint name, relative to run_dir, the intact checkpoints present (the
  trainer's chief calls it, holding the lock, before a session restores).

  * absolute paths (runs written before relative paths; a copied or moved run) become
    relative, resolved inside run_dir: a resume never restores nor deletes another
    directory's files;
  * a missing or unreadable RUN/checkpoint is rebuilt from the checkpoints present (the
    run does not silently start over);
  * newest checkpoints that do not read back (a torn write) are moved to RUN/damaged/,
    and the run resumes from the newest intact one.
  Prints a line for each repair; returns the prefix to resume from (None: a new run).
  Raises:
    RunDirError: checkpoints are present but none reads back, or the newest named one
      is not in run_dir.
  """
  prefixes, notes = find_checkpoints(run_dir)
  while prefixes:
    reason = unreadable(prefixes[-1])
    if reason is None:
      break
    torn = prefixes.pop()
    if not prefixes:
      raise RunDirError(
          'no checkpoint in %s reads back (the newest, %s: %s); resuming would start the '
          'run over. Restore the files from a backup, or move them away to start over.'
          % (run_dir, os.path.basename(torn), reason))
    moved = _move_damaged(run_dir, torn)
    notes.append('checkpoint %s does not read back (%s); moved to %s. Resuming from %s, the '
                 'newest intact one' % (os.path.basename(torn), reason, moved,
                                        os.path.basename(prefixes[-1])))
  if not prefixes:
    return None
  rel = [os.path.relpath(p, run_dir) for p in prefixes]
  if _state_paths(run_dir) != rel:  # an absolute save_dir: TensorFlow keeps `rel` as given
    tf.train.update_checkpoint_state(os.path.abspath(run_dir), rel[-1],
                                     all_model_checkpoint_paths=rel)
  for note in notes:
    print('note: %s.' % note, flush=True)
  return prefixes[-1]


# The files TensorFlow's Saver (V2) writes for one checkpoint prefix.
_CHECKPOINT_PART = r'\.(index|meta|data-\d{5}-of-\d{5})$'


def is_checkpoint_file(name, base=r'model\.ckpt-\d+'):
  """Whether file `name` is one TensorFlow's Saver wrote for a checkpoint of prefix
  `base` (a regular expression; default: any step): only those are ever moved."""
  return re.match(base + _CHECKPOINT_PART, name) is not None


def _move_damaged(run_dir, prefix):
  """Moves the torn checkpoint's own files (TensorFlow's names for `prefix`, nothing else
  of the same stem: a user's model.ckpt-10.notes stays) into RUN/damaged/, or into
  damaged/PREFIX-k/ when damaged/ already holds one of those names: nothing is replaced."""
  base, source = os.path.basename(prefix), os.path.dirname(prefix)
  names = [n for n in os.listdir(source) if is_checkpoint_file(n, re.escape(base))]
  folder, k = os.path.join(run_dir, DAMAGED_NAME), 0
  while any(os.path.lexists(os.path.join(folder, n)) for n in names):
    k += 1
    folder = os.path.join(run_dir, DAMAGED_NAME, '%s-%d' % (base, k))
  os.makedirs(folder, exist_ok=True)
  for name in names:
    os.replace(os.path.join(source, name), os.path.join(folder, name))
  return folder


def latest_checkpoint(run_dir, checkpoint=None):
  """Path of `checkpoint` (a path or a step number) or of the newest checkpoint in run_dir,
  either of which must read back completely (readers: glo-evaluate, glo-figures, ...).

  Reads only, never outside run_dir for a step number or the default (see
  `find_checkpoints`). A newest checkpoint that does not read back is refused, not
  replaced by an older one: a report or figure must be of the step the run reached unless
  the user names another (--checkpoint); glo-train's resume moves it aside. One that
  vanishes while being read (pruned by a running trainer) is looked for again.
  Raises:
    RunDirError: no such checkpoint, none at all, or the one asked for (or the newest)
      does not read back, naming its files and the newest intact one.
  """
  if checkpoint is not None:  # step 0 is a step
    if str(checkpoint).isdigit():
      prefixes, _ = find_checkpoints(run_dir)
      path = next((p for p in prefixes if checkpoint_step(p) == int(checkpoint)),
                  os.path.join(run_dir, 'model.ckpt-%s' % checkpoint))
      if not tf.train.checkpoint_exists(path):
        raise RunDirError('run %s has no checkpoint of step %s (its steps: %s)' % (
            run_dir, checkpoint, ', '.join(str(checkpoint_step(p)) for p in prefixes)
            or 'none'))
    else:
      path = checkpoint
    if not tf.train.checkpoint_exists(path):
      raise RunDirError('checkpoint %s does not exist' % path)
    reason = unreadable(path)
    if reason is not None:
      raise RunDirError('checkpoint %s does not read back (%s): its files %s.* are '
                        'damaged (a truncated write or copy). Restore them from a backup, '
                        'or choose another --checkpoint%s.' % (
                            path, reason, path, _intact_hint(run_dir)))
    return path
  for _ in range(3):
    path, torn = newest_intact(run_dir)
    damaged = [(p, r) for p, r in torn if _exists(p)]
    if damaged:
      newest, reason = damaged[0]
      raise RunDirError(
          'the newest checkpoint of %s, %s (step %s), does not read back (%s): its files are '
          'damaged (a truncated write or copy). It is not replaced by an older step '
          'unasked: restore it from a backup, pass --checkpoint to evaluate another step%s, '
          'or resume training (glo-train moves it to %s/ and continues from the newest '
          'intact one).' % (run_dir, newest, checkpoint_step(newest), reason,
                            _intact_hint(run_dir), DAMAGED_NAME))
    if not torn:
      break
  if path is None:
    raise RunDirError('run directory %s has no checkpoint' % run_dir)
  return path


def _intact_hint(run_dir):
  """' (the newest intact one: step N)', or '' when there is none."""
  path, _ = newest_intact(run_dir)
  return '' if path is None else ' (the newest intact one: step %s)' % checkpoint_step(path)


def check_fits(prefix, shapes, source):
  """Refuses a checkpoint whose variables have other shapes than the model's.

  Args:
    prefix: the checkpoint.
    shapes: {variable name: shape list} of the model about to restore it.
    source: what defines the model, for the message (e.g. 'RUN/config.json').
  Raises:
    RunDirError: listing each variable whose shape differs (saved -> model).
  """
  try:
    saved = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
  except (tf.errors.OpError, ValueError) as e:
    raise RunDirError('checkpoint %s cannot be read: %s' % (prefix, str(e).strip()[:200]))
  diffs = ['  %s: %s -> %s' % (n, list(saved[n]), list(s))
           for n, s in sorted(shapes.items()) if n in saved and list(saved[n]) != list(s)]
  if diffs:
    raise RunDirError(
        'checkpoint %s does not fit the model of %s (another run\'s checkpoint, or a '
        'settings file edited after training?). Shapes (checkpoint -> model):\n%s'
        % (prefix, source, '\n'.join(diffs[:10])))


def variable_shapes(variables):
  """{checkpoint name: full shape} of graph variables (a partitioned variable's blocks are
  saved under the whole variable's name and shape)."""
  out = {}
  for v in variables:
    info = v._get_save_slice_info()  # pylint: disable=protected-access
    if info is not None:
      out[info.full_name] = list(info.full_shape)
    else:
      out[v.op.name] = v.shape.as_list()
  return out
