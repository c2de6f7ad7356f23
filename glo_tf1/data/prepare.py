r"""Benchmark data sets, converted from their publishers' files to lossless image folders.

  glo-prepare-data DATASET --source DIR --out_dir OUT

DATASET is a name of `DATASETS` (mnist, fashion_mnist, svhn, cifar10). Each entry says
which official files it reads from DIR, as their publishers distribute them (downloaded
by hand: no machine of ours can), and where to get them:

  mnist, fashion_mnist  train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                        t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (IDX, gzip)
  svhn                  train_32x32.mat, test_32x32.mat (MATLAB v5; "Format 2")
  cifar10               cifar-10-binary.tar.gz, or its cifar-10-batches-bin/ folder
                        (data_batch_1.bin .. data_batch_5.bin, test_batch.bin); never the
                        Python (pickle) version, which is refused by name

Writes OUT/train/NNNNN.png and OUT/test/NNNNN.png (index order of the source; 1-channel
PNG for the grayscale sets, RGB otherwise), then OUT/train.txt and OUT/test.txt (paths
relative to OUT, for `glo-train --data_dir OUT --file_list OUT/train.txt`),
OUT/train_labels.txt and OUT/test_labels.txt (one class 0-9 a line, in list order) and
last OUT/prepare.json: each source file's name, size, SHA-256 and MD5, its image count,
and the publisher's checksum where the publisher gives one (checked: a file that differs
is refused unless `allow_checksum_mismatch`).

Resuming: every image is written atomically (io.atomic_open), so a file that exists is
whole; a rerun keeps each existing image whose pixels equal the source's and rewrites the
others, then writes the lists and the record. Before writing it refuses any file in OUT
or its split folders that the conversion does not write, naming it (a resume neither
deletes what the user put there nor leaves it beside the lists' images), and removes the
temporaries of its own files that a killed process left (io.atomic_open's names). On
Ctrl-C the queued images are dropped and the ones being written finished.
OUT/.prepare-sources.json, written first and kept, names the sources (name, size,
SHA-256), so a rerun against other sources (or an OUT holding other files) is refused
instead of mixing two conversions.
"""
import collections
import concurrent.futures
import gzip
import hashlib
import os
import posixpath
import struct
import tarfile
import zlib

import numpy as np

from glo_tf1 import io
from glo_tf1 import progress
from glo_tf1.data import celeba
from glo_tf1.data import files

RECORD_NAME = 'prepare.json'
SOURCES_NAME = '.prepare-sources.json'
SPLITS = ('train', 'test')
FORMAT_VERSION = 1

_CHUNK = 1 << 20

# Where the publishers' checksums and sizes come from (cited in prepare.json):
MNIST_PAGE = 'http://yann.lecun.com/exdb/mnist/'
FASHION_README = 'https://github.com/zalandoresearch/fashion-mnist#get-the-data'
CIFAR_PAGE = 'https://www.cs.toronto.edu/~kriz/cifar.html'
SVHN_PAGE = 'http://ufldl.stanford.edu/housenumbers/'

IDX_FILES = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
             'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension

SVHN_FILES = {'train': 'train_32x32.mat', 'test': 'test_32x32.mat'}

CIFAR_ARCHIVE = 'cifar-10-binary.tar.gz'
CIFAR_FOLDER = 'cifar-10-batches-bin'
CIFAR_BATCHES = {'train': tuple('data_batch_%d.bin' % i for i in range(1, 6)),
                 'test': ('test_batch.bin',)}
CIFAR_RECORD = 1 + 3 * 32 * 32  # a label byte, then the R, G and B planes, row-major
CIFAR_PYTHON = ('cifar-10-python.tar.gz', 'cifar-10-batches-py')

