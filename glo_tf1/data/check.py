r"""Checks a data set before training (the library of glo-check-data).

A GLO run on CelebA takes days; a file that cannot be decoded stops it at whatever hour the
reader reaches it. This check finds such files first and names each one with its reason:
unreadable, empty, truncated, not an image, or an image that is not what its name says or
that the pipeline would read wrongly (a PNG named .jpg, a CMYK or 12-bit JPEG, a 16-bit
PNG, an animated GIF or PNG; `images.decode_any` decodes with channels=3 and
expand_animations=False, so these would train on lost precision, odd colours or the first
frame only).

It never opens a file that is not a regular file (a FIFO named .jpg would block), refuses
an image above a pixel limit before anything decodes it (`--max_megapixels`, 50 by
default: the decoded pixels of a huge image exhaust memory), and notes JPEGs whose EXIF
orientation the pipeline does not apply (GLO trains on the pixels as stored).

It reads headers only (the file signature, JPEG markers up to the frame header and the
end-of-image marker, the PNG IHDR chunk and the IEND trailer, GIF frames, the BMP header),
in parallel threads (file reads release the GIL, and on a cold disk many reads in flight
matter more than cores), so 200k files take seconds to a minute (docs/reliability.md,
for measured rates). `--decode` also decodes every pixel with Pillow, which catches
corrupt data inside an intact file at about the cost of a training epoch's decoding; a
JPEG is decoded strictly too (libjpeg's "Corrupt JPEG data" warnings, which Pillow and
TensorFlow let pass with garbage pixels, make it bad: `strict_jpeg_problem`).

Training runs this check at the start of a new run, and decodes each JPEG strictly at 1/8
scale as well (`entropy_problem`: TensorFlow trains on the garbage pixels of a JPEG corrupt
in its entropy-coded data without an error, so this is where training names it)
(training/loop.py; `--skip_data_check` skips it,
`--skip_bad_images` trains without the bad files and lists them in the run directory).
Exit status: 0 all good, 1 bad files found, 2 usage error.
"""
import concurrent.futures
import os
import stat
import struct
import time

from glo_tf1 import io
from glo_tf1 import progress as progress_lib
from glo_tf1 import settings
from glo_tf1.data import files

SKIPPED_NAME = 'skipped_images.tsv'
_HEAD = 1 << 14        # bytes read from the front (a larger read costs a large allocation)
_TAIL = 1024           # bytes searched for the JPEG end-of-image marker
_CHUNK = 256           # files per task of a worker
_THREADS = 16          # default workers: enough reads in flight for a cold disk

_SIGNATURES = (  # (prefix, offset, format); first match wins
    (b'\xff\xd8\xff', 0, 'JPEG'),
    (b'\x89PNG\r\n\x1a\n', 0, 'PNG'),
    (b'GIF87a', 0, 'GIF'),
    (b'GIF89a', 0, 'GIF'),
    (b'BM', 0, 'BMP'),
    (b'II*\x00', 0, 'TIFF'),
    (b'MM\x00*', 0, 'TIFF'),
    (b'WEBP', 8, 'WebP'),
    (b'ftyp', 4, 'HEIF/MP4'),
    (b'%PDF', 0, 'PDF'),
)
_EXTENSION_FORMAT = {'.jpg': 'JPEG', '.jpeg': 'JPEG', '.png': 'PNG', '.bmp': 'BMP',
                     '.gif': 'GIF'}
# JPEG start-of-frame markers (C0-CF without DHT C4, JPG C8, DAC CC); lossless ones decode
# in no TensorFlow build.
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_LOSSLESS_SOF = {0xC3, 0xC7, 0xCB, 0xCF}
_PNG_IEND = b'\x00\x00\x00\x00IEND\xaeB`\x82'
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def sniff(head):
  """The format a file's first bytes announce, or None."""
  for prefix, offset, fmt in _SIGNATURES:
    if head[offset:offset + len(prefix)] == prefix:
      return fmt
  return None


