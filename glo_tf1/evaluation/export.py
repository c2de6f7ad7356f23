"""Samples, reconstructions and codes out of a trained run, for any FID tool (glo-sample).

  samples          N images of a sampler (unit, fitted diagonal, full covariance);
  reconstructions  GLO's reconstructions of image files (codes fitted, decoder frozen);
  codes            the learned codes of the training images, raw or projected;
  references       the training images as the trainer and the FID see them (crop,
                   resize, channels), for an external FID tool (docs/fid.md).

Output: a folder of PNG files (8-bit, the fixed map round((x + 1) * 127.5) of the
training summaries) or one .npz (images as uint8 [n, S, S, C], codes as float32). Work
goes in chunks of CHUNK images, each seeded by (seed, chunk index) alone, so an interrupted
export resumes where it stopped and gives the same files as an uninterrupted one: a
folder keeps its finished PNGs, an .npz its finished chunks in OUT.partial/ until the
last one is merged. EXPORT_META (in the folder, or OUT.partial/) records what is being
written and which chunks this export finished: a resume trusts only those (a file of
the output's name that it did not write is never taken for its own), and one that asks
for something else is refused, naming saved -> asked. `check_out` refuses, before
anything is loaded, an --out that is a file, not writable, inside the images read or the
run directory, or a folder of other files. This module imports no TensorFlow until it
writes an image, so glo-sample checks its --out before it loads a checkpoint. Before
the first image, `check_export_room` compares the export's estimated size (`export_bytes`,
an upper bound) with the free space (io.check_room), so an export that cannot fit is
refused before anything is written; one that fills the disk anyway stops with the error
of the write, its finished chunks kept for a resume.
"""
import os

import numpy as np

from glo_tf1 import checks
from glo_tf1 import io
from glo_tf1 import progress
from glo_tf1 import settings
from glo_tf1.data import check as data_check
from glo_tf1.data import files

CHUNK = 500
EXPORT_META = 'glo_sample.json'
WHATS = ('samples', 'reconstructions', 'codes', 'references')
_DONE = 'done_chunks'  # EXPORT_META's record of the chunks this export finished
_STARTED = 'started_chunks'  # ... and of those it began writing (recorded before the files)
_HINTS = {'files_sha256': ' (another file list, or files changed: the names, sizes and '
                          'contents of the images, in order)'}


def check_out(out, run_dir, data_dir=None):
  """Refuses an --out that cannot receive this export (settings.ConfigError naming it):
  a place inside `data_dir` (the exports would be read back as the images they are made
  of) or inside the run directory, a folder of other files (no EXPORT_META: a resume
  would take them for its own), a file where a folder goes (or under a file), an existing
  .npz, or a place that cannot be written (a temp file is tried in the nearest existing
  folder). Leaves nothing behind."""
  if data_dir and checks.inside(out, data_dir):
    raise settings.ConfigError('--out %s is %s --data_dir %s: the exports would mix with '
                               'the images they are made of; choose a place outside it' % (
                                   out, 'the very folder of' if os.path.realpath(out) ==
                                   os.path.realpath(data_dir) else 'inside', data_dir))
  if checks.inside(out, run_dir):
    raise settings.ConfigError('--out %s is inside the run directory %s; write the export '
                               'elsewhere' % (out, run_dir))
  npz = out.endswith('.npz')
  if npz and os.path.exists(out):
    raise settings.ConfigError('--out %s exists; choose another file or delete it' % out)
  folder = out + '.partial' if npz else out
  existing = os.path.abspath(folder)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise settings.ConfigError('--out %s: %s is a file, not a folder; %s' % (
        out, existing, 'give a folder for PNG files, or FILE.npz' if existing ==
        os.path.abspath(folder) else 'choose another place'))
  why = checks.unwritable(existing)
  if why:
    raise settings.ConfigError('--out %s: %s %s' % (out, existing, why))
  if os.path.isdir(folder) and os.listdir(folder) and not os.path.isfile(
      os.path.join(folder, EXPORT_META)):
    raise settings.ConfigError('--out %s already holds files that no glo-sample export '
                               'wrote (no %s); choose a new or empty folder'
                               % (folder, EXPORT_META))