# Published checksums, each with the page that publishes it. MNIST's page publishes the
# four files' sizes in bytes, no checksum; SVHN's page publishes neither (nothing is
# checked for it); CIFAR-10 publishes the MD5 of the archive only (not of its members).
PUBLISHED = {
    'mnist': {
        'train-images-idx3-ubyte.gz': {'size': 9912422, 'source': MNIST_PAGE},
        'train-labels-idx1-ubyte.gz': {'size': 28881, 'source': MNIST_PAGE},
        't10k-images-idx3-ubyte.gz': {'size': 1648877, 'source': MNIST_PAGE},
        't10k-labels-idx1-ubyte.gz': {'size': 4542, 'source': MNIST_PAGE},
    },
    'fashion_mnist': {
        'train-images-idx3-ubyte.gz': {'md5': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
                                       'source': FASHION_README},
        'train-labels-idx1-ubyte.gz': {'md5': '25c81989df183df01b3e8a0aad5dffbe',
                                       'source': FASHION_README},
        't10k-images-idx3-ubyte.gz': {'md5': 'bef4ecab320f06d8554ea6380940ec79',
                                      'source': FASHION_README},
        't10k-labels-idx1-ubyte.gz': {'md5': 'bb300cfdad3c16e7a12a480ee83cd310',
                                      'source': FASHION_README},
    },
    'svhn': {},
    'cifar10': {CIFAR_ARCHIVE: {'md5': 'c32a1d4ab5d03f1284b67883e8d87530',
                                'source': CIFAR_PAGE}},
}


class SourceError(files.DataError):
  """A source file is missing, truncated or not in its publisher's format; the message
  names the file (and, when it is missing, where to get it)."""


Dataset = collections.namedtuple('Dataset', [
    'name', 'description', 'reads', 'hint', 'shape', 'standard_counts', 'read'])
# reads: the official files it reads (a description); hint: where to get them ({d}: the
# source folder); shape: (height, width, channels) of every image; standard_counts: the
# publisher's (train, test) image counts; read(source_dir) -> (sources, {split: (images
# uint8 [N, H, W(, C)], labels uint8 [N])}), sources a list of `Source`; called as
# read(dataset, source_dir).

Source = collections.namedtuple('Source', ['path', 'images', 'members'])


# --------------------------------------------------------------------------- files


def _missing(dataset, source_dir, what):
  raise SourceError('%s\n%s' % (what, dataset.hint.format(d=source_dir)))


def _read_gzip(path):
  with open(path, 'rb') as f:
    head = f.read(2)
  if head != b'\x1f\x8b':
    raise SourceError('%s is not a gzip file (it starts %r, not the gzip magic 1f 8b); '
                      'download it again, unchanged' % (path, head))
  try:
    with gzip.open(path, 'rb') as f:
      return f.read()
  except (EOFError, OSError, zlib.error) as e:
    raise SourceError('%s is a truncated or damaged gzip file (%s); download it again'
                      % (path, e)) from e


def _hashes(path):
  sha, md5 = hashlib.sha256(), hashlib.md5()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(_CHUNK), b''):
      sha.update(chunk)
      md5.update(chunk)
  return sha.hexdigest(), md5.hexdigest()


# --------------------------------------------------------------------------- IDX


def parse_idx(data, path, magic, dims):
  """The uint8 array of an IDX file's bytes `data` (already gunzipped).

  Args:
    magic: the expected magic number (IDX_IMAGES_MAGIC or IDX_LABELS_MAGIC).
    dims: the expected sizes of the dimensions after the first (() for labels, (28, 28)
      for images); the first is the count.
  Raises:
    SourceError: wrong magic, wrong dimensions, or a size other than the header's.
  """
  ndim = magic & 0xff
  header = 4 + 4 * ndim
  if len(data) < 4:
    raise SourceError('%s is truncated: %d bytes, not even an IDX magic number'
                      % (path, len(data)))
  (found,) = struct.unpack('>I', data[:4])
  if found != magic:
    raise SourceError('%s is not an IDX file of %s: its magic number is 0x%08x, expected '
                      '0x%08x' % (path, 'images' if ndim == 3 else 'labels', found, magic))
  if len(data) < header:
    raise SourceError('%s is truncated: %d bytes, shorter than its %d-byte IDX header'
                      % (path, len(data), header))
  shape = struct.unpack('>%dI' % ndim, data[4:header])
  if tuple(shape[1:]) != tuple(dims):
    raise SourceError('%s has dimensions %s, expected N x %s' % (
        path, ' x '.join(map(str, shape)), ' x '.join(map(str, dims)) or '(labels)'))
  want = header + int(np.prod(shape))
  if len(data) != want:
    raise SourceError('%s is %s: %d bytes after decompression, its header (%s) needs %d'
                      % (path, 'truncated' if len(data) < want else 'longer than its header',
                         len(data), ' x '.join(map(str, shape)), want))
  return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _not_empty(count, path, split, what):
  """SourceError naming `path` when it holds no image: an empty split trains or tests on
  nothing (and writes an empty list)."""
  if not count:
    raise SourceError('%s holds no images (%s): the %s split would be empty; not this data '
                      'set\'s file, or a damaged one' % (path, what, split))


