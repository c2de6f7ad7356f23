"""What a run gives TensorBoard beyond its summaries: the Projector's codes and the HParams
dashboard's settings (docs/training.md, "What TensorBoard shows").

The Projector reads RUN/projector_config.pbtxt. Without a `model_checkpoint_path` there,
it falls back to the run's newest training checkpoint and shows every 2-D variable in it
as an embedding: `codes`, its Adam slots `codes/Adam` and `codes/Adam_1` (TF1 slot names,
which it cannot tell from embeddings) and the dense decoder weights. So the config names a
small checkpoint of its own, RUN/projector/codes.ckpt, holding one variable, `codes`: the
learned codes of at most MAX_PROJECTED images (all of them below that; above, a subset
drawn with the run's seed), labelled by their file names from manifest.tsv and drawn from
a sprite of those images as the trainer sees them (crop, resize), SPRITE_PX px each.
"""
import os
from io import BytesIO

import numpy as np

from glo_tf1 import io
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import decoders as decoder_lib

MAX_PROJECTED = 10000  # codes in the Projector: 100 x 100 sprite tiles, 3,200 px square
SPRITE_PX = 32         # a sprite tile's side (the image size, if smaller)
PROJECTOR_DIR = 'projector'
CONFIG_NAME = 'projector_config.pbtxt'  # the Projector's fixed file name, in RUN


def projected_rows(num_codes, seed, cap=MAX_PROJECTED):
  """The code rows the Projector shows, sorted: all below `cap`; else `cap` of them,
  drawn without replacement by numpy's generator seeded with the run's `seed`."""
  if num_codes <= cap:
    return np.arange(num_codes)
  return np.sort(np.random.default_rng(seed).choice(num_codes, cap, replace=False))


def metadata_tsv(run_dir, rows, paths):
  """The Projector's labels: a header, then `index<TAB>file` of each row, file names from
  RUN/manifest.tsv (escaped as messages show them, so a tab or newline cannot split a
  row); without a manifest (a run trained by loop.train alone), the paths' base names."""
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
  if os.path.exists(manifest_path):
    names = {int(i): n for i, n, _, _ in files.read_manifest(manifest_path)}
  else:
    names = {i: os.path.basename(p) for i, p in enumerate(paths)}
  return 'index\tfile\n' + ''.join('%d\t%s\n' % (r, files.shown(names[int(r)]))
                                   for r in rows)


def sprite_png(paths, cfg):
  """One PNG of the images at `paths` as the trainer sees them, SPRITE_PX px each, row
  by row on a square grid (the Projector's sprite layout). Returns (bytes, tile px)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  size = min(SPRITE_PX, cfg['image_size'])
  with tf.Graph().as_default(), tf.Session() as sess:
    batches = [b for _, b in pipelines.iterate_in_order(sess, paths, 256, size,
                                                        cfg['tight_crop'], cfg['channels'])]
  tiles = np.round((np.concatenate(batches) + 1.) * 127.5).clip(0, 255).astype(np.uint8)
  side = int(np.ceil(np.sqrt(len(tiles))))
  sheet = np.zeros((side * size, side * size, cfg['channels']), np.uint8)
  for k, tile in enumerate(tiles):
    r, c = divmod(k, side)
    sheet[r * size:(r + 1) * size, c * size:(c + 1) * size] = tile
  image = Image.fromarray(sheet[..., 0] if cfg['channels'] == 1 else sheet)
  buf = BytesIO()
  image.save(buf, format='PNG')
  return buf.getvalue(), size


def projector_config(checkpoint, num_rows, dims, tile):
  """The text of projector_config.pbtxt: one embedding, `codes`."""
  return ('model_checkpoint_path: "%s"\n'
          'embeddings {\n'
          '  tensor_name: "codes"\n'
          '  tensor_shape: %d\n  tensor_shape: %d\n'
          '  metadata_path: "%s/metadata.tsv"\n'
          '  sprite {\n    image_path: "%s/sprite.png"\n'
          '    single_image_dim: %d\n    single_image_dim: %d\n  }\n'
          '}\n' % (checkpoint, num_rows, dims, PROJECTOR_DIR, PROJECTOR_DIR, tile, tile))


def save_codes_checkpoint(path, values):
  """A checkpoint at `path` holding one float32 variable, `codes` = `values`."""
  with tf.Graph().as_default():
    value = tf.placeholder(tf.float32, values.shape)
    var = tf.Variable(value, name='codes')
    saver = tf.train.Saver([var], write_version=tf.train.SaverDef.V2)
    with tf.Session() as sess:
      sess.run(var.initializer, {value: values})
      saver.save(sess, path, write_meta_graph=False, write_state=False)


def write_projector(run_dir, cfg, paths, rows, values):
  """Writes RUN/projector/ (codes.ckpt, metadata.tsv, sprite.png) and
  RUN/projector_config.pbtxt for the code `rows` and their `values` [len(rows), dims].
  The sprite is redrawn only when the labels changed (a first write, changed data)."""
  out = os.path.join(run_dir, PROJECTOR_DIR)
  os.makedirs(out, exist_ok=True)
  save_codes_checkpoint(os.path.join(out, 'codes.ckpt'), np.asarray(values, np.float32))
  labels = metadata_tsv(run_dir, rows, paths)
  meta_path, sprite_path = os.path.join(out, 'metadata.tsv'), os.path.join(out, 'sprite.png')
  old = None
  if os.path.exists(meta_path):
    with open(meta_path, encoding='utf-8') as f:
      old = f.read()
  tile = min(SPRITE_PX, cfg['image_size'])
  if old != labels or not os.path.exists(sprite_path):
    png, tile = sprite_png([paths[int(r)] for r in rows], cfg)
    with io.atomic_open(sprite_path, 'wb') as f:
      f.write(png)
    io.write_text_atomic(meta_path, labels)
  io.write_text_atomic(os.path.join(run_dir, CONFIG_NAME), projector_config(
      os.path.join(os.path.abspath(out), 'codes.ckpt'), len(rows), values.shape[1], tile))


class ProjectorHook(tf.train.SessionRunHook):
  """At the end of a session that trained (also after Ctrl-C / SIGTERM), writes the
  Projector's files (write_projector) from the codes it has reached. Chief only."""

  def __init__(self, codes, cfg, paths, run_dir):
    self._cfg, self._paths, self._run_dir = cfg, paths, run_dir
    self._rows = projected_rows(len(paths), cfg['seed'])
    with tf.name_scope('projector'):  # built after the model: no random op's seed moves
      self._values = codes_lib.rows(codes, tf.constant(self._rows, tf.int64))
    self._stepped = False

  def after_run(self, run_context, run_values):  # pylint: disable=unused-argument
    self._stepped = True

  def end(self, session):
    if self._stepped:  # a resume already at num_steps writes nothing
      write_projector(self._run_dir, self._cfg, self._paths, self._rows,
                      session.run(self._values))


