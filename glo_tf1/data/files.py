"""Files: the ordered image list and its manifest (the image check is check.py).

GLO keeps one code per image, addressed by the image's position in the file list, so the
list must mean the same thing on every machine and in every session: it is sorted (the
post's `glob` was not, defect 3), and each run directory records it as `manifest.tsv`
(index, relative path, size, content hash). A resume against a different list is refused.
"""
import concurrent.futures
import hashlib
import os

import numpy as np

from glo_tf1 import io
from glo_tf1 import settings

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
MANIFEST_NAME = 'manifest.tsv'
_HASH_CHUNK = 1 << 16


class DataError(settings.UserError):
  """The data directory or one of its files cannot be used. The message names it."""


def list_images(data_dir, file_list=None):
  """Sorted image paths relative to `data_dir`.

  Args:
    data_dir: folder of images (searched recursively).
    file_list: optional text file with one relative path per line; only those are used
      (for example the training partition of CelebA), in sorted order.
  Returns:
    A sorted list of relative paths ('/'-separated).
  Raises:
    DataError: missing or empty folder, no images, or a listed file that does not exist.
  """
  if not data_dir:
    raise DataError('--data_dir is required')
  if not os.path.exists(data_dir):
    raise DataError('data directory %s does not exist' % data_dir)
  if not os.path.isdir(data_dir):
    raise DataError('data directory %s is not a directory' % data_dir)
  if file_list:
    if not os.path.isfile(file_list):
      raise DataError('file list %s does not exist' % file_list)
    with open(file_list) as f:
      names = [line.strip() for line in f if line.strip()]
    if not names:
      raise DataError('file list %s is empty' % file_list)
    for name in names:
      if not os.path.isfile(os.path.join(data_dir, name)):
        raise DataError('file list %s names %s, which is not a file in %s'
                        % (file_list, name, data_dir))
    return sorted(set(names))
  names = []
  anything = False
  for root, dirs, files in os.walk(data_dir):
    dirs.sort()
    for name in files:
      anything = True
      if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith('.'):
        names.append(os.path.relpath(os.path.join(root, name), data_dir).replace(os.sep, '/'))
  if not anything:
    raise DataError('data directory %s is empty' % data_dir)
  if not names:
    raise DataError('data directory %s has no images (looked for %s)'
                    % (data_dir, ', '.join(IMAGE_EXTENSIONS)))
  return sorted(names)


def seeded_subset(num_available, num_wanted, rng):
  """Sorted indices of min(num_wanted, num_available) items drawn without replacement:
  the first num_wanted of rng.permutation(num_available) (numpy's legacy `choice` without
  replacement draws the same). All of them, in order, when num_wanted is 0 or not less.

  Args:
    rng: a numpy.random.RandomState (the caller's seeded stream).
  """
  if not num_wanted or num_wanted >= num_available:
    return np.arange(num_available)
  return np.sort(rng.permutation(num_available)[:num_wanted])


def fingerprint(path):
  """(size, hash) of a file; the hash covers its size and first and last 64 KiB.

  Cheap for 200k files yet it sees any edit to a small image (CelebA's are ~10 KB, so
  for them it is a hash of the whole file).
  """
  size = os.path.getsize(path)
  h = hashlib.sha1(str(size).encode())
  with open(path, 'rb') as f:
    h.update(f.read(_HASH_CHUNK))
    if size > 2 * _HASH_CHUNK:
      f.seek(-_HASH_CHUNK, os.SEEK_END)
    h.update(f.read(_HASH_CHUNK))
  return size, h.hexdigest()[:16]


def build_manifest(data_dir, names, num_threads=8):
  """[(index, name, size, hash)] in file-list order."""
  paths = [os.path.join(data_dir, n) for n in names]
  with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
    prints = list(pool.map(fingerprint, paths, chunksize=256))
  return [(i, n, s, h) for i, (n, (s, h)) in enumerate(zip(names, prints))]


def write_manifest(path, manifest):
  io.write_text_atomic(path, 'index\tpath\tsize\thash\n' + ''.join(
      '%d\t%s\t%d\t%s\n' % row for row in manifest))


def keep_only(manifest, names):
  """The manifest of the rows whose path is in `names`, re-indexed in order."""
  keep = set(names)
  return [(i, n, s, h) for i, (_, n, s, h) in enumerate(r for r in manifest if r[1] in keep)]


def read_manifest(path):
  with open(path) as f:
    lines = f.read().splitlines()
  if not lines or lines[0] != 'index\tpath\tsize\thash':
    raise DataError('%s is not a glo-tf1 manifest' % path)
  out = []
  for line in lines[1:]:
    i, n, s, h = line.split('\t')
    out.append((int(i), n, int(s), h))
  return out


def manifest_differences(old, new, limit=10):
  """Human-readable differences between two manifests, at most `limit` lines."""
  diffs = []
  old_by_name = {n: (i, s, h) for i, n, s, h in old}
  new_by_name = {n: (i, s, h) for i, n, s, h in new}
  for n in sorted(set(old_by_name) - set(new_by_name)):
    diffs.append('removed: %s (index %d)' % (n, old_by_name[n][0]))
  for n in sorted(set(new_by_name) - set(old_by_name)):
    diffs.append('added: %s' % n)
  moved = []  # listed last: a consequence of the other differences
  for n in sorted(set(old_by_name) & set(new_by_name)):
    (oi, os_, oh), (ni, ns, nh) = old_by_name[n], new_by_name[n]
    if (os_, oh) != (ns, nh):
      diffs.append('modified: %s (size %d -> %d)' % (n, os_, ns))
    elif oi != ni:
      moved.append('moved: %s (index %d -> %d)' % (n, oi, ni))
  diffs += moved
  total = len(diffs)
  if total > limit:
    diffs = diffs[:limit] + ['... and %d more' % (total - limit)]
  return diffs