def _labels_ok(labels, path, low=0, high=9):
  if labels.size and (labels.min() < low or labels.max() > high):
    raise SourceError('%s holds labels outside %d..%d (found %d..%d): not this data set\'s '
                      'file' % (path, low, high, labels.min(), labels.max()))


def _read_idx_set(dataset, source_dir):
  sources, splits = [], {}
  for split in SPLITS:
    images_name, labels_name = IDX_FILES[split]
    for name in (images_name, labels_name):
      if not os.path.isfile(os.path.join(source_dir, name)):
        _missing(dataset, source_dir, '%s has no %s.' % (source_dir, name))
    images_path = os.path.join(source_dir, images_name)
    labels_path = os.path.join(source_dir, labels_name)
    images = parse_idx(_read_gzip(images_path), images_path, IDX_IMAGES_MAGIC, (28, 28))
    _not_empty(len(images), images_path, split, 'its header says 0 x 28 x 28')
    labels = parse_idx(_read_gzip(labels_path), labels_path, IDX_LABELS_MAGIC, ())
    if len(labels) != len(images):
      raise SourceError('%s has %d labels but %s has %d images: they are not a pair'
                        % (labels_path, len(labels), images_path, len(images)))
    _labels_ok(labels, labels_path)
    sources += [Source(images_path, len(images), None), Source(labels_path, len(labels), None)]
    splits[split] = (images, labels)
  return sources, splits


# --------------------------------------------------------------------------- SVHN


def _read_svhn(dataset, source_dir):
  import scipy.io  # pylint: disable=import-outside-toplevel
  sources, splits = [], {}
  for split in SPLITS:
    path = os.path.join(source_dir, SVHN_FILES[split])
    if not os.path.isfile(path):
      _missing(dataset, source_dir, '%s has no %s.' % (source_dir, SVHN_FILES[split]))
    with open(path, 'rb') as f:
      head = f.read(128)
    if len(head) < 128 or not head.startswith(b'MATLAB 5.0 MAT-file'):
      raise SourceError('%s is not a MATLAB v5 .mat file (its header does not start '
                        '"MATLAB 5.0 MAT-file"%s)' % (
                            path, ': it is truncated' if len(head) < 128 else ''))
    try:
      mat = scipy.io.loadmat(path, variable_names=['X', 'y'])
    except Exception as e:  # pylint: disable=broad-except
      # scipy raises ValueError, TypeError, OSError, zlib.error... on a damaged file.
      raise SourceError('%s cannot be read as a MATLAB v5 file, truncated or damaged '
                        '(%s: %s); download it again' % (path, type(e).__name__, e)) from e
    for key in ('X', 'y'):
      if key not in mat:
        raise SourceError('%s has no variable %s (SVHN\'s cropped digits hold X, the '
                          'images, and y, the labels)' % (path, key))
    x, y = mat['X'], np.asarray(mat['y'])
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
      raise SourceError('%s: X is %s %s, expected 32 x 32 x 3 x N uint8 (SVHN\'s cropped '
                        'digits)' % (path, ' x '.join(map(str, x.shape)), x.dtype))
    _not_empty(x.shape[3], path, split, 'X is 32 x 32 x 3 x 0')
    if y.size != x.shape[3]:
      raise SourceError('%s has %d labels for %d images' % (path, y.size, x.shape[3]))
    y = _svhn_labels(y.reshape(-1), path)
    labels = (y.astype(np.int64) % 10).astype(np.uint8)  # 10 is digit 0
    images = np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2)))  # [N, row, column, RGB]
    sources.append(Source(path, len(images), None))
    splits[split] = (images, labels)
  return sources, splits


