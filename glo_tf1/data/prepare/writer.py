"""The resumable writer of glo-prepare-data: a reader's arrays to OUT/train/NNNNN.png and
OUT/test/NNNNN.png, the lists, the labels and prepare.json (see the package's docstring
for the layout and the rules of a resume)."""
import concurrent.futures
import os

import numpy as np

from glo_tf1 import io
from glo_tf1 import progress
from glo_tf1.data.prepare.checksums import describe_sources
from glo_tf1.data.prepare.registry import dataset
from glo_tf1.data.prepare.sources import FORMAT_VERSION
from glo_tf1.data.prepare.sources import RECORD_NAME
from glo_tf1.data.prepare.sources import SPLITS
from glo_tf1.data.prepare.sources import SourceError
from glo_tf1.data.prepare.sources import missing

SOURCES_NAME = '.prepare-sources.json'


def _png_name(index, total):
  return '%0*d.png' % (max(5, len(str(max(total - 1, 0)))), index)


def _same_image(path, image):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  try:
    with Image.open(path) as im:
      if im.format != 'PNG':
        return False
      pixels = np.asarray(im)
  except (OSError, ValueError, SyntaxError):
    return False
  return pixels.shape == image.shape and pixels.dtype == image.dtype and np.array_equal(
      pixels, image)