def _jpeg_problem(data, whole, tail, size, info):
  """Walks the markers up to the frame header (SOF); checks the end-of-image marker."""
  pos = 2
  while True:
    if pos + 4 > len(data):
      return (None if not whole else
              'truncated JPEG: the file ends before its frame header')
    if data[pos] != 0xFF:
      return 'corrupt JPEG: no marker at byte %d of the header' % pos
    marker = data[pos + 1]
    if marker == 0xFF:  # fill byte
      pos += 1
      continue
    if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
      pos += 2
      continue
    if marker == 0xD9:
      return 'JPEG ends (EOI) before any image data'
    if marker == 0xDA:
      return 'corrupt JPEG: image data (SOS) before a frame header'
    length = struct.unpack('>H', data[pos + 2:pos + 4])[0]
    if length < 2:
      return 'corrupt JPEG: marker segment of length %d at byte %d' % (length, pos)
    if marker == 0xE1 and pos + 2 + length <= len(data):  # APP1: EXIF orientation
      orientation = exif_orientation(data[pos + 4:pos + 2 + length])
      if orientation:
        info['orientation'] = orientation
    if marker in _SOF:
      if pos + 10 > len(data):
        return None if not whole else 'truncated JPEG: the file ends inside its frame header'
      precision, height, width, components = struct.unpack('>BHHB', data[pos + 4:pos + 10])
      info['pixels'] = (width, height)
      info['gray'] = components == 1
      if marker in _LOSSLESS_SOF:
        return 'lossless JPEG (SOF%d): TensorFlow cannot decode it' % (marker - 0xC0)
      if precision != 8:
        return '%d-bit JPEG: TensorFlow decodes 8-bit JPEG only' % precision
      if components == 4:
        return ('CMYK JPEG (4 colour components): not an RGB photo; its colours depend '
                'on the decoder (convert it to RGB)')
      if components not in (1, 3):
        return 'JPEG with %d colour components (expected 1 or 3)' % components
      if not height or not width:
        return 'JPEG of %d x %d pixels' % (width, height)
      break
    pos += 2 + length
  if whole:  # only after the frame header: an EXIF thumbnail has its own end marker
    tail = data[max(pos, len(data) - _TAIL):]
  if b'\xff\xd9' not in tail:
    return 'truncated JPEG: no end-of-image marker (the file was cut short)'
  return ''


def _png_problem(data, whole, tail, size, info):
  if len(data) < 33 or data[12:16] != b'IHDR':
    return 'corrupt PNG: no IHDR header chunk'
  width, height, depth, colour = struct.unpack('>IIBB', data[16:26])
  info['pixels'] = (width, height)
  info['gray'] = colour in (0, 4)  # grayscale, grayscale with alpha
  if colour not in _PNG_DEPTHS or depth not in _PNG_DEPTHS[colour]:
    return 'corrupt PNG: bit depth %d with colour type %d' % (depth, colour)
  if not width or not height:
    return 'PNG of %d x %d pixels' % (width, height)
  if depth == 16:
    return ('16-bit PNG: the pipeline reads 8 bits per channel (precision is lost); '
            'convert it to 8-bit')
  if not tail.endswith(_PNG_IEND):
    return 'truncated PNG: no IEND trailer (the file was cut short)'
  pos = 8  # chunks before the image data: an acTL chunk means an animated PNG
  while pos + 8 <= len(data):
    length, kind = struct.unpack('>I4s', data[pos:pos + 8])
    if kind == b'acTL' and pos + 12 <= len(data):
      frames = struct.unpack('>I', data[pos + 8:pos + 12])[0]
      return ('animated PNG (%d frames): only the first would be trained on' % frames)
    if kind == b'IDAT':
      break
    pos += 12 + length
  return ''


def _gif_frames(data):
  """Number of image descriptors in a GIF (walks its blocks), or None when truncated."""
  if len(data) < 13:
    return None
  flags_ = data[10]
  pos = 13 + (3 * 2 ** ((flags_ & 7) + 1) if flags_ & 0x80 else 0)
  frames = 0
  while pos < len(data):
    block = data[pos]
    if block == 0x3B:  # trailer
      return frames
    if block == 0x21:  # extension: label, then sub-blocks
      pos += 2
    elif block == 0x2C:  # image descriptor, optional local colour table, LZW size, data
      frames += 1
      if pos + 10 > len(data):
        return None
      packed = data[pos + 9]
      pos += 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0) + 1
    else:
      return None
    while pos < len(data) and data[pos]:  # sub-blocks until the 0 terminator
      pos += data[pos] + 1
    pos += 1
  return None