_KINDS = {'U': 'text', 'S': 'bytes', 'O': 'MATLAB cells', 'V': 'a MATLAB struct',
          'c': 'complex numbers', 'b': 'logical'}


def _svhn_labels(y, path):
  """The labels y of an SVHN file as integers 1..10 (MATLAB stores them as uint8 or
  double); SourceError on text, non-integer or out-of-range values."""
  if y.dtype.kind not in 'iuf':
    raise SourceError('%s: y holds %s (%s), not numbers: SVHN labels are the integers '
                      '1..10 (10 is the digit 0)'
                      % (path, _KINDS.get(y.dtype.kind, 'values'), y.dtype))
  if y.dtype.kind == 'f':
    bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
    if bad.size:
      raise SourceError('%s: y holds %d non-integer value%s (%r at index %d): SVHN labels '
                        'are the integers 1..10 (10 is the digit 0)' % (
                            path, bad.size, '' if bad.size == 1 else 's',
                            float(y[bad[0]]), bad[0]))
  if y.size and (y.min() < 1 or y.max() > 10):
    raise SourceError('%s: y holds values outside 1..10 (found %d..%d; SVHN labels the '
                      'digit 0 as 10)' % (path, y.min(), y.max()))
  return y


# --------------------------------------------------------------------------- CIFAR-10


def parse_cifar_batch(data, name):
  """(images uint8 [N, 32, 32, 3], labels uint8 [N]) of CIFAR-10 binary records."""
  if len(data) == 0 or len(data) % CIFAR_RECORD:
    raise SourceError('%s is %d bytes, not a whole number of %d-byte CIFAR-10 binary '
                      'records (1 label byte + 3072 pixel bytes): truncated, or not the '
                      'binary version' % (name, len(data), CIFAR_RECORD))
  records = np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
  labels = records[:, 0].copy()
  _labels_ok(labels, name)
  images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return np.ascontiguousarray(images), labels


def _refuse_python_version(source_dir):
  for name in CIFAR_PYTHON:
    if os.path.exists(os.path.join(source_dir, name)):
      raise SourceError(
          '%s is CIFAR-10\'s Python version (pickled batches), which glo-prepare-data '
          'does not read: unpickling can run code from the file. Download the binary '
          'version, %s ("CIFAR-10 binary version (suitable for C programs)", %s) into %s/.'
          % (os.path.join(source_dir, name), CIFAR_ARCHIVE, CIFAR_PAGE, source_dir))


def _member_name(name):
  """A tar member's name without the leading "./" of an archive packed from inside its
  folder (tar -czf X.tar.gz ./cifar-10-batches-bin); nothing else is changed, so a ../ or
  absolute name never matches the batches' names."""
  while name.startswith('./'):
    name = name[2:]
  return name


