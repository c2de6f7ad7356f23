"""SVHN's cropped digits ("Format 2"): train_32x32.mat and test_32x32.mat, MATLAB v5 files
holding X (32 x 32 x 3 x N uint8) and y (N labels 1..10, 10 being the digit 0)."""
import os

import numpy as np

from glo_tf1.data.prepare.sources import SPLITS
from glo_tf1.data.prepare.sources import Source
from glo_tf1.data.prepare.sources import SourceError
from glo_tf1.data.prepare.sources import hashes
from glo_tf1.data.prepare.sources import missing
from glo_tf1.data.prepare.sources import not_empty

SVHN_FILES = {'train': 'train_32x32.mat', 'test': 'test_32x32.mat'}


def read_svhn(dataset, source_dir):
  """The registry's reader of SVHN's two .mat files."""
  import scipy.io  # pylint: disable=import-outside-toplevel
  sources, splits = [], {}
  for split in SPLITS:
    path = os.path.join(source_dir, SVHN_FILES[split])
    if not os.path.isfile(path):
      missing(dataset, source_dir, '%s has no %s.' % (source_dir, SVHN_FILES[split]))
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
    not_empty(x.shape[3], path, split, 'X is 32 x 32 x 3 x 0')
    if y.size != x.shape[3]:
      raise SourceError('%s has %d labels for %d images' % (path, y.size, x.shape[3]))
    y = _svhn_labels(y.reshape(-1), path)
    labels = (y.astype(np.int64) % 10).astype(np.uint8)  # 10 is digit 0
    images = np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2)))  # [N, row, column, RGB]
    payload = {'name': SVHN_FILES[split], 'form': 'mat', 'size': os.path.getsize(path),
               'md5': hashes(path)[1]}  # the .mat is published as it is: its own payload
    sources.append(Source(path, len(images), None, payload))
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