def _gif_problem(data, whole, tail, size, info):
  del tail, size
  if len(data) >= 10:
    info['pixels'] = struct.unpack('<HH', data[6:10])
  if not whole:
    return None
  frames = _gif_frames(data)
  if frames is None:
    return 'truncated or corrupt GIF'
  if frames == 0:
    return 'GIF without an image'
  if frames > 1:
    return 'animated GIF (%d frames): only the first would be trained on' % frames
  return ''


def _bmp_problem(data, whole, tail, size, info):
  del whole, tail
  if len(data) < 30:
    return 'truncated BMP header'
  offset, header = struct.unpack('<II', data[10:18])
  if header < 40 or len(data) < 14 + 16:
    return 'BMP with an old (OS/2) header: TensorFlow cannot decode it'
  width, height, _, bits = struct.unpack('<iiHH', data[18:30])
  info['pixels'] = (abs(width), abs(height))
  compression = struct.unpack('<I', data[30:34])[0] if len(data) >= 34 else 0
  if bits == 8:
    return ('8-bit (palette) BMP: TensorFlow ignores the palette and reads the indices as '
            'grey levels; convert it to 24-bit')
  if bits not in (24, 32):
    return '%d-bit BMP: TensorFlow decodes 8-, 24- and 32-bit BMP only' % bits
  if compression not in (0, 3):
    return 'compressed BMP (compression %d): TensorFlow cannot decode it' % compression
  if not width or not height:
    return 'BMP of %d x %d pixels' % (width, abs(height))
  if compression == 0 and offset + (abs(width) * bits + 31) // 32 * 4 * abs(height) > size:
    return 'truncated BMP: the pixel rows end past the end of the file'
  return ''


_CHECKERS = {'JPEG': _jpeg_problem, 'PNG': _png_problem, 'GIF': _gif_problem,
             'BMP': _bmp_problem}


def exif_orientation(app1):
  """The EXIF orientation (2 to 8) that an APP1 segment's payload sets, or None (1, the
  upright default, or no EXIF). Reads tag 0x0112 of the first image file directory."""
  if not app1.startswith(b'Exif\x00\x00') or len(app1) < 14:
    return None
  tiff = app1[6:]
  order = {b'II': '<', b'MM': '>'}.get(tiff[:2])
  if order is None:
    return None
  try:
    ifd = struct.unpack(order + 'I', tiff[4:8])[0]
    count = struct.unpack(order + 'H', tiff[ifd:ifd + 2])[0]
    for k in range(count):
      entry = tiff[ifd + 2 + 12 * k:ifd + 14 + 12 * k]
      tag, kind = struct.unpack(order + 'HH', entry[:4])
      if tag == 0x0112 and kind == 3:
        value = struct.unpack(order + 'H', entry[8:10])[0]
        return value if 2 <= value <= 8 else None
  except struct.error:
    return None
  return None


# What an EXIF orientation asks a viewer to do (the pipeline does not).
ORIENTATIONS = {2: 'mirrored', 3: 'rotated 180', 4: 'flipped', 5: 'mirrored and rotated 90',
                6: 'rotated 90 clockwise', 7: 'mirrored and rotated 270',
                8: 'rotated 90 counter-clockwise'}
NOTE = 'note: '  # a finding that does not make a file bad (e.g. an EXIF orientation)
DEFAULT_MAX_PIXELS = 50 * 10 ** 6