LOSS_TAG = 'losses/losses/total'  # towers.build_training_graph's loss scalar


def hparams_value(value):
  """A setting as the HParams dashboard takes it: bool, number or string (lists and None
  as their text)."""
  if isinstance(value, (bool, int, float, str)):
    return value
  return str(value)


def hparams_summaries(cfg):
  """Serialized Summary protos of the HParams plugin (protobuf only, no TF ops, so they
  work in graph mode): the experiment (every setting; the loss, the last point of the loss
  curve, as the metric) and this run's session start (its settings). HParam and Metric
  are summary_v2's: the plugin's `api` module, which re-exports them, also defines its
  Keras callback, and importing it loaded all of Keras 3 (1.4 s of CPU) into every
  training process."""
  from tensorboard.plugins.hparams import summary_v2  # pylint: disable=import-outside-toplevel
  values = {k: hparams_value(v) for k, v in sorted(cfg.items())}
  experiment = summary_v2.hparams_config_pb(
      [summary_v2.HParam(k) for k in values],
      [summary_v2.Metric(LOSS_TAG, display_name='loss (last)'),
       summary_v2.Metric('perf/images_per_sec', display_name='images/s')])
  # No trial id: the plugin groups runs by their settings (repeats of one configuration
  # form one group), and run directories of one name in different folders stay apart.
  start = summary_v2.hparams_pb(values)
  return [experiment.SerializeToString(), start.SerializeToString()]


class HParamsHook(tf.train.SessionRunHook):
  """Writes the run's settings for the HParams dashboard when a session starts that will
  train (not a resume already at `num_steps`). Chief only. TensorBoard reads the first
  record's (a run started before this hook existed gets them at its next resume)."""

  def __init__(self, cfg, run_dir):
    self._cfg, self._run_dir = cfg, run_dir

  def after_create_session(self, session, coord):  # pylint: disable=unused-argument
    step = int(session.run(tf.train.get_global_step()))
    if self._cfg['num_steps'] and step >= self._cfg['num_steps']:
      return
    writer = tf.summary.FileWriterCache.get(self._run_dir)
    for summary in hparams_summaries(self._cfg):
      writer.add_summary(summary, step)
    writer.flush()


def histogram_summaries(codes, num_codes, seed, collections=None):
  """Histograms at the scalar cadence (the default collection, which the scalar hook
  writes): `codes/norm`, the L2 norms of the stored (raw) codes of the Projector's rows
  (all codes up to MAX_PROJECTED, so the cost is bounded on any data set, partitioned or
  not), and each decoder weight tensor under `weights/`. Reads variables only: no random
  op, so no seed moves. Only finite values are binned: TensorFlow's histogram op fails on
  a NaN or an Inf, and a diverged run must stop through the loss guard, which names the
  step (training/faults.py), not crash in a summary. Returns the summary ops."""
  rows = projected_rows(num_codes, seed)
  with tf.name_scope('histograms'):
    norms = finite(tf.norm(codes_lib.rows(codes, tf.constant(rows, tf.int64)), axis=1))
    weights = [(var.op.name, finite(var)) for var in tf.trainable_variables(decoder_lib.SCOPE)
               if var.op.name.endswith('weights')]
  # Outside the name scope: the tags are the names given, not histograms/...
  out = [tf.summary.histogram('codes/norm', norms, collections=collections)]
  out += [tf.summary.histogram('weights/' + name, values, collections=collections)
          for name, values in weights]
  return out


def finite(values):
  """The finite entries of `values`, flattened (a histogram's input)."""
  values = tf.reshape(values, [-1])
  return tf.boolean_mask(values, tf.math.is_finite(values))
