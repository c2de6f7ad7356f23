"""Continues a run on a changed data set: rewrites its checkpoint for the new file list.

Codes are rows of one variable addressed by position in the sorted file list (files.py),
so adding, removing or renaming a file shifts the positions of others. A resume against a
changed list is refused (rundir/manifest.py); with `--allow_changed_data` the
newest checkpoint is rewritten instead, mapping every code by file NAME:

* a file with the same name, size and content hash as before keeps its code row and its
  rows of the optimizer slots on the codes (Adam's m and v);
* a new, renamed or modified file gets a fresh code, drawn as a new run would draw it
  (`codes_init`: glorot uniform for the new table's shape, or N(0, 1); 'pca' draws glorot,
  PCA is only computed at the start of a run), seeded by (seed, step), and zero slot rows
  (Adam's starting state). Adam's beta powers are shared by all rows and are not reset, so
  a new row's first Adam steps are up to ~3x larger than on a fresh run;
* files no longer present lose their rows; every other variable (decoder, batch-norm
  statistics, beta powers, global step) is copied unchanged.

Nothing is lost if the process dies half-way: the new checkpoint and manifest are first
written in full into RUN/remap-STEP/, then a journal (RUN/remap.json) commits the switch,
which is finished (idempotently) by `finish_pending` - also at the start of the next run.
The replaced checkpoint and manifest stay in RUN/remap-STEP/before/.
"""
import os

import numpy as np

from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.model import codes as codes_lib
from glo_tf1.rundir import checkpoints as run_checkpoints

JOURNAL_NAME = 'remap.json'


def row_mapping(old_manifest, new_manifest):
  """old row index of each new row, or -1 for a new, renamed or modified file."""
  old = {n: (i, s, h) for i, n, s, h in old_manifest}
  out = []
  for _, n, s, h in new_manifest:
    i, os_, oh = old.get(n, (-1, None, None))
    out.append(i if (os_, oh) == (s, h) else -1)
  return np.asarray(out, np.int64)


def changed_names(old_manifest, new_manifest):
  """Names of `new_manifest` that are new or modified since `old_manifest`."""
  return [n for (_, n, _, _), i in zip(new_manifest, row_mapping(old_manifest, new_manifest))
          if i < 0]


def fresh_codes(num, num_codes, dims, codes_init, seed):
  """`num` rows drawn like codes.initializer draws a (num_codes, dims) table."""
  return codes_lib.fresh_codes(np.random.RandomState(seed % (2 ** 32)), num, num_codes, dims,
                               codes_init)


def _is_code_rows(name, shape, num_old, dims):
  return ((name == codes_lib.CODES_NAME or name.startswith(codes_lib.CODES_NAME + '/'))
          and list(shape) == [num_old, dims])


def remapped_values(reader, mapping, cfg, step):
  """{checkpoint key: new value} for a reader of the old checkpoint."""
  shapes = reader.get_variable_to_shape_map()
  num_old, dims = shapes[codes_lib.CODES_NAME]
  fresh = mapping < 0
  kept = np.maximum(mapping, 0)
  out = {}
  for name in sorted(shapes):
    value = reader.get_tensor(name)
    if _is_code_rows(name, shapes[name], num_old, dims):
      new = value[kept]
      if name == codes_lib.CODES_NAME:
        new[fresh] = fresh_codes(int(fresh.sum()), len(mapping), dims, cfg['codes_init'],
                                 cfg['seed'] * 1000003 + step)
      else:
        new[fresh] = 0.
      value = new
    out[name] = value
  return out


def write_checkpoint(values, prefix):
  """Writes {key: numpy value} as a TensorFlow checkpoint at `prefix`; returns its path."""
  with tf.Graph().as_default():
    feeds, var_list = {}, {}
    for i, (name, value) in enumerate(sorted(values.items())):
      ph = tf.placeholder(tf.as_dtype(value.dtype), value.shape)
      var = tf.Variable(ph, name='v%d' % i, trainable=False)
      feeds[ph] = value
      var_list[name] = var
    saver = tf.train.Saver(var_list=var_list, sharded=False)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer(), feeds)
      return saver.save(sess, prefix, write_meta_graph=False, write_state=False)


def _journal(run_dir):
  return os.path.join(run_dir, JOURNAL_NAME)