def export_bytes(num, image_size, channels, latent_dims, npz, name_chars=12):
  """An upper bound on the bytes an export of `num` images takes on disk.

  A PNG takes at most io.png_bytes (its raw pixels and PNG's overhead, in whole
  blocks): GLO's smooth images compress, noise would not. An .npz holds the uint8
  images, the float32 codes and the names (4 bytes a character), twice: its chunks
  stay in OUT.partial/ until the merged file is written.
  """
  raw = image_size * image_size * channels
  if not npz:
    return num * io.png_bytes(image_size, image_size, channels) + io.BLOCK
  per_image = raw + 4 * latent_dims + 4 * name_chars
  chunks = -(-num // CHUNK)
  return 2 * (num * per_image + io.blocks(4096) * (chunks + 1)) + io.BLOCK


def check_export_room(out, num, cfg, name_chars=12):
  """Refuses (io.NoRoomError) an export of `num` images of the run config `cfg` that its
  file system cannot hold: `export_bytes` less what a resumed export already wrote."""
  npz = out.endswith('.npz')
  needed = export_bytes(num, cfg['image_size'], cfg['channels'], cfg['latent_dims'], npz,
                        name_chars)
  folder = out + '.partial' if npz else out
  needed -= io.used_bytes(folder)
  io.check_room(out, needed, 'the export of %d images' % num)


def output_names(names):
  """The PNG name of each source name, its extension replaced by .png; refuses two
  sources that would share one (a.jpg and a.png: the second would overwrite the first),
  naming the pair."""
  outs, seen = [], {}
  for name in names:
    png = os.path.splitext(name)[0] + '.png'
    if png in seen:
      raise settings.ConfigError(
          '%s and %s would both be written as %s; rename one, or leave one out with '
          '--file_list' % (files.shown(seen[png]), files.shown(name), files.shown(png)))
    seen[png] = name
    outs.append(png)
  return outs


def _check_meta(folder, meta):
  """Writes `meta` into folder/EXPORT_META, or checks it equals the one there; returns
  the chunks that the saved export recorded as finished, and those it began."""
  path = os.path.join(folder, EXPORT_META)
  saved = io.read_json(path, missing=None)
  done = set(saved.pop(_DONE, [])) if saved is not None else set()
  started = set(saved.pop(_STARTED, [])) if saved is not None else set()
  if saved is not None and saved != meta:
    hints = dict(_HINTS, step=' (--checkpoint %s resumes the saved export)' % saved.get('step'))
    diffs = ['  %s: %r -> %r%s' % (k, saved.get(k), meta.get(k), hints.get(k, ''))
             for k in sorted(set(saved) | set(meta)) if saved.get(k) != meta.get(k)]
    raise settings.ConfigError(
        '%s already holds another export (saved -> asked):\n%s\nchoose another --out or '
        'delete it' % (folder, '\n'.join(diffs)))
  if saved is None:
    os.makedirs(folder, exist_ok=True)
    io.write_json(path, meta)
  return done, started | done


class _Writer:
  """Writes chunks to a PNG folder or to OUT.partial/ chunks merged into OUT (.npz), and
  records each finished chunk in EXPORT_META: only those count as done on a resume.
  Only what this export wrote is replaced or removed: a chunk is recorded as started
  before its files are written, and a file of a chunk never started (a user's 000123.png
  put in the folder later) is refused, named, not overwritten."""

  def __init__(self, out, meta):
    self.out, self.npz, self.meta = out, out.endswith('.npz'), meta
    self.folder = out + '.partial' if self.npz else out
    self.finished, self.started = _check_meta(self.folder, meta)

  def _save_meta(self):
    io.write_json(os.path.join(self.folder, EXPORT_META),
                  dict(self.meta, **{_DONE: sorted(self.finished),
                                     _STARTED: sorted(self.started)}))

  def _start(self, c, names):
    """Records chunk c as this export's before its first file is written; refuses a file
    of its names that no chunk of this export wrote."""
    if c in self.started:
      return
    paths = [self._chunk_path(c)] if self.npz else [os.path.join(self.folder, n) for n in names]
    theirs = [p for p in paths if os.path.lexists(p)]
    if theirs:
      raise settings.ConfigError(
          '--out %s: %s %s not written by this export (chunk %d was never started); nothing '
          'was overwritten. Move %s, or choose another --out' % (
              self.out, ', '.join(files.shown(os.path.relpath(p, self.folder))
                                  for p in theirs[:3]) + (', ...' if len(theirs) > 3 else ''),
              'was' if len(theirs) == 1 else 'were', c, 'it' if len(theirs) == 1 else 'them'))
    self.started.add(c)
    self._save_meta()

  def _chunk_path(self, c):
    return os.path.join(self.folder, 'chunk_%05d.npz' % c)

  def done(self, c, names):
    """Chunk c was written by this export (its record) and its files are all there."""
    if c not in self.finished:
      return False
    if self.npz:
      return os.path.exists(self._chunk_path(c))
    return all(os.path.exists(os.path.join(self.folder, n)) for n in names)

  def write(self, c, names, pixels, codes):
    from glo_tf1.data import images as images_lib  # pylint: disable=import-outside-toplevel
    self._start(c, names)
    if self.npz:
      with io.atomic_open(self._chunk_path(c), 'wb') as f:
        np.savez(f, images=images_lib.to_uint8(pixels), codes=np.asarray(codes, np.float32),
                 names=np.asarray(names))
    else:
      for name, image in zip(names, images_lib.to_uint8(pixels)):
        path = os.path.join(self.folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with io.atomic_open(path, 'wb') as f:
          images_lib.to_pil(image).save(f, format='PNG')  # one channel: an 8-bit gray PNG
    self.finished.add(c)
    self._save_meta()

  def finish(self, num_chunks, meta):
    """Merges an .npz's chunks, then removes what it wrote in OUT.partial/ (the chunks,
    EXPORT_META, their temporaries) and the folder if that leaves it empty; returns the
    output path."""
    if not self.npz:
      return self.out
    parts = [np.load(self._chunk_path(c)) for c in range(num_chunks)]
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in ('images', 'codes', 'names')}
    with io.atomic_open(self.out, 'wb') as f:
      np.savez(f, **arrays, **{'meta_' + k: np.asarray(v) for k, v in meta.items()})
    ours = {os.path.basename(self._chunk_path(c)) for c in self.started} | {EXPORT_META}
    for name in os.listdir(self.folder):
      if name in ours or io.temporary_target(name) in ours:
        os.remove(os.path.join(self.folder, name))
    try:
      os.rmdir(self.folder)
    except OSError:  # something else is in it: not ours to delete
      print('note: %s is kept: it holds files this export did not write' % self.folder)
    return self.out


def _meta(loaded, what, **extra):
  return dict({'what': what, 'run_dir': os.path.abspath(loaded.run_dir),
               'checkpoint': os.path.abspath(loaded.checkpoint), 'step': loaded.step,
               'image_size': loaded.cfg['image_size']}, **extra)


def export_samples(loaded, out, num, kind='full', seed=0):
  """`num` samples of sampler `kind` of a TrainedRun: OUT/000000.png ... or OUT.npz (with
  their raw codes). Chunk c's noise: numpy.random.RandomState([seed, c])."""
  check_out(out, loaded.run_dir)
  check_export_room(out, num, loaded.cfg, name_chars=len('%06d.png' % num))
  meta = _meta(loaded, 'samples', sampler=kind, num=num, seed=seed)
  writer = _Writer(out, meta)
  meter = progress.Progress('samples (%s)' % kind, num, 'images')
  chunks = range(-(-num // CHUNK))
  for c in chunks:
    rows = min(CHUNK, num - c * CHUNK)
    names = ['%06d.png' % (c * CHUNK + i) for i in range(rows)]
    if not writer.done(c, names):
      noise = np.random.RandomState([seed, c]).standard_normal(
          (rows, loaded.cfg['latent_dims']))
      z = loaded.sample_codes(rows, kind, noise=noise)
      writer.write(c, names, loaded.decode(z), z)
    meter.update(c * CHUNK + rows)
  return writer.finish(len(chunks), meta)


def export_reconstructions(loaded, out, data_dir, names, steps, seed=0):
  """GLO's reconstructions of `names` (relative to data_dir): OUT/<name>.png ... (the
  source's extension replaced) or OUT.npz (with the fitted raw codes and the names).
  Chunk c's initial codes: numpy.random.RandomState([seed, c]). EXPORT_META records a
  digest of the names, sizes and contents of the list (files.manifest_digest): a resume on
  another list, even of the same length, is refused. Every source is decoded first
  (check.check_decodable): a bad file is named before any work."""
  check_out(out, loaded.run_dir, data_dir)
  pngs = None if out.endswith('.npz') else output_names(names)
  data_check.check_decodable(data_dir, names, 'source')  # before any work
  check_export_room(out, len(names), loaded.cfg,
                    name_chars=max([len(n) for n in names] + [1]))
  meta = _meta(loaded, 'reconstructions', data_dir=os.path.abspath(data_dir),
               num=len(names), steps=steps, seed=seed, batch_size=loaded.batch_size,
               files_sha256=files.manifest_digest(files.build_manifest(data_dir, names),
                                                  ordered=True))
  writer = _Writer(out, meta)
  meter = progress.Progress('reconstructions (%d code steps)' % steps, len(names), 'images')
  chunks = range(-(-len(names) // CHUNK))
  for c in chunks:
    part = names[c * CHUNK:(c + 1) * CHUNK]
    outs = pngs[c * CHUNK:(c + 1) * CHUNK] if not writer.npz else part
    if not writer.done(c, outs):
      images = loaded.load_images([os.path.join(data_dir, n) for n in part])
      loaded_codes, recons = loaded.fit_codes(images, steps, seed=[seed, c])
      writer.write(c, outs, recons, loaded_codes)
    meter.update(c * CHUNK + len(part))
  return writer.finish(len(chunks), meta)


def fid_levels(images):
  """Float images in [-1, 1] on the uint8 levels FID's network is fed (images.to_uint8,
  float32 and half to even like inception.py's to_inception_inputs), as float64 [-1, 1]:
  the writer's to_uint8 keeps them."""
  from glo_tf1.data import images as images_lib  # pylint: disable=import-outside-toplevel
  return images_lib.to_uint8(images).astype(np.float64) / 127.5 - 1.


def export_references(loaded, out, num, seed=0):
  """The training images as the trainer sees them and FID compares against (decoded,
  cropped, resized and to the run's channels by the run's own decode op, then rounded to
  the levels FID's network is fed: `fid_levels`): OUT/<name>.png ... or OUT.npz.
  min(num, N) of them, the subset glo-evaluate's FID references draw with the same seed
  (files.seeded_subset with RandomState(seed), as stats.choose_subset). Issue 30: an
  external FID tool given the files as stored (another size before its 299 px resize)
  gives another number."""
  if not loaded.paths:
    raise settings.ConfigError('the training images of %s are not where it recorded them '
                               '(%s); give --data_dir' % (
                                   loaded.run_dir, loaded.info['provenance'].get('data_dir')))
  check_out(out, loaded.run_dir, loaded.info['data_dir'])
  chosen = files.seeded_subset(len(loaded.names), num, np.random.RandomState(seed))
  names = [loaded.names[i] for i in chosen]
  paths = [loaded.paths[i] for i in chosen]
  outs = names if out.endswith('.npz') else output_names(names)
  check_export_room(out, len(names), loaded.cfg, name_chars=max([len(n) for n in names] + [1]))
  meta = _meta(loaded, 'references', data_dir=loaded.info['data_dir'], num=len(names),
               seed=seed, channels=loaded.cfg['channels'],
               tight_crop=bool(loaded.cfg['tight_crop']))
  writer = _Writer(out, meta)
  meter = progress.Progress('references', len(names), 'images')
  chunks = range(-(-len(names) // CHUNK))
  for c in chunks:
    part = slice(c * CHUNK, (c + 1) * CHUNK)
    if not writer.done(c, outs[part]):
      images = fid_levels(loaded.load_images(paths[part]))
      writer.write(c, outs[part], images, np.zeros((len(images), 0), np.float32))
    meter.update(min(len(names), (c + 1) * CHUNK))
  return writer.finish(len(chunks), meta)


def export_codes(loaded, out, projected=False):
  """The learned codes [N, dims] with the training images' names, in OUT.npz: `codes`,
  `names`, `projected` (True: as the decoder sees them, else as stored), `projection` and
  the meta_* keys of every export's .npz (meta_step: the checkpoint's step; issue 30: this
  file said `step` before, the others `meta_step`)."""
  if not out.endswith('.npz'):
    raise settings.ConfigError('--what codes writes an .npz: give --out FILE.npz, got %s'
                               % out)
  check_out(out, loaded.run_dir)
  names_bytes = sum(4 * len(n) for n in loaded.names)
  io.check_room(out, io.blocks(
      4 * loaded.num_codes * loaded.cfg['latent_dims'] + names_bytes + 4096),
                'the codes of %d images' % loaded.num_codes)
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with io.atomic_open(out, 'wb') as f:
    np.savez(f, codes=loaded.codes(projected=projected), names=np.asarray(loaded.names),
             projected=np.asarray(projected), projection=np.asarray(loaded.cfg['projection']),
             **{'meta_' + k: np.asarray(v) for k, v in _meta(loaded, 'codes').items()})
  return out
