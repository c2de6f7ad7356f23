"""Checkpoints and the run directory.

A run directory holds everything a run is: TensorFlow checkpoints and event files, the
resolved config (`config.json`), the ordered file list (`manifest.tsv`, see files.py) and
`provenance.json` (versions, commit, devices, the GPUs with their driver and the CUDA stack,
towers, where the variables live, precision, seed). Running the same
command again resumes from it (the post's timestamped directories never resumed, defect 4).
"""
import contextlib
import fcntl
import os
import platform
import re
import subprocess
import sys
import time

from google.protobuf import text_format

from glo_tf1.version import __version__
from glo_tf1 import checks
from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.compat import TF_VERSION
from glo_tf1.data import files
from glo_tf1.deploy import devices
from glo_tf1.model.decoders import geometry

CONFIG_NAME = 'config.json'
PROVENANCE_NAME = 'provenance.json'


class RunDirError(settings.UserError):
  """The run directory cannot be used as asked; the message says why."""


def read_config(run_dir):
  """The run's config.json as this version reads it (settings.migrate: any past format,
  checked against the version that trained the run), validated; None for a new run
  directory.

  Raises:
    RunDirError: naming the file and the setting (not a flag: the user gave none).
  """
  path = os.path.join(run_dir, CONFIG_NAME)
  saved = io.read_json(path)
  if saved is None:
    return None
  trained_by = io.read_json(os.path.join(run_dir, PROVENANCE_NAME), missing={}).get(
      'glo_tf1_version')
  try:
    cfg = settings.migrate(saved, trained_by)
  except settings.ConfigError as e:
    raise RunDirError('%s: %s' % (path, str(e)[len('--config: '):])) from None
  try:
    return settings.validate(cfg)
  except settings.ConfigError as e:
    raise RunDirError('%s (edited by hand?): %s' % (path, str(e).lstrip('-'))) from None


def saved_config(cfg):
  """`cfg` as config.json (and provenance.json, reports) store it: settings.to_saved with
  the filters the decoder really has (decoders/geometry.filters_used)."""
  return settings.to_saved(cfg, geometry.filters_used(cfg))


def write_config(run_dir, cfg):
  io.write_json(os.path.join(run_dir, CONFIG_NAME), saved_config(cfg))


def make_writable_dir(run_dir):
  try:
    os.makedirs(run_dir, exist_ok=True)
  except OSError as e:
    raise RunDirError('cannot create run directory %s: %s' % (run_dir, e.strerror or e))
  why = checks.unwritable(run_dir)
  if why:
    raise RunDirError('run directory %s %s' % (run_dir, why))


def resolve_for_run(run_dir, preset, overrides):
  """The config of a new run, or of the run being resumed in `run_dir`.

  On resume, the settings of settings.FIXED_ON_RESUME must not change; anything else
  (steps, logging, checkpoint cadence, threads, placement) may.
  Raises:
    RunDirError: listing every differing setting.
  """
  saved = read_config(run_dir)
  if saved is None:
    return settings.resolve(preset or 'blog', overrides), False
  if preset and preset != saved.get('preset'):
    wanted = settings.resolve(preset, overrides)
  else:
    wanted = dict(saved)
    wanted.update(overrides)
    wanted = settings.validate(wanted)
  diffs = settings.fixed_differences(saved, wanted)
  if diffs:
    raise RunDirError(
        'run directory %s was created with other settings; resuming would change what its '
        'checkpoint means. Differing settings (saved -> asked):\n%s\nUse a new --run_dir, '
        'or drop these flags to resume.' % (run_dir, '\n'.join(
            '  %s: %r -> %r' % d for d in diffs)))
  return wanted, True


def check_manifest(run_dir, manifest):
  """Writes the manifest of a new run, or refuses a resume against another file list."""
  path = os.path.join(run_dir, files.MANIFEST_NAME)
  if not os.path.exists(path):
    files.write_manifest(path, manifest)
    return
  saved = files.read_manifest(path)
  diffs = files.manifest_differences(saved, manifest)
  if diffs:
    raise RunDirError(
        'the images differ from those this run was trained on (%s: %d files, now %d); '
        'resuming would attach codes to the wrong images. First differences:\n  %s\n'
        'To continue with the new set (codes stay with their files by name, new files get '
        'fresh codes), pass --allow_changed_data.'
        % (path, len(saved), len(manifest), '\n  '.join(diffs)))