def _write_image(path, image):
  """Writes `image` as a PNG unless `path` already holds exactly its pixels; returns
  whether it wrote."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  if os.path.exists(path) and _same_image(path, image):
    return False
  with io.atomic_open(path, 'wb') as f:
    Image.fromarray(image).save(f, format='PNG')
  return True


def _top_names():
  """The files prepare() writes at the top of out_dir."""
  return [RECORD_NAME, SOURCES_NAME] + ['%s%s' % (split, end) for split in SPLITS
                                        for end in ('.txt', '_labels.txt')]


def _tidy_out_dir(out_dir, names):
  """Makes out_dir hold only what the conversion writes (names: {split: PNG names}): any
  other file or folder, in it or its split folders, is refused, named (a resume never
  mixes it into the lists' folders, nor deletes what the user put there); the temporaries
  of its own files that a killed process left are removed."""
  strays, temporaries = [], []
  for rel, targets in [('', _top_names())] + [(split, names[split]) for split in SPLITS]:
    folder = os.path.join(out_dir, rel)
    if not os.path.isdir(folder):
      continue
    targets = set(targets)
    for entry in os.scandir(folder):
      is_dir = entry.is_dir(follow_symlinks=False)
      if not rel and entry.name in SPLITS and is_dir:
        continue
      if entry.name in targets and not is_dir:
        continue
      if (io.temporary_target(entry.name) in targets and
          entry.is_file(follow_symlinks=False)):
        temporaries.append(entry.path)
      else:
        strays.append(os.path.join(rel, entry.name) + ('/' if is_dir else ''))
  if strays:
    strays.sort()
    raise SourceError(
        '--out_dir %s holds %d file%s that this conversion does not write (%s%s): remove '
        '%s, or convert into a new --out_dir' % (
            out_dir, len(strays), '' if len(strays) == 1 else 's', ', '.join(strays[:3]),
            ', ...' if len(strays) > 3 else '', 'it' if len(strays) == 1 else 'them'))
  for path in temporaries:
    os.remove(path)


def _identity(record):
  """What identifies a conversion: the data set, the format, each source's name, size
  and SHA-256 (of prepare.json or .prepare-sources.json)."""
  try:
    identity = {'dataset': record.get('dataset'),
                'format_version': record.get('format_version'),
                'sources': [{k: s.get(k) for k in ('name', 'size', 'sha256')}
                            for s in record.get('sources') or []]}
  except AttributeError:  # a source entry that is not an object
    return None
  if record.get('pad_to'):
    identity['pad_to'] = record['pad_to']
  return identity


def _check_out_dir(out_dir, identity):
  """Refuses an out_dir that holds another conversion or other files."""
  for name in (RECORD_NAME, SOURCES_NAME):
    path = os.path.join(out_dir, name)
    previous = io.read_json(path)
    if previous is None:
      continue
    theirs = _identity(previous)
    if theirs != identity:
      raise SourceError(
          '%s records a conversion of other files (%s) than this one (%s); use another '
          '--out_dir, or delete this one' % (path, _shown(theirs), _shown(identity)))
    return
  if os.path.isdir(out_dir) and os.listdir(out_dir):
    raise SourceError('--out_dir %s is not empty and holds no %s: it is not a conversion '
                      'to resume; use an empty or new folder' % (out_dir, RECORD_NAME))


def _shown(identity):
  if identity is None:
    return 'unreadable'
  return '%s from %s%s' % (identity['dataset'], ', '.join(
      '%s sha256 %s' % (s['name'], str(s['sha256'])[:12]) for s in identity['sources']),
                           ', padded to %s px' % identity['pad_to']
                           if identity.get('pad_to') else '')


# The decoder grows 4 x 4 -> doubling (model/decoders/geometry.py), so 28 px digits
# need 32 px: pad_to='auto' pads them with 2 black pixels a side (lossless; the digit keeps
# its scale and MNIST's black background), as GLANN does before its loss (yedidh/glann
# glo.py: F.pad(..., (2, 2, 2, 2)) of its 28 px output and target); what the GLO paper did
# we could not find. pad_to=0 keeps 28 px, which the trainer then resizes bilinearly.
AUTO_PAD = 32


def pad_size(ds, pad_to):
  """The side the images of `ds` are padded to (None: not padded) for pad_to 'auto' or an
  integer (0: none); SourceError when it is smaller than the images."""
  h, w = ds.shape[:2]
  if pad_to == 'auto':
    return AUTO_PAD if max(h, w) < AUTO_PAD else None
  if not pad_to:
    return None
  if pad_to < max(h, w):
    raise SourceError('--pad_to %d is smaller than %s\'s %d x %d images' % (
        pad_to, ds.name, h, w))
  return None if pad_to == h == w else pad_to


def pad_image(image, side):
  """image [h, w] or [h, w, c] uint8 centred on a black side x side canvas (the extra
  pixel of an odd margin goes right and below)."""
  h, w = image.shape[:2]
  top, left = (side - h) // 2, (side - w) // 2
  margins = [(top, side - h - top), (left, side - w - left)] + [(0, 0)] * (image.ndim - 2)
  return np.pad(image, margins, mode='constant', constant_values=0)


def _write_split(ds, out_dir, split, images, side, num_threads, log, every_secs):
  """Writes one split's PNGs (keeping the ones already complete); returns their paths
  relative to out_dir, in the source's order."""
  folder = os.path.join(out_dir, split)
  os.makedirs(folder, exist_ok=True)
  rel = ['%s/%s' % (split, _png_name(i, len(images))) for i in range(len(images))]
  meter = progress.Progress('%s %s:' % (ds.name, split), total=len(images),
                            unit='images', every_secs=every_secs, log=log)
  written = 0
  pool = concurrent.futures.ThreadPoolExecutor(max(1, num_threads))
  try:
    jobs = pool.map(lambda i: _write_image(
        os.path.join(out_dir, rel[i]), pad_image(images[i], side) if side else images[i]),
                    range(len(images)))
    for done, wrote in enumerate(jobs, 1):
      written += wrote
      meter.update(done)
  finally:
    # On Ctrl-C (or SIGTERM, which the program turns into it) stop now: the queued
    # images are dropped, the ones being written finish (each is whole, no temporary
    # is left). A plain `with` would write every queued image first when the signal
    # lands outside pool.map's wait (which cancels them itself).
    pool.shutdown(wait=True, cancel_futures=True)
  log('%s %s: %d images, %d written, %d already complete.'
      % (ds.name, split, len(images), written, len(images) - written))
  return rel


def _start(ds, out_dir, described, splits, side):
  """Refuses another conversion's out_dir, tidies a resumed one, checks the room and
  writes .prepare-sources.json, before any image."""
  identity = {'dataset': ds.name, 'format_version': FORMAT_VERSION,
              'sources': [{k: s[k] for k in ('name', 'size', 'sha256')} for s in described]}
  if side:  # a conversion without padding keeps the identity it had before pad_to existed
    identity['pad_to'] = side
  _check_out_dir(out_dir, identity)
  names = {split: [_png_name(i, len(splits[split][0])) for i in range(len(splits[split][0]))]
           for split in SPLITS}
  _tidy_out_dir(out_dir, names)
  height, width = (side, side) if side else ds.shape[:2]
  total = sum(len(names[split]) for split in SPLITS)
  # Room first: every PNG at its upper bound, less what a resumed conversion wrote.
  io.check_room(out_dir, total * io.png_bytes(height, width, ds.shape[2]) +
                64 * io.BLOCK - io.used_bytes(out_dir),
                'the %d images of %s' % (total, ds.name))
  os.makedirs(out_dir, exist_ok=True)
  io.write_json(os.path.join(out_dir, SOURCES_NAME), identity)


def _record(ds, counts, described, side):
  """prepare.json's content."""
  record = {
      'dataset': ds.name,
      'description': ds.description,
      'format_version': FORMAT_VERSION,
      'image': dict({'height': side or ds.shape[0], 'width': side or ds.shape[1],
                     'channels': ds.shape[2], 'format': 'png'},
                    **({'padded_from': list(ds.shape[:2])} if side else {})),
      'splits': {s: {'images': counts[s], 'list': '%s.txt' % s,
                     'labels': '%s_labels.txt' % s, 'folder': s + '/'} for s in SPLITS},
      'sources': described,
  }
  if side:
    record['pad_to'] = side
  return record


def prepare(name, source_dir, out_dir, allow_checksum_mismatch=False, num_threads=8,
            log=print, every_secs=10.0, pad_to='auto'):
  """Converts data set `name` from the publisher's files in `source_dir` to `out_dir`.

  pad_to: 'auto' (28 px digits -> 32, see AUTO_PAD), 0 (never) or a side in pixels.
  Returns the record written to out_dir/prepare.json.
  Raises:
    SourceError: an unknown name, a missing source file (the message says where to get
      it and where to put it), a truncated or malformed one (named), a checksum that
      differs from the publisher's, or an out_dir that holds something else.
  """
  ds = dataset(name)
  side = pad_size(ds, pad_to)
  if not source_dir or not os.path.isdir(source_dir):
    missing(ds, source_dir, '--source %s is not a folder.' % source_dir)
  sources, splits = ds.read(ds, source_dir)
  described = describe_sources(ds, sources, allow_checksum_mismatch, log)
  _start(ds, out_dir, described, splits, side)
  counts = {}
  for split in SPLITS:
    images, labels = splits[split]
    rel = _write_split(ds, out_dir, split, images, side, num_threads, log, every_secs)
    io.write_text_atomic(os.path.join(out_dir, '%s_labels.txt' % split),
                         ''.join('%d\n' % l for l in labels))
    io.write_text_atomic(os.path.join(out_dir, '%s.txt' % split),
                         ''.join(r + '\n' for r in rel))
    counts[split] = len(images)
  counts_tuple = tuple(counts[s] for s in SPLITS)
  if counts_tuple != ds.standard_counts:
    log('note: the standard %s has %d training and %d test images; these files hold %d '
        'and %d, so numbers on them are not comparable with published ones.'
        % ((ds.name,) + ds.standard_counts + counts_tuple))
  record = _record(ds, counts, described, side)
  io.write_json(os.path.join(out_dir, RECORD_NAME), record)
  return record