def _read_cifar10(dataset, source_dir):
  archive = os.path.join(source_dir, CIFAR_ARCHIVE)
  folder = os.path.join(source_dir, CIFAR_FOLDER)
  names = [n for split in SPLITS for n in CIFAR_BATCHES[split]]
  if os.path.isfile(archive):
    with open(archive, 'rb') as f:
      if f.read(2) != b'\x1f\x8b':
        raise SourceError('%s is not a gzip file; download it again, unchanged' % archive)
    data, seen, elsewhere = {}, {}, []
    try:
      with tarfile.open(archive, 'r:gz') as tar:
        for member in tar:
          name = _member_name(member.name)
          base = posixpath.basename(name)
          if base not in names:
            continue
          if posixpath.dirname(name) != CIFAR_FOLDER:  # ../, /, another folder: not read
            elsewhere.append(member.name)
            continue
          if base in seen:
            raise SourceError(
                '%s holds %s/%s twice (members %r and %r): which one is the batch is not '
                'clear; download the archive again, or repack it with each batch once'
                % (archive, CIFAR_FOLDER, base, seen[base], member.name))
          seen[base] = member.name
          if member.isfile():  # a link or a device is not read
            data[base] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
      raise SourceError('%s is a truncated or damaged tar.gz archive (%s); download it '
                        'again' % (archive, e)) from e
    absent = [n for n in names if n not in data]
    if absent:
      notes = ['%r is a link or not a regular file' % seen[n] for n in absent if n in seen]
      if elsewhere:
        notes.append('found %s (%d in all): the batches must be in %s/ at the top of the '
                     'archive' % (', '.join(map(repr, elsewhere[:3])), len(elsewhere),
                                  CIFAR_FOLDER))
      raise SourceError('%s lacks %s: not CIFAR-10\'s binary archive (or a truncated one)%s'
                        % (archive, ', '.join('%s/%s' % (CIFAR_FOLDER, n) for n in absent),
                           ''.join('; ' + n for n in notes)))
    where = lambda n: '%s:%s/%s' % (archive, CIFAR_FOLDER, n)
  elif os.path.isdir(folder):
    data = {}
    for n in names:
      path = os.path.join(folder, n)
      if not os.path.isfile(path):
        _missing(dataset, source_dir, '%s has no %s.' % (folder, n))
      with open(path, 'rb') as f:
        data[n] = f.read()
    where = lambda n: os.path.join(folder, n)
  else:
    _refuse_python_version(source_dir)
    _missing(dataset, source_dir, '%s has neither %s nor %s/.'
             % (source_dir, CIFAR_ARCHIVE, CIFAR_FOLDER))
  parsed = {n: parse_cifar_batch(data[n], where(n)) for n in names}
  splits = {}
  for split in SPLITS:
    parts = [parsed[n] for n in CIFAR_BATCHES[split]]
    splits[split] = (np.concatenate([p[0] for p in parts]),
                     np.concatenate([p[1] for p in parts]))
  if os.path.isfile(archive):
    members = [{'name': '%s/%s' % (CIFAR_FOLDER, n), 'size': len(data[n]),
                'images': len(parsed[n][1])} for n in names]
    sources = [Source(archive, sum(len(parsed[n][1]) for n in names), members)]
  else:
    sources = [Source(os.path.join(folder, n), len(parsed[n][1]), None) for n in names]
  return sources, splits


# --------------------------------------------------------------------------- registry


def _idx_hint(title, page, urls):
  return ('Download %s\'s four files by hand from %s: %s. Put them, still gzipped, in '
          '{d}/ (so that {d}/train-images-idx3-ubyte.gz exists).'
          % (title, page, ', '.join(urls)))


_MNIST_FILES = [n for split in SPLITS for n in IDX_FILES[split]]

DATASETS = collections.OrderedDict((d.name, d) for d in [
    Dataset('mnist', 'MNIST handwritten digits, 28 x 28 grayscale',
            ', '.join(_MNIST_FILES) + ' (IDX, gzipped)',
            _idx_hint('MNIST', MNIST_PAGE, [MNIST_PAGE + n for n in _MNIST_FILES]) +
            ' (The same files are mirrored, with Yann LeCun\'s permission, at '
            'https://storage.googleapis.com/cvdf-datasets/mnist/.)',
            (28, 28, 1), (60000, 10000), _read_idx_set),
    Dataset('fashion_mnist', 'Fashion-MNIST (Zalando articles), 28 x 28 grayscale',
            ', '.join(_MNIST_FILES) + ' (IDX, gzipped)',
            _idx_hint('Fashion-MNIST', FASHION_README,
                      ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/' + n
                       for n in _MNIST_FILES]) +
            ' (They are also in the repository\'s data/fashion/ folder.)',
            (28, 28, 1), (60000, 10000), _read_idx_set),
    Dataset('svhn', 'SVHN cropped digits ("Format 2"), 32 x 32 RGB',
            'train_32x32.mat, test_32x32.mat (MATLAB v5)',
            'Download SVHN\'s cropped digits ("Format 2") by hand from %s: %strain_32x32.mat '
            'and %stest_32x32.mat. Put both in {d}/.' % (SVHN_PAGE, SVHN_PAGE, SVHN_PAGE),
            (32, 32, 3), (73257, 26032), _read_svhn),
    Dataset('cifar10', 'CIFAR-10, 32 x 32 RGB',
            '%s, or its extracted %s/ (%s); not the Python version'
            % (CIFAR_ARCHIVE, CIFAR_FOLDER,
               ', '.join(CIFAR_BATCHES['train'] + CIFAR_BATCHES['test'])),
            'Download CIFAR-10\'s binary version ("CIFAR-10 binary version (suitable for C '
            'programs)") by hand from %s: https://www.cs.toronto.edu/~kriz/%s. Put it in '
            '{d}/ (as {d}/%s, or extracted, as {d}/%s/data_batch_1.bin ...).'
            % (CIFAR_PAGE, CIFAR_ARCHIVE, CIFAR_ARCHIVE, CIFAR_FOLDER),
            (32, 32, 3), (50000, 10000), _read_cifar10),
])


