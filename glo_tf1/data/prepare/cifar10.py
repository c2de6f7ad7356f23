"""CIFAR-10's binary version: cifar-10-binary.tar.gz, or its extracted
cifar-10-batches-bin/ folder (five training batches and a test batch of 3073-byte
records); the Python (pickle) version is refused by name."""
import os
import posixpath
import tarfile
import zlib

import numpy as np

from glo_tf1.data.prepare.sources import CIFAR_PAGE
from glo_tf1.data.prepare.sources import SPLITS
from glo_tf1.data.prepare.sources import Source
from glo_tf1.data.prepare.sources import SourceError
from glo_tf1.data.prepare.sources import labels_ok
from glo_tf1.data.prepare.sources import missing

CIFAR_ARCHIVE = 'cifar-10-binary.tar.gz'
CIFAR_FOLDER = 'cifar-10-batches-bin'
CIFAR_BATCHES = {'train': tuple('data_batch_%d.bin' % i for i in range(1, 6)),
                 'test': ('test_batch.bin',)}
CIFAR_RECORD = 1 + 3 * 32 * 32  # a label byte, then the R, G and B planes, row-major
CIFAR_PYTHON = ('cifar-10-python.tar.gz', 'cifar-10-batches-py')


def parse_cifar_batch(data, name):
  """(images uint8 [N, 32, 32, 3], labels uint8 [N]) of CIFAR-10 binary records."""
  if len(data) == 0 or len(data) % CIFAR_RECORD:
    raise SourceError('%s is %d bytes, not a whole number of %d-byte CIFAR-10 binary '
                      'records (1 label byte + 3072 pixel bytes): truncated, or not the '
                      'binary version' % (name, len(data), CIFAR_RECORD))
  records = np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
  labels = records[:, 0].copy()
  labels_ok(labels, name)
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


def _read_archive(archive, names):
  """{batch name: bytes} of the batches in CIFAR-10's binary archive."""
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
  _all_batches(archive, names, data, seen, elsewhere)
  return data


def _all_batches(archive, names, data, seen, elsewhere):
  """SourceError naming the batches the archive lacks (and why each is not read)."""
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


def _read_folder(dataset, source_dir, folder, names):
  """{batch name: bytes} of the extracted cifar-10-batches-bin/ folder."""
  data = {}
  for n in names:
    path = os.path.join(folder, n)
    if not os.path.isfile(path):
      missing(dataset, source_dir, '%s has no %s.' % (folder, n))
    with open(path, 'rb') as f:
      data[n] = f.read()
  return data


def read_cifar10(dataset, source_dir):
  """The registry's reader of CIFAR-10's binary version (archive or extracted folder)."""
  archive = os.path.join(source_dir, CIFAR_ARCHIVE)
  folder = os.path.join(source_dir, CIFAR_FOLDER)
  names = [n for split in SPLITS for n in CIFAR_BATCHES[split]]
  if os.path.isfile(archive):
    data = _read_archive(archive, names)
    where = lambda n: '%s:%s/%s' % (archive, CIFAR_FOLDER, n)
  elif os.path.isdir(folder):
    data = _read_folder(dataset, source_dir, folder, names)
    where = lambda n: os.path.join(folder, n)
  else:
    _refuse_python_version(source_dir)
    missing(dataset, source_dir, '%s has neither %s nor %s/.'
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