def header_problem(path, max_pixels=DEFAULT_MAX_PIXELS, info=None):
  """'' if the headers of `path` are those of an image the pipeline reads as it should,
  else the reason it is bad (a short sentence), or a NOTE ('note: ...') for a good image
  the pipeline reads otherwise than a viewer shows it (an EXIF orientation).

  Only regular files are opened for reading (a FIFO would block); an image of more than
  `max_pixels` pixels (None: no limit) is bad before anything decodes it. `info`, a dict,
  receives what the headers say: 'format' ('JPEG', 'PNG', ...), 'pixels' (width,
  height) and, for JPEG and PNG, 'gray' (one colour channel).
  """
  info = {} if info is None else info
  try:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without blocking
    with os.fdopen(fd, 'rb') as f:
      st = os.fstat(fd)
      if not stat.S_ISREG(st.st_mode):
        return 'not a regular file (%s): never opened for reading' % _kind(st.st_mode)
      size = st.st_size
      if size == 0:
        return 'empty file (0 bytes)'
      data = f.read(_HEAD)
      fmt = info['format'] = sniff(data)
      if fmt is None:
        return 'not an image (unknown file signature %r)' % data[:8]
      if fmt not in _CHECKERS:
        return 'not an image TensorFlow decodes (%s data)' % fmt
      if fmt == 'GIF':  # frames are counted over the whole file (GIFs are rare)
        data += f.read()
      whole = len(data) >= size
      tail = data[-_TAIL:]
      if not whole:
        f.seek(-_TAIL, os.SEEK_END)
        tail = f.read(_TAIL)
      problem = _CHECKERS[fmt](data, whole, tail, size, info)
      if problem is None:  # the header did not fit in _HEAD: look at the whole file
        f.seek(0)
        problem = _CHECKERS[fmt](f.read(), True, tail, size, info)
  except OSError as e:
    return 'unreadable: %s' % (e.strerror or e)
  ext = os.path.splitext(path)[1].lower()
  expected = _EXTENSION_FORMAT.get(ext)
  if expected and expected != fmt:
    return 'wrongly labelled: %s data named %s%s' % (fmt, ext,
                                                     '; ' + problem if problem else '')
  width, height = info.get('pixels', (0, 0))
  if max_pixels and width * height > max_pixels:
    return ('too large: %d x %d pixels (%.0f megapixels) is above the limit of %g '
            '(--max_megapixels); its decoded pixels alone would take %.1f GB'
            % (width, height, width * height / 1e6, max_pixels / 1e6,
               width * height * 3 / 1e9))
  if not problem and info.get('orientation'):
    return NOTE + 'EXIF orientation %s (%d)' % (ORIENTATIONS[info['orientation']],
                                                info['orientation'])
  return problem


def _kind(mode):
  for test, name in ((stat.S_ISFIFO, 'FIFO'), (stat.S_ISCHR, 'character device'),
                     (stat.S_ISBLK, 'block device'), (stat.S_ISSOCK, 'socket'),
                     (stat.S_ISDIR, 'directory')):
    if test(mode):
      return name
  return 'special file'


def decode_problem(path):
  """None if `path` fully decodes as an RGB-convertible still image, else the reason.

  Pillow decodes every format; a JPEG is also decoded strictly (`strict_jpeg_problem`),
  since libjpeg only warns about corrupt entropy-coded data ("Corrupt JPEG data: bad
  Huffman code") and hands Pillow, and TensorFlow's decode_jpeg, garbage pixels.
  """
  from PIL import Image  # pylint: disable=import-outside-toplevel
  try:
    if os.path.getsize(path) == 0:
      return 'empty file (0 bytes)'
    with Image.open(path) as im:
      im.load()
      if im.size[0] < 1 or im.size[1] < 1:
        return 'image has no pixels'
      mode = im.mode if im.format == 'JPEG' else None
  except Exception as e:  # pylint: disable=broad-except
    return '%s: %s' % (type(e).__name__, e)
  return strict_jpeg_problem(path, mode) if mode else None


def strict_jpeg_problem(path, mode='RGB', min_factor=1):
  """None if the JPEG `path` decodes without a single libjpeg warning, else the warning
  ('corrupt JPEG data: ...'). libjpeg-turbo through simplejpeg (strict=True turns its
  warnings into errors; Pillow and TensorFlow print or drop them and decode on).
  `mode`: Pillow's mode of the image (L, RGB or CMYK), to decode in its own colour space.
  `min_factor`: decode scaled down by this (1, 2, 4 or 8; libjpeg's DCT scaling): every
  entropy-coded byte is still Huffman-decoded, which is where the corrupt-data warnings
  come from, at less IDCT and colour work (`entropy_problem`)."""
  try:
    import simplejpeg  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise settings.UserError('the strict JPEG decode needs simplejpeg, a dependency of '
                             'glo-tf1 (pip install simplejpeg): %s' % e) from None
  colorspace = {'L': 'GRAY', 'CMYK': 'CMYK'}.get(mode, 'RGB')
  try:
    with open(path, 'rb') as f:
      simplejpeg.decode_jpeg(f.read(), colorspace=colorspace, strict=True,
                             min_factor=min_factor)
  except OSError as e:
    return 'unreadable: %s' % (e.strerror or e)
  except ValueError as e:
    text = str(e)
    return 'corrupt JPEG data (libjpeg: %s)' % (
        text[len('Corrupt JPEG data: '):] if text.startswith('Corrupt JPEG data: ') else text)
  return None