# CelebA at the paper's 64 and 128 px: the aligned JPEGs are trained on as they are (the
# trainer crops and resizes them, as celeba.sh does), so preparing them writes the
# partition lists and a record, not another copy of 202,599 images.
CELEBA_DATASETS = ('celeba64', 'celeba128')


def prepare_celeba(name, source_dir, out_dir):
  """Checks aligned CelebA in `source_dir` (celeba.check_layout) and writes its partition
  lists (train.txt, valid.txt, test.txt, all.txt) and prepare.json into out_dir; returns
  the record. The lists name files of source_dir/img_align_celeba."""
  split = celeba.check_layout(source_dir)
  paths = celeba.write_lists(split, out_dir)
  partition = next(os.path.join(source_dir, p) for p in celeba.PARTITION_FILES
                   if os.path.isfile(os.path.join(source_dir, p)))
  sha256, _ = _hashes(partition)
  record = {
      'dataset': name, 'description': 'aligned CelebA, trained on as it is (preset %s)' % name,
      'format_version': FORMAT_VERSION,
      'images_dir': os.path.abspath(os.path.join(source_dir, celeba.IMAGES_DIR)),
      'splits': {s: {'images': len(split[s]), 'list': os.path.basename(paths[s])}
                 for s in SPLITS},
      'sources': [{'name': os.path.basename(partition), 'size': os.path.getsize(partition),
                   'sha256': sha256}],
  }
  io.write_json(os.path.join(out_dir, RECORD_NAME), record)
  return record


def dataset(name):
  """The registry entry `name`; SourceError naming the accepted names otherwise."""
  if name not in DATASETS:
    raise SourceError('unknown data set %r: accepted names are %s'
                      % (name, ', '.join(DATASETS)))
  return DATASETS[name]


# --------------------------------------------------------------------------- writing


def _describe_sources(ds, sources, allow_checksum_mismatch, log):
  """prepare.json's "sources": name, size, hashes, images and the published checksum;
  raises SourceError on a file that differs from what its publisher gives."""
  out = []
  for source in sources:
    name = os.path.basename(source.path)
    size = os.path.getsize(source.path)
    sha256, md5 = _hashes(source.path)
    entry = {'name': name, 'size': size, 'sha256': sha256, 'md5': md5,
             'images': source.images, 'published': None}
    if source.members is not None:
      entry['members'] = source.members
    published = PUBLISHED[ds.name].get(name)
    if published:
      checks = [(k, published[k], {'md5': md5, 'size': size}[k])
                for k in ('md5', 'size') if k in published]
      bad = [(k, want, got) for k, want, got in checks if want != got]
      entry['published'] = dict(published, matches=not bad)
      if bad:
        what = '; '.join('%s %s, its publisher gives %s' % (k, got, want)
                         for k, want, got in bad)
        message = ('%s differs from the file its publisher distributes (%s; %s): a damaged '
                   'or different download' % (source.path, what, published['source']))
        if not allow_checksum_mismatch:
          raise SourceError(message + '. Download it again, or convert it anyway with '
                            '--allow_checksum_mismatch (prepare.json records the mismatch).')
        log('warning: %s; converting it anyway (--allow_checksum_mismatch).' % message)
    out.append(entry)
  return out


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
    _missing(ds, source_dir, '--source %s is not a folder.' % source_dir)
  sources, splits = ds.read(ds, source_dir)
  described = _describe_sources(ds, sources, allow_checksum_mismatch, log)
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

  counts = {}
  for split in SPLITS:
    images, labels = splits[split]
    folder = os.path.join(out_dir, split)
    os.makedirs(folder, exist_ok=True)
    rel = ['%s/%s' % (split, n) for n in names[split]]
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
  io.write_json(os.path.join(out_dir, RECORD_NAME), record)
  return record