def check_same_images(run_dir, manifest):
  """Refuses a cluster worker whose images differ from the chief's: same names with
  other contents would train the chief's codes against the wrong images.

  Raises:
    RunDirError: RUN/manifest.tsv is not visible here (the run directory is not shared)
      or differs from `manifest` (the chief's -> this worker's).
  """
  path = os.path.join(run_dir, files.MANIFEST_NAME)
  if not os.path.exists(path):
    raise RunDirError('%s: not found, though the chief has written it: --run_dir must be '
                      'one folder that every worker shares (docs/scaling.md)' % path)
  saved = files.read_manifest(path)
  diffs = files.manifest_differences(saved, manifest)
  if diffs:
    raise RunDirError('--data_dir: this worker\'s images differ from the chief\'s (%s: %d '
                      'files, here %d); every worker needs the same files. First '
                      'differences (the chief\'s -> this worker\'s):\n  %s'
                      % (path, len(saved), len(manifest), '\n  '.join(diffs)))


def git_commit():
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    out = subprocess.run(['git', '-C', here, 'rev-parse', 'HEAD'], capture_output=True,
                         text=True, timeout=10, check=False)
    commit = out.stdout.strip() or None
    dirty = subprocess.run(['git', '-C', here, 'status', '--porcelain', '--untracked-files=no'],
                           capture_output=True, text=True, timeout=10, check=False)
    if commit and dirty.stdout.strip():
      commit += '-dirty'
    return commit
  except (OSError, subprocess.SubprocessError):
    return None


def provenance(cfg, data_dir, num_images):
  """What a number in a paper needs to be traced back to this run."""
  import numpy  # pylint: disable=import-outside-toplevel
  import tf_slim  # pylint: disable=import-outside-toplevel
  try:  # physical devices: listing them creates no TensorFlow device on any GPU
    local = [d.name + ' (' + d.device_type + ')'
             for d in tf.config.experimental.list_physical_devices()]
  except Exception:  # pylint: disable=broad-except
    local = []
  try:
    slim_version = tf_slim.__version__
  except AttributeError:
    slim_version = '1.1.0'
  return {
      'glo_tf1_version': __version__,
      'git_commit': git_commit(),
      'tensorflow_version': TF_VERSION,
      'tf_slim_version': slim_version,
      'numpy_version': numpy.__version__,
      'python_version': platform.python_version(),
      'platform': platform.platform(),
      'devices': local,
      'gpus': devices.gpu_record(cfg),  # nvidia-smi's GPUs, driver, CUDA stack
      'towers': devices.describe_towers(cfg),
      'variables': devices.describe_variables(cfg),
      'precision': cfg['precision'],
      'seed': cfg['seed'],
      'deterministic': cfg['deterministic'],
      'preset': cfg['preset'],
      'data_dir': os.path.abspath(data_dir),
      'num_images': num_images,
      'started': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
      'config': saved_config(cfg),  # as config.json
  }


_RESUME_KEYS = ('started', 'git_commit', 'glo_tf1_version', 'tensorflow_version',
                'tf_slim_version', 'numpy_version', 'python_version', 'platform', 'devices',
                'gpus', 'towers', 'variables', 'precision')


def record_provenance(run_dir, cfg, data_dir, num_images, resumed):
  """Writes provenance.json for a new run; a resume appends what it ran with to `resumes`
  (a run continued under another commit or TensorFlow says so)."""
  path = os.path.join(run_dir, PROVENANCE_NAME)
  now = provenance(cfg, data_dir, num_images)
  record = io.read_json(path) if resumed else None
  if record is not None:
    record.setdefault('resumes', []).append({k: now[k] for k in _RESUME_KEYS})
    now = record
  io.write_json(path, now)
  return now


# ----------------------------------------------------------------------------- one writer

LOCK_NAME = 'lock'
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


# ----------------------------------------------------------------------------- checkpoints

CHECKPOINT_STATE = 'checkpoint'
DAMAGED_NAME = 'damaged'
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