def finish_pending(run_dir):
  """Completes a remap whose journal was committed (idempotent); True if there was one."""
  path = _journal(run_dir)
  if not os.path.exists(path):
    return False
  job = io.read_json(path)
  stage = os.path.join(run_dir, job['stage'])
  tf.train.update_checkpoint_state(run_dir, job['checkpoint'],
                                   all_model_checkpoint_paths=[job['checkpoint']])
  before = os.path.join(stage, 'before')
  os.makedirs(before, exist_ok=True)
  for name in sorted(os.listdir(run_dir)):
    if (run_checkpoints.is_checkpoint_file(name) and
        os.path.isfile(os.path.join(run_dir, name))):
      os.replace(os.path.join(run_dir, name), os.path.join(before, name))
  files.write_manifest(os.path.join(run_dir, files.MANIFEST_NAME),
                       files.read_manifest(os.path.join(stage, files.MANIFEST_NAME)))
  os.remove(path)
  return True


def remap_run(run_dir, cfg, new_manifest):
  """Rewrites RUN's newest checkpoint and manifest for `new_manifest` (see module doc).

  Returns:
    dict with counts kept / fresh / dropped, the step, and the new checkpoint path (None
    when the run had no checkpoint yet: then only the manifest is replaced).
  """
  old_manifest = files.read_manifest(os.path.join(run_dir, files.MANIFEST_NAME))
  mapping = row_mapping(old_manifest, new_manifest)
  summary = {'kept': int((mapping >= 0).sum()), 'fresh': int((mapping < 0).sum()),
             'dropped': len(old_manifest) - int((mapping >= 0).sum()), 'step': 0,
             'checkpoint': None}
  ckpt = tf.train.latest_checkpoint(run_dir)
  if ckpt is None:
    files.write_manifest(os.path.join(run_dir, files.MANIFEST_NAME), new_manifest)
    return summary
  reader = tf.train.load_checkpoint(ckpt)
  num_old = reader.get_variable_to_shape_map()[codes_lib.CODES_NAME][0]
  if num_old != len(old_manifest):
    raise rundir.RunDirError(
        'checkpoint %s has %d codes but %s lists %d files; cannot map codes to files'
        % (ckpt, num_old, files.MANIFEST_NAME, len(old_manifest)))
  step = int(reader.get_tensor('global_step'))
  values = remapped_values(reader, mapping, cfg, step)
  stage_name, k = 'remap-%d' % step, 1
  while os.path.exists(os.path.join(run_dir, stage_name)):  # never write over a live one
    k += 1
    stage_name = 'remap-%d-%d' % (step, k)
  stage = os.path.join(run_dir, stage_name)
  os.makedirs(stage, exist_ok=True)
  write_checkpoint(values, os.path.join(stage, 'model.ckpt-%d' % step))
  files.write_manifest(os.path.join(stage, files.MANIFEST_NAME), new_manifest)
  files.write_manifest(os.path.join(stage, 'manifest.before.tsv'), old_manifest)
  rel = os.path.join(stage_name, 'model.ckpt-%d' % step)
  io.write_json(_journal(run_dir), {'stage': stage_name, 'checkpoint': rel,
                                             'step': step, 'replaced': ckpt})
  finish_pending(run_dir)
  summary.update(step=step, checkpoint=os.path.join(run_dir, rel),
                 before=os.path.join(stage, 'before'))
  return summary


def continue_with(run_dir, cfg, new_manifest):
  """For --allow_changed_data: remaps RUN when its data changed, printing what it did."""
  path = os.path.join(run_dir, files.MANIFEST_NAME)
  if not os.path.exists(path):
    return
  diffs = files.manifest_differences(files.read_manifest(path), new_manifest)
  if not diffs:
    return
  print('The data changed since this run started (--allow_changed_data):\n  %s'
        % '\n  '.join(diffs), flush=True)
  s = remap_run(run_dir, cfg, new_manifest)
  print('Codes mapped by file name: %d kept, %d new (fresh codes), %d dropped; checkpoint '
        'of step %d rewritten as %s (the replaced one is kept in %s).'
        % (s['kept'], s['fresh'], s['dropped'], s['step'], s['checkpoint'],
           s.get('before')), flush=True)