def entropy_problem(path, max_pixels=DEFAULT_MAX_PIXELS, info=None):
  """header_problem, then, for a JPEG, a strict decode at 1/8 scale
  (`strict_jpeg_problem`): training's check. A JPEG corrupt in its entropy-coded data has
  intact headers, and TensorFlow's decode_jpeg trains on its garbage pixels without an
  error, so the check at a run's start is the one place training can name it (counted and
  skipped like a truncated file). Cost: docs/reliability.md."""
  info = {} if info is None else info
  problem = header_problem(path, max_pixels, info)
  if (problem and not problem.startswith(NOTE)) or info.get('format') != 'JPEG':
    return problem
  return strict_jpeg_problem(path, 'L' if info.get('gray') else 'RGB', min_factor=8) \
      or problem


def full_problem(path, max_pixels=DEFAULT_MAX_PIXELS, info=None):
  """header_problem, then a full decode (`decode_problem`: catches corrupt pixel data)."""
  problem = header_problem(path, max_pixels, info)
  if problem and not problem.startswith(NOTE):
    return problem
  return decode_problem(path) or problem


def _check_chunk(args):
  """[(problem, gray: True, False or None when the headers do not say)] of each path."""
  paths, decode, max_pixels = args
  fn = {True: full_problem, 'entropy': entropy_problem}.get(decode, header_problem)
  out = []
  for p in paths:
    info = {}
    out.append((fn(p, max_pixels, info), info.get('gray')))
  return out


def check_files(data_dir, names, decode=False, num_workers=0, progress=True,
                max_pixels=DEFAULT_MAX_PIXELS, notes=None, gray=None):
  """[(name, reason)] for every bad file of `names` (relative to data_dir), in list order.

  Args:
    data_dir: folder the names are relative to.
    names: relative paths.
    decode: also decode every pixel (Pillow; JPEGs strictly too; slower: see module doc);
      'entropy': headers, then each JPEG strictly at 1/8 scale (`entropy_problem`).
    num_workers: threads; 0 means 16. Measured on 2 cores, 20k JPEGs: processes were no
      faster with a warm page cache and slower with a cold one.
    progress: print a progress line every 5 s on long lists (20,000 files or more).
    max_pixels: larger images are bad (None: no limit).
    notes: a list to append (name, note) to for good images with a note (an EXIF
      orientation the pipeline does not apply).
    gray: a list to append, for each name, whether its headers say grayscale (JPEG with
      one component, PNG colour type 0 or 4), colour (False), or nothing (None: BMP, GIF).
  """
  paths = [os.path.join(data_dir, n) for n in names]
  chunks = [(paths[i:i + _CHUNK], decode, max_pixels) for i in range(0, len(paths), _CHUNK)]
  report = progress_lib.Progress('  checked', len(paths), 'files', every_secs=5,
                                 log=print if progress and len(paths) >= 20000 else
                                 lambda line: None)
  with concurrent.futures.ThreadPoolExecutor(num_workers or _THREADS) as pool:
    results = []
    for result in pool.map(_check_chunk, chunks):
      results.extend(result)
      report.update(len(results))
  problems = [p for p, _ in results]
  if gray is not None:
    gray.extend(g for _, g in results)
  if notes is not None:
    notes.extend((n, p[len(NOTE):]) for n, p in zip(names, problems)
                 if p and p.startswith(NOTE))
  return [(n, p) for n, p in zip(names, problems) if p and not p.startswith(NOTE)]


def format_notes(notes):
  """The one line a check prints about its notes (EXIF orientations), or ''."""
  if not notes:
    return ''
  return ('note: %d JPEG(s) carry an EXIF orientation (first: %s, %s); GLO reads them as '
          'stored, unrotated, as the notebook\'s tf.image.decode_jpeg does. Rotate the '
          'files themselves (e.g. exiftran -ai) if they should train upright.'
          % (len(notes), files.shown(notes[0][0]), notes[0][1]))


def format_problems(bad, data_dir, limit=None):
  """Lines 'path: reason' (at most `limit`, then a count of the rest)."""
  lines = ['  %s: %s' % (files.shown(os.path.join(data_dir, n)), p) for n, p in bad[:limit]]
  if limit is not None and len(bad) > limit:
    lines.append('  ... and %d more' % (len(bad) - limit))
  return '\n'.join(lines)


