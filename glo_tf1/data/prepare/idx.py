"""MNIST and Fashion-MNIST: the four IDX files of yann.lecun.com's layout, gzipped as their
publishers distribute them or uncompressed (as torchvision keeps them under raw/)."""
import hashlib
import os
import struct

import numpy as np

from glo_tf1.data.prepare.sources import SPLITS
from glo_tf1.data.prepare.sources import Source
from glo_tf1.data.prepare.sources import SourceError
from glo_tf1.data.prepare.sources import labels_ok
from glo_tf1.data.prepare.sources import missing
from glo_tf1.data.prepare.sources import not_empty
from glo_tf1.data.prepare.sources import read_gzip

IDX_FILES = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
             'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
GZIP_SUFFIX = '.gz'


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


def read_idx_file(dataset, source_dir, name):
  """(bytes, payload) of IDX file `name` (its .gz name) in source_dir: the gzipped file
  when it is there, else the uncompressed one (its name without .gz); payload describes
  the bytes read (Source.payload). The message of a missing file names both forms."""
  gz_path = os.path.join(source_dir, name)
  raw_name = name[:-len(GZIP_SUFFIX)]
  raw_path = os.path.join(source_dir, raw_name)
  if os.path.isfile(gz_path):
    path, form, data = gz_path, 'gzip', read_gzip(gz_path)
  elif os.path.isfile(raw_path):
    with open(raw_path, 'rb') as f:
      path, form, data = raw_path, 'uncompressed', f.read()
  else:
    missing(dataset, source_dir, '%s has no %s (nor %s, uncompressed).'
            % (source_dir, name, raw_name))
  payload = {'name': raw_name, 'form': form, 'size': len(data),
             'md5': hashlib.md5(data).hexdigest()}
  return path, data, payload


def read_idx_set(dataset, source_dir):
  """The registry's reader of MNIST's layout (gzipped or uncompressed, file by file)."""
  sources, splits = [], {}
  for split in SPLITS:
    images_name, labels_name = IDX_FILES[split]
    images_path, data, images_payload = read_idx_file(dataset, source_dir, images_name)
    images = parse_idx(data, images_path, IDX_IMAGES_MAGIC, (28, 28))
    not_empty(len(images), images_path, split, 'its header says 0 x 28 x 28')
    labels_path, data, labels_payload = read_idx_file(dataset, source_dir, labels_name)
    labels = parse_idx(data, labels_path, IDX_LABELS_MAGIC, ())
    if len(labels) != len(images):
      raise SourceError('%s has %d labels but %s has %d images: they are not a pair'
                        % (labels_path, len(labels), images_path, len(images)))
    labels_ok(labels, labels_path)
    sources += [Source(images_path, len(images), None, images_payload),
                Source(labels_path, len(labels), None, labels_payload)]
    splits[split] = (images, labels)
  return sources, splits
