"""What every reader of glo-prepare-data shares: the error, the registry's entry type, the
description of a source file, and the small checks of gzip files, counts and labels."""
import collections
import gzip
import hashlib
import zlib

from glo_tf1.data import files

RECORD_NAME = 'prepare.json'
SPLITS = ('train', 'test')
FORMAT_VERSION = 1

_CHUNK = 1 << 20

# The publishers' pages: where each data set's files, sizes and checksums come from.
MNIST_PAGE = 'http://yann.lecun.com/exdb/mnist/'
FASHION_README = 'https://github.com/zalandoresearch/fashion-mnist#get-the-data'
CIFAR_PAGE = 'https://www.cs.toronto.edu/~kriz/cifar.html'
SVHN_PAGE = 'http://ufldl.stanford.edu/housenumbers/'


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

Source = collections.namedtuple('Source', ['path', 'images', 'members', 'payload'])
# payload: None, or {'name', 'form' ("gzip" or "uncompressed"), 'size', 'md5'} of the bytes
# a reader parsed (an IDX file's decompressed bytes), checked against checksums.PAYLOAD.
Source.__new__.__defaults__ = (None, None)





def missing(dataset, source_dir, what):
  raise SourceError('%s\n%s' % (what, dataset.hint.format(d=source_dir)))


def read_gzip(path):
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


def hashes(path):
  sha, md5 = hashlib.sha256(), hashlib.md5()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(_CHUNK), b''):
      sha.update(chunk)
      md5.update(chunk)
  return sha.hexdigest(), md5.hexdigest()



def not_empty(count, path, split, what):
  """SourceError naming `path` when it holds no image: an empty split trains or tests on
  nothing (and writes an empty list)."""
  if not count:
    raise SourceError('%s holds no images (%s): the %s split would be empty; not this data '
                      'set\'s file, or a damaged one' % (path, what, split))


def labels_ok(labels, path, low=0, high=9):
  if labels.size and (labels.min() < low or labels.max() > high):
    raise SourceError('%s holds labels outside %d..%d (found %d..%d): not this data set\'s '
                      'file' % (path, low, high, labels.min(), labels.max()))