def check_decodable(data_dir, names, what):
  """Decodes every file of `names` (relative to data_dir; '' for paths) first: a
  files.DataError naming each bad one, so a bad image stops the work before it starts,
  not in the middle of it with a TensorFlow traceback."""
  bad = check_files(data_dir, names, decode=True, progress=False)
  if bad:
    raise files.DataError('%d %s image(s)%s are not usable:\n%s' % (
        len(bad), what, ' in %s' % data_dir if data_dir else '',
        format_problems(bad, data_dir, limit=20)))


_SKIPPED_HEAD = 'path (escaped)\treason'  # an older version's 'path\treason': raw paths


def write_skipped(path, bad):
  """Writes the skipped files (relative path, escaped as in the manifest; reason) as a
  TSV, atomically."""
  io.write_text_atomic(path, _SKIPPED_HEAD + '\n' + ''.join(
      '%s\t%s\n' % (files.escape_name(name), files.escape_name(reason))
      for name, reason in bad))


def _read_skipped_rows(path):
  if not os.path.exists(path):
    return []
  with open(path, encoding='utf-8', errors='surrogateescape', newline='') as f:
    lines = f.read().split('\n')
  escaped = lines[0] == _SKIPPED_HEAD
  rows = [tuple(line.split('\t', 1)) for line in lines[1:] if line]
  if escaped:
    rows = [tuple(files.unescape_name(c) for c in row) for row in rows]
  return rows


def read_skipped(run_dir):
  """Names a run skipped at its start (empty when it skipped none)."""
  if not run_dir:
    return []
  return [row[0] for row in _read_skipped_rows(os.path.join(run_dir, SKIPPED_NAME))]


def colour_summary(gray, channels=None):
  """What the headers said about colour, for the check's line: 'N grayscale, M colour'
  (and K not said: BMP, GIF), with a note when --channels does not fit the images."""
  counts = [sum(1 for g in gray if g is v) for v in (True, False, None)]
  text = '%d grayscale, %d colour' % tuple(counts[:2])
  if counts[2]:
    text += ', %d not said in the headers (BMP, GIF)' % counts[2]
  if channels == 3 and counts[0] and not counts[1]:
    text += ('; every one with a colour header is grayscale: --channels 1 trains them on '
             'one channel (docs/benchmarks.md)')
  elif channels == 1 and counts[1]:
    text += '; --channels 1 trains the colour images as their luma'
  return text


def check_for_training(data_dir, names, run_dir, skip_bad=False, only=None,
                       max_pixels=DEFAULT_MAX_PIXELS, channels=None):
  """The check at the start of a new run; returns the names to train on.

  Args:
    data_dir, names: the training files.
    run_dir: where the list of skipped files goes.
    skip_bad: drop bad files instead of stopping.
    only: check only these names (the files new since the run started).
    max_pixels: larger images are bad (--max_megapixels).
    channels: the run's --channels, for the note on grayscale and colour images.
  Raises:
    files.DataError: listing every bad file, unless `skip_bad`; then the bad files are
      dropped, added to RUN/skipped_images.tsv, and the rest is returned.
  """
  start = time.time()
  only = None if only is None else set(only)
  todo = names if only is None else [n for n in names if n in only]
  if not todo:
    return names
  print('Checking %d images (headers, and JPEGs\' entropy-coded data; glo-check-data '
        '--decode decodes every pixel)...' % len(todo), flush=True)
  notes, gray = [], []
  bad = check_files(data_dir, todo, decode='entropy', max_pixels=max_pixels, notes=notes,
                    gray=gray)
  print('  %d images checked in %.1f s, %d bad; %s.' % (
      len(todo), time.time() - start, len(bad), colour_summary(gray, channels)), flush=True)
  if notes:  # once per run: the check runs at a run's start (and on new files)
    print(format_notes(notes), flush=True)
  if not bad:
    return names
  if not skip_bad:
    raise files.DataError(
        '%d bad image(s) in %s; fix or remove them, or pass --skip_bad_images to train '
        'without them:\n%s' % (len(bad), data_dir, format_problems(bad, data_dir, 50)))
  path = os.path.join(run_dir, SKIPPED_NAME)
  write_skipped(path, _read_skipped_rows(path) + bad)
  print('Skipping %d bad image(s) (listed in %s):\n%s'
        % (len(bad), path, format_problems(bad, data_dir, 20)), flush=True)
  dropped = {n for n, _ in bad}
  kept = [n for n in names if n not in dropped]
  if not kept:
    raise files.DataError('every image in %s is bad' % data_dir)
  return kept
