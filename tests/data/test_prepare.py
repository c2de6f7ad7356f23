"""glo-prepare-data (data/prepare/): each benchmark's official file format, written here
from arrays by the format's own description (IDX headers, MATLAB v5 through scipy,
CIFAR-10 binary records and their tar.gz), converted, and compared pixel for pixel with
those arrays; a truncated and a wrong file per format; the missing-file message; resume;
the program's exit status."""
import contextlib
import gzip
import hashlib
import io as stdlib_io
import json
import os
import shutil
import signal
import struct
import tarfile
import time

import numpy as np
import pytest
from PIL import Image

from conftest import run_module
from glo_tf1 import io
from glo_tf1.cli import common
from glo_tf1.cli import prepare_data
from glo_tf1.data import files
from glo_tf1.data import prepare

IDX_NAMES = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
             'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}
COUNTS = {'train': 5, 'test': 3}


def _quiet(*_):
  pass


def idx_bytes(magic, array):
  """An IDX file: big-endian magic, one big-endian uint32 per dimension, the bytes."""
  array = np.asarray(array, np.uint8)
  return (struct.pack('>I', magic) + b''.join(struct.pack('>I', d) for d in array.shape) +
          array.tobytes())


def write_idx_set(folder, seed=0):
  """The four gzipped IDX files of MNIST's layout; returns {split: (images, labels)}."""
  rng = np.random.RandomState(seed)
  os.makedirs(folder, exist_ok=True)
  out = {}
  for split, (images_name, labels_name) in IDX_NAMES.items():
    images = rng.randint(0, 256, (COUNTS[split], 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, COUNTS[split]).astype(np.uint8)
    with open(os.path.join(folder, images_name), 'wb') as f:
      f.write(gzip.compress(idx_bytes(0x803, images)))
    with open(os.path.join(folder, labels_name), 'wb') as f:
      f.write(gzip.compress(idx_bytes(0x801, labels)))
    out[split] = (images, labels)
  return out


def write_svhn(folder, seed=0):
  """train_32x32.mat and test_32x32.mat (X: 32x32x3xN uint8, y: Nx1 in 1..10, 10 = digit
  0); returns {split: (images [N, 32, 32, 3], digits 0..9)}."""
  import scipy.io  # pylint: disable=import-outside-toplevel
  rng = np.random.RandomState(seed)
  os.makedirs(folder, exist_ok=True)
  out = {}
  for split, name in (('train', 'train_32x32.mat'), ('test', 'test_32x32.mat')):
    n = COUNTS[split]
    x = rng.randint(0, 256, (32, 32, 3, n)).astype(np.uint8)
    y = np.array([10, 1, 9, 5, 10][:n], np.uint8).reshape(-1, 1)
    scipy.io.savemat(os.path.join(folder, name), {'X': x, 'y': y})
    images = np.stack([x[:, :, :, i] for i in range(n)])
    digits = np.array([0 if v == 10 else v for v in y[:, 0]], np.uint8)
    out[split] = (images, digits)
  return out


CIFAR_BATCHES = {'train': ['data_batch_%d.bin' % i for i in range(1, 6)],
                 'test': ['test_batch.bin']}


def cifar_records(images, labels):
  """CIFAR-10 binary records: a label byte, then the 1024 red, green and blue bytes."""
  return b''.join(bytes([int(l)]) + im[:, :, 0].tobytes() + im[:, :, 1].tobytes() +
                  im[:, :, 2].tobytes() for im, l in zip(images, labels))


def write_cifar(folder, archive=True, per_batch=2, seed=0):
  """cifar-10-batches-bin/*.bin (and cifar-10-binary.tar.gz of them when `archive`, the
  folder then removed); returns {split: (images, labels)}."""
  rng = np.random.RandomState(seed)
  batches = os.path.join(folder, 'cifar-10-batches-bin')
  os.makedirs(batches, exist_ok=True)
  out = {}
  for split, names in CIFAR_BATCHES.items():
    all_images, all_labels = [], []
    for name in names:
      images = rng.randint(0, 256, (per_batch, 32, 32, 3)).astype(np.uint8)
      labels = rng.randint(0, 10, per_batch).astype(np.uint8)
      with open(os.path.join(batches, name), 'wb') as f:
        f.write(cifar_records(images, labels))
      all_images.append(images)
      all_labels.append(labels)
    out[split] = (np.concatenate(all_images), np.concatenate(all_labels))
  with open(os.path.join(batches, 'batches.meta.txt'), 'w') as f:
    f.write('airplane\n')
  if archive:
    with tarfile.open(os.path.join(folder, 'cifar-10-binary.tar.gz'), 'w:gz') as tar:
      tar.add(batches, arcname='cifar-10-batches-bin')
    shutil.rmtree(batches)
  return out


def read_back(out_dir, split):
  """(pixels [N, ...], labels) of a converted split, in its list's order."""
  with open(os.path.join(out_dir, split + '.txt')) as f:
    rel = [l.strip() for l in f if l.strip()]
  pixels = []
  for r in rel:
    with Image.open(os.path.join(out_dir, r)) as im:
      assert im.format == 'PNG'
      pixels.append(np.asarray(im))
  with open(os.path.join(out_dir, split + '_labels.txt')) as f:
    labels = np.array([int(l) for l in f], np.uint8)
  return np.stack(pixels), labels


def snapshot(folder):
  out = {}
  for root, _, names in os.walk(folder):
    for name in names:
      with open(os.path.join(root, name), 'rb') as f:
        out[os.path.relpath(os.path.join(root, name), folder)] = f.read()
  return out


def _sha256(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _md5(path):
  with open(path, 'rb') as f:
    return hashlib.md5(f.read()).hexdigest()


# ------------------------------------------------------------------ conversions


@pytest.mark.parametrize('name', ['mnist', 'fashion_mnist'])
def test_idx_sets_convert_pixel_for_pixel_to_grayscale_png(tmp_path, name):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  arrays = write_idx_set(src)
  record = prepare.prepare(name, src, out, allow_checksum_mismatch=True, log=_quiet)
  for split, (images, labels) in arrays.items():
    pixels, got_labels = read_back(out, split)
    # 1-channel, padded with 2 black pixels a side to 32 x 32 (the decoder's sizes are
    # powers of 2): the digit's pixels are the source's, the border is black.
    assert pixels.shape == (len(images), 32, 32)
    np.testing.assert_array_equal(pixels[:, 2:30, 2:30], images)
    border = pixels.copy()
    border[:, 2:30, 2:30] = 0
    assert not border.any()
    np.testing.assert_array_equal(got_labels, labels)
    with Image.open(os.path.join(out, split, '00000.png')) as im:
      assert im.mode == 'L'
  # The trainer's file list keeps the source's order (sorted names are the code index).
  assert files.list_images(out, os.path.join(out, 'train.txt')) == [
      'train/%05d.png' % i for i in range(5)]
  with open(os.path.join(out, 'prepare.json')) as f:
    assert json.load(f) == record
  by_name = {s['name']: s for s in record['sources']}
  assert sorted(by_name) == sorted(n for pair in IDX_NAMES.values() for n in pair)
  for split, (images_name, labels_name) in IDX_NAMES.items():
    for n in (images_name, labels_name):
      path = os.path.join(src, n)
      assert by_name[n]['sha256'] == _sha256(path)
      assert by_name[n]['size'] == os.path.getsize(path)
      assert by_name[n]['images'] == COUNTS[split]
  published = by_name['train-images-idx3-ubyte.gz']['published']
  if name == 'fashion_mnist':  # Fashion-MNIST's README publishes MD5s; these files differ
    assert published['md5'] == '8d4fb7e6c68d591d4c3dfef9ec88bf0d'
  else:  # MNIST's page publishes sizes only
    assert published['size'] == 9912422 and 'md5' not in published
  assert published['matches'] is False
  assert record['splits']['train']['images'] == 5 and record['splits']['test']['images'] == 3
  assert record['image'] == {'height': 32, 'width': 32, 'channels': 1, 'format': 'png',
                             'padded_from': [28, 28]} and record['pad_to'] == 32
  with open(os.path.join(out, '.prepare-sources.json')) as f:
    assert json.load(f)['sources'] == [{k: s[k] for k in ('name', 'size', 'sha256')}
                                       for s in record['sources']]


def test_pad_to_zero_keeps_the_28_px_digits_and_another_padding_is_another_conversion(
    tmp_path):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  arrays = write_idx_set(src)
  record = prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet,
                           pad_to=0)
  np.testing.assert_array_equal(read_back(out, 'train')[0], arrays['train'][0])
  assert record['image']['height'] == 28 and 'pad_to' not in record
  with pytest.raises(prepare.SourceError, match='padded to 32 px'):  # not mixed in
    prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  with pytest.raises(prepare.SourceError, match='--pad_to 20 is smaller than mnist'):
    prepare.prepare('mnist', src, str(tmp_path / 'other'), log=_quiet, pad_to=20)
  assert prepare.pad_size(prepare.dataset('cifar10'), 'auto') is None  # 32 px already
  odd = prepare.pad_image(np.full((2, 3, 1), 7, np.uint8), 5)  # extra pixel right, below
  assert odd.shape == (5, 5, 1) and odd[1:3, 1:4].min() == 7 and odd.sum() == 7 * 6


def test_svhn_converts_pixel_for_pixel_and_label_10_is_digit_0(tmp_path, monkeypatch):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  arrays = write_svhn(src)
  with pytest.raises(prepare.SourceError, match='e26dedcc434d2e4c54c9b2d4a06d8373'):
    prepare.prepare('svhn', src, out, log=_quiet)  # torchvision's MD5 of the real file
  monkeypatch.setitem(prepare.PAYLOAD, 'svhn', {
      n: {'md5': _md5(os.path.join(src, n)), 'source': 'test'}
      for n in ('train_32x32.mat', 'test_32x32.mat')})
  record = prepare.prepare('svhn', src, out, log=_quiet)
  for split, (images, digits) in arrays.items():
    pixels, labels = read_back(out, split)
    np.testing.assert_array_equal(pixels, images)
    np.testing.assert_array_equal(labels, digits)
  assert list(read_back(out, 'train')[1]) == [0, 1, 9, 5, 0]
  assert [s['published'] for s in record['sources']] == [None, None]  # no container
  assert [s['form'] for s in record['sources']] == ['mat', 'mat']
  assert all(s['payload']['md5'] == s['md5'] and s['payload']['published']['matches']
             for s in record['sources'])
  assert record['image'] == {'height': 32, 'width': 32, 'channels': 3, 'format': 'png'}


@pytest.mark.parametrize('archive', [True, False], ids=['tar.gz', 'folder'])
def test_cifar10_binary_converts_pixel_for_pixel(tmp_path, archive):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  arrays = write_cifar(src, archive=archive)
  record = prepare.prepare('cifar10', src, out, allow_checksum_mismatch=True, log=_quiet)
  for split, (images, labels) in arrays.items():
    pixels, got = read_back(out, split)
    np.testing.assert_array_equal(pixels, images)
    np.testing.assert_array_equal(got, labels)
  assert record['splits']['train']['images'] == 10 and record['splits']['test']['images'] == 2
  if archive:
    (source,) = record['sources']
    path = os.path.join(src, 'cifar-10-binary.tar.gz')
    assert source['name'] == 'cifar-10-binary.tar.gz' and source['images'] == 12
    assert source['sha256'] == _sha256(path) and source['md5'] == _md5(path)
    assert source['published']['md5'] == 'c32a1d4ab5d03f1284b67883e8d87530'
    assert source['published']['matches'] is False
    assert [m['size'] for m in source['members']] == [2 * 3073] * 6
  else:
    assert [s['name'] for s in record['sources']] == (CIFAR_BATCHES['train'] +
                                                      CIFAR_BATCHES['test'])
    assert all(s['published'] is None for s in record['sources'])


def test_progress_is_reported(tmp_path):
  src = str(tmp_path / 'src')
  write_idx_set(src)
  lines = []
  prepare.prepare('mnist', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                  log=lines.append, every_secs=0)
  assert any(l.startswith('mnist train: 5/5 images') for l in lines), lines
  assert any(l.startswith('mnist test: 3/3 images') for l in lines), lines
  assert any('standard mnist has 60000 training and 10000 test' in l for l in lines)


# ------------------------------------------------------------------ published checksums


def test_a_file_that_differs_from_its_published_md5_is_refused_by_name(tmp_path):
  src = str(tmp_path / 'src')
  write_idx_set(src)
  with pytest.raises(prepare.SourceError, match='train-images-idx3-ubyte.gz differs') as e:
    prepare.prepare('fashion_mnist', src, str(tmp_path / 'out'), log=_quiet)
  assert '8d4fb7e6c68d591d4c3dfef9ec88bf0d' in str(e.value)
  assert '--allow_checksum_mismatch' in str(e.value)
  assert not os.path.exists(str(tmp_path / 'out'))  # refused before anything is written


def _payload_table(src):
  """The payload checksums (MD5 and size of the decompressed IDX bytes) of the test
  files in src, as checksums.PAYLOAD lists the publishers' (hashlib over gzip.decompress,
  independently of the code under test)."""
  table = {}
  for pair in IDX_NAMES.values():
    for n in pair:
      with open(os.path.join(src, n), 'rb') as f:
        payload = gzip.decompress(f.read())
      table[n[:-3]] = {'md5': hashlib.md5(payload).hexdigest(), 'size': len(payload),
                       'source': 'test'}
  return table


def test_files_that_match_the_published_md5s_convert_without_the_flag(tmp_path, monkeypatch):
  src = str(tmp_path / 'src')
  write_idx_set(src)
  table = {n: {'md5': _md5(os.path.join(src, n)), 'source': 'test'}
           for pair in IDX_NAMES.values() for n in pair}
  monkeypatch.setitem(prepare.PUBLISHED, 'fashion_mnist', table)
  monkeypatch.setitem(prepare.PAYLOAD, 'fashion_mnist', _payload_table(src))
  record = prepare.prepare('fashion_mnist', src, str(tmp_path / 'out'), log=_quiet)
  assert all(s['published']['matches'] is True for s in record['sources'])
  assert all(s['form'] == 'gzip' and s['payload']['published']['matches'] is True
             for s in record['sources'])


def _regzip(path, filename):
  """Re-compresses a .gz: the same payload under a gzip header naming `filename` (as the
  publishers' `gzip` wrote theirs) or, with filename '', none and mtime 0, as distribution
  packages and mirrors re-compress (`gzip -n`)."""
  with open(path, 'rb') as f:
    payload = gzip.decompress(f.read())
  buffer = stdlib_io.BytesIO()
  with gzip.GzipFile(filename=filename, mode='wb', fileobj=buffer, mtime=0) as f:
    f.write(payload)
  _rewrite(path, buffer.getvalue())


@pytest.mark.parametrize('name', ['mnist', 'fashion_mnist'])
def test_a_recompressed_copy_whose_payload_is_the_publishers_is_accepted_and_said(
    tmp_path, monkeypatch, name):
  src = str(tmp_path / 'src')
  arrays = write_idx_set(src)
  for pair in IDX_NAMES.values():
    for n in pair:
      _regzip(os.path.join(src, n), n[:-3])
  published = {n: ({'size': os.path.getsize(os.path.join(src, n)), 'source': 'test'}
                   if name == 'mnist' else {'md5': _md5(os.path.join(src, n)),
                                            'source': 'test'})
               for pair in IDX_NAMES.values() for n in pair}
  monkeypatch.setitem(prepare.PUBLISHED, name, published)
  monkeypatch.setitem(prepare.PAYLOAD, name, _payload_table(src))
  gz = os.path.join(src, 'train-images-idx3-ubyte.gz')
  before = os.path.getsize(gz), _md5(gz)
  _regzip(gz, '')
  # Another container (the header without the name: 24 bytes shorter), the same payload.
  assert os.path.getsize(gz) == before[0] - 24 and _md5(gz) != before[1]
  lines = []
  record = prepare.prepare(name, src, str(tmp_path / 'out'), log=lines.append)
  np.testing.assert_array_equal(read_back(str(tmp_path / 'out'), 'train')[0][:, 2:30, 2:30],
                                arrays['train'][0])
  entry = {s['name']: s for s in record['sources']}['train-images-idx3-ubyte.gz']
  assert entry['published']['matches'] is False  # the container check, kept as information
  assert entry['payload']['published']['matches'] is True and entry['form'] == 'gzip'
  assert any(l.startswith('note: ') and 'train-images-idx3-ubyte.gz' in l and
             're-compressed copy, accepted' in l for l in lines), lines
  # Its payload changed by one byte, the same copy is refused, naming both checks.
  with open(gz, 'rb') as f:
    payload = bytearray(gzip.decompress(f.read()))
  payload[-1] ^= 1
  _rewrite(gz, gzip.compress(bytes(payload), mtime=0))
  with pytest.raises(prepare.SourceError, match='train-images-idx3-ubyte.gz differs') as e:
    prepare.prepare(name, src, str(tmp_path / 'out2'), log=_quiet)
  assert 'payload train-images-idx3-ubyte md5 %s' % hashlib.md5(payload).hexdigest() in str(
      e.value)


def test_uncompressed_idx_files_convert_and_the_form_is_recorded(tmp_path, monkeypatch):
  src = str(tmp_path / 'src')
  arrays = write_idx_set(src)
  monkeypatch.setitem(prepare.PAYLOAD, 'fashion_mnist', _payload_table(src))
  for pair in IDX_NAMES.values():  # as torchvision keeps them under raw/
    for n in pair:
      with open(os.path.join(src, n), 'rb') as f:
        _rewrite(os.path.join(src, n[:-3]), gzip.decompress(f.read()))
      os.remove(os.path.join(src, n))
  out = str(tmp_path / 'out')
  record = prepare.prepare('fashion_mnist', src, out, log=_quiet)  # no flag: payload listed
  for split, (images, labels) in arrays.items():
    pixels, got = read_back(out, split)
    np.testing.assert_array_equal(pixels[:, 2:30, 2:30], images)
    np.testing.assert_array_equal(got, labels)
  for s in record['sources']:
    assert s['form'] == 'uncompressed' and not s['name'].endswith('.gz')
    assert s['published'] is None  # no container: the payload is the file
    assert s['payload']['md5'] == s['md5'] == _md5(os.path.join(src, s['name']))
    assert s['payload']['published']['matches'] is True
  # Without the injected checksums, the real listed ones refuse these test payloads.
  monkeypatch.undo()
  with pytest.raises(prepare.SourceError, match='f4a8712d7a061bf5bd6d2ca38dc4d50a'):
    prepare.prepare('fashion_mnist', src, str(tmp_path / 'other'), log=_quiet)


def test_a_missing_idx_file_names_both_forms(tmp_path):
  src = str(tmp_path / 'src')
  write_idx_set(src)
  os.remove(os.path.join(src, 't10k-labels-idx1-ubyte.gz'))
  with pytest.raises(prepare.SourceError,
                     match=r'no t10k-labels-idx1-ubyte.gz \(nor t10k-labels-idx1-ubyte, '
                           r'uncompressed\)'):
    prepare.prepare('mnist', src, str(tmp_path / 'out'), log=_quiet)


def test_cifar_archive_md5_is_checked(tmp_path, monkeypatch):
  src = str(tmp_path / 'src')
  write_cifar(src)
  with pytest.raises(prepare.SourceError, match='cifar-10-binary.tar.gz differs'):
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), log=_quiet)
  monkeypatch.setitem(prepare.PUBLISHED, 'cifar10', {'cifar-10-binary.tar.gz': {
      'md5': _md5(os.path.join(src, 'cifar-10-binary.tar.gz')), 'source': 'test'}})
  record = prepare.prepare('cifar10', src, str(tmp_path / 'out'), log=_quiet)
  assert record['sources'][0]['published']['matches'] is True


# ------------------------------------------------------------------ bad and missing files


def _rewrite(path, data):
  with open(path, 'wb') as f:
    f.write(data)


def _gz_of(path):
  with gzip.open(path, 'rb') as f:
    return f.read()


@pytest.mark.parametrize('damage, message', [
    ('cut_gzip', 'truncated or damaged gzip'),
    ('cut_idx', 'is truncated: '),
    ('not_gzip', 'is not a gzip file'),
    ('wrong_magic', 'magic number is 0x00000801, expected 0x00000803'),
    ('wrong_dims', 'has dimensions 5 x 27 x 28, expected N x 28 x 28'),
    ('short_header', 'shorter than its 16-byte IDX header'),
])
def test_bad_idx_image_files_are_refused_by_name(tmp_path, damage, message):
  src = str(tmp_path / 'src')
  write_idx_set(src)
  path = os.path.join(src, 'train-images-idx3-ubyte.gz')
  raw = _gz_of(path)
  if damage == 'cut_gzip':
    with open(path, 'rb') as f:
      data = f.read()
    _rewrite(path, data[:len(data) // 2])
  elif damage == 'cut_idx':  # a whole gzip of a short IDX file
    _rewrite(path, gzip.compress(raw[:-100]))
  elif damage == 'not_gzip':
    _rewrite(path, raw)  # the IDX bytes, not gzipped
  elif damage == 'wrong_magic':  # a labels file where the images should be
    _rewrite(path, gzip.compress(_gz_of(os.path.join(src, 'train-labels-idx1-ubyte.gz'))))
  elif damage == 'wrong_dims':
    _rewrite(path, gzip.compress(idx_bytes(0x803, np.zeros((5, 27, 28), np.uint8))))
  elif damage == 'short_header':
    _rewrite(path, gzip.compress(raw[:10]))
  with pytest.raises(prepare.SourceError, match=message) as e:
    prepare.prepare('mnist', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  assert path in str(e.value)


def test_labels_that_do_not_pair_with_the_images_are_refused(tmp_path):
  src = str(tmp_path / 'src')
  write_idx_set(src)
  path = os.path.join(src, 't10k-labels-idx1-ubyte.gz')
  _rewrite(path, gzip.compress(idx_bytes(0x801, np.zeros(2, np.uint8))))
  with pytest.raises(prepare.SourceError, match='has 2 labels but .* has 3 images'):
    prepare.prepare('mnist', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)


def test_bad_svhn_files_are_refused_by_name(tmp_path):
  import scipy.io  # pylint: disable=import-outside-toplevel
  src = str(tmp_path / 'src')
  write_svhn(src)
  path = os.path.join(src, 'train_32x32.mat')
  with open(path, 'rb') as f:
    data = f.read()
  out = str(tmp_path / 'out')
  cases = [
      (data[:len(data) // 2], 'cannot be read as a MATLAB v5 file'),  # truncated
      (data[:100], 'is not a MATLAB v5 .mat file.*truncated'),
      (b'\x1f\x8b' + data[2:], 'is not a MATLAB v5 .mat file'),  # not a .mat at all
  ]
  for content, message in cases:
    _rewrite(path, content)
    with pytest.raises(prepare.SourceError, match=message) as e:
      prepare.prepare('svhn', src, out, log=_quiet)
    assert path in str(e.value)
  scipy.io.savemat(path, {'X': np.zeros((32, 32, 3, 2), np.uint8)})
  with pytest.raises(prepare.SourceError, match='has no variable y'):
    prepare.prepare('svhn', src, out, log=_quiet)
  scipy.io.savemat(path, {'X': np.zeros((28, 28, 3, 2), np.uint8), 'y': np.ones((2, 1))})
  with pytest.raises(prepare.SourceError, match='X is 28 x 28 x 3 x 2 uint8, expected 32'):
    prepare.prepare('svhn', src, out, log=_quiet)
  scipy.io.savemat(path, {'X': np.zeros((32, 32, 3, 2), np.uint8),
                          'y': np.array([[0], [3]], np.uint8)})
  with pytest.raises(prepare.SourceError, match='outside 1..10'):
    prepare.prepare('svhn', src, out, log=_quiet)
  assert not os.path.exists(out)


@pytest.mark.parametrize('y, message', [
    (np.array(['1', '2']), r'y holds text \(<U1\), not numbers'),
    (np.array([[1.5], [2.0]]), r'y holds 1 non-integer value \(1.5 at index 0\)'),
    (np.array([[3.0], [np.nan]]), r'y holds 1 non-integer value \(nan at index 1\)'),
    (np.array([[1 + 1j], [2]]), r'y holds complex numbers'),
    (np.array([[0], [3]], np.uint8), r'y holds values outside 1..10 \(found 0..3;'),
    (np.array([[10.0], [11.0]]), r'y holds values outside 1..10 \(found 10..11;'),
])
def test_svhn_labels_that_are_not_integers_1_to_10_are_refused_by_name(tmp_path, y, message):
  import scipy.io  # pylint: disable=import-outside-toplevel
  src = str(tmp_path / 'src')
  write_svhn(src)
  path = os.path.join(src, 'train_32x32.mat')
  scipy.io.savemat(path, {'X': np.zeros((32, 32, 3, 2), np.uint8), 'y': y})
  with pytest.raises(prepare.SourceError, match=message) as e:
    prepare.prepare('svhn', src, str(tmp_path / 'out'), log=_quiet)
  assert str(e.value).startswith(path + ': ')
  # Whole numbers stored as doubles (MATLAB's default) are labels.
  scipy.io.savemat(path, {'X': np.zeros((32, 32, 3, 2), np.uint8), 'y': [[10.0], [3.0]]})
  prepare.prepare('svhn', src, str(tmp_path / 'out'), log=_quiet, allow_checksum_mismatch=True)
  assert list(read_back(str(tmp_path / 'out'), 'train')[1]) == [0, 3]


@pytest.mark.parametrize('name', ['mnist', 'svhn', 'cifar10'])
def test_a_source_with_no_images_is_refused_naming_it_and_its_split(tmp_path, name):
  import scipy.io  # pylint: disable=import-outside-toplevel
  src = str(tmp_path / 'src')
  if name == 'mnist':
    write_idx_set(src)
    path = os.path.join(src, 't10k-images-idx3-ubyte.gz')
    _rewrite(path, gzip.compress(idx_bytes(0x803, np.zeros((0, 28, 28), np.uint8))))
    _rewrite(os.path.join(src, 't10k-labels-idx1-ubyte.gz'),
             gzip.compress(idx_bytes(0x801, np.zeros(0, np.uint8))))
    split, message = 'test', 'its header says 0 x 28 x 28'
  elif name == 'svhn':
    write_svhn(src)
    path = os.path.join(src, 'train_32x32.mat')
    scipy.io.savemat(path, {'X': np.zeros((32, 32, 3, 0), np.uint8),
                            'y': np.zeros((0, 1), np.uint8)})
    split, message = 'train', 'X is 32 x 32 x 3 x 0'
  else:  # an empty batch is not a whole number of records
    write_cifar(src, archive=False)
    path = os.path.join(src, 'cifar-10-batches-bin', 'test_batch.bin')
    _rewrite(path, b'')
    split, message = 'test', None
  with pytest.raises(prepare.SourceError) as e:
    prepare.prepare(name, src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  if message:
    assert str(e.value).startswith('%s holds no images (%s): the %s split would be empty'
                                   % (path, message, split))
  else:
    assert str(e.value).startswith('%s is 0 bytes, not a whole number' % path)
  assert not os.path.exists(str(tmp_path / 'out'))


def test_idx_and_cifar_labels_are_bytes_0_to_9(tmp_path):
  # IDX labels are unsigned bytes by their magic number (another type code is another
  # magic); CIFAR's are a byte per record: both can only be out of range.
  src = str(tmp_path / 'idx')
  write_idx_set(src)
  path = os.path.join(src, 'train-labels-idx1-ubyte.gz')
  _rewrite(path, gzip.compress(idx_bytes(0x801, [0, 1, 10, 2, 3])))
  with pytest.raises(prepare.SourceError, match=r'holds labels outside 0..9 \(found 0..10\)'):
    prepare.prepare('mnist', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  floats = struct.pack('>II', 0xD01, 5) + np.zeros(5, '>f4').tobytes()  # IDX float labels
  _rewrite(path, gzip.compress(floats))
  with pytest.raises(prepare.SourceError, match='magic number is 0x00000d01, expected 0x0000'
                                                '0801') as e:
    prepare.prepare('mnist', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  assert path in str(e.value)
  src = str(tmp_path / 'cifar')
  write_cifar(src, archive=False)
  batch = os.path.join(src, 'cifar-10-batches-bin', 'test_batch.bin')
  _rewrite(batch, cifar_records(np.zeros((2, 32, 32, 3), np.uint8), [3, 200]))
  with pytest.raises(prepare.SourceError, match=r'outside 0..9 \(found 3..200\)') as e:
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), log=_quiet)
  assert batch in str(e.value)
  assert not os.path.exists(str(tmp_path / 'out'))


def test_bad_cifar_files_are_refused_by_name(tmp_path):
  src = str(tmp_path / 'folder')
  write_cifar(src, archive=False)
  batch = os.path.join(src, 'cifar-10-batches-bin', 'data_batch_3.bin')
  with open(batch, 'rb') as f:
    data = f.read()
  _rewrite(batch, data[:-1])
  with pytest.raises(prepare.SourceError, match='not a whole number of 3073-byte') as e:
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), log=_quiet)
  assert batch in str(e.value)

  src = str(tmp_path / 'archive')
  write_cifar(src, archive=True)
  archive = os.path.join(src, 'cifar-10-binary.tar.gz')
  with open(archive, 'rb') as f:
    data = f.read()
  _rewrite(archive, data[:len(data) // 2])
  with pytest.raises(prepare.SourceError, match='truncated or damaged tar.gz') as e:
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  assert archive in str(e.value)
  _rewrite(archive, b'not a gzip at all')
  with pytest.raises(prepare.SourceError, match='is not a gzip file'):
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  # A tar.gz without the batches (another archive under the expected name).
  buf = stdlib_io.BytesIO()
  with tarfile.open(fileobj=buf, mode='w:gz') as tar:
    info = tarfile.TarInfo('cifar-10-batches-bin/readme.html')
    info.size = 3
    tar.addfile(info, stdlib_io.BytesIO(b'abc'))
  _rewrite(archive, buf.getvalue())
  with pytest.raises(prepare.SourceError, match='lacks cifar-10-batches-bin/data_batch_1.bin'):
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  assert not os.path.exists(str(tmp_path / 'out'))


def _cifar_tar(src, members):
  """src/cifar-10-binary.tar.gz of the batches write_cifar(src, archive=False) wrote, as
  members [(name in the archive, batch file name, or ('link', target))]; removes the
  folder."""
  folder = os.path.join(src, 'cifar-10-batches-bin')
  with tarfile.open(os.path.join(src, 'cifar-10-binary.tar.gz'), 'w:gz') as tar:
    for name, what in members:
      info = tarfile.TarInfo(name)
      if isinstance(what, tuple):
        info.type, info.linkname = tarfile.SYMTYPE, what[1]
        tar.addfile(info)
      else:
        with open(os.path.join(folder, what), 'rb') as f:
          data = f.read()
        info.size = len(data)
        tar.addfile(info, stdlib_io.BytesIO(data))
  shutil.rmtree(folder)


ALL_BATCHES = CIFAR_BATCHES['train'] + CIFAR_BATCHES['test']


def test_a_cifar_archive_packed_with_a_dot_slash_prefix_converts(tmp_path):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  arrays = write_cifar(src, archive=False)
  _cifar_tar(src, [('./cifar-10-batches-bin/' + n, n) for n in ALL_BATCHES])
  with tarfile.open(os.path.join(src, 'cifar-10-binary.tar.gz')) as tar:
    assert tar.getnames()[0] == './cifar-10-batches-bin/data_batch_1.bin'
  record = prepare.prepare('cifar10', src, out, allow_checksum_mismatch=True, log=_quiet)
  for split, (images, labels) in arrays.items():
    pixels, got = read_back(out, split)
    np.testing.assert_array_equal(pixels, images)
    np.testing.assert_array_equal(got, labels)
  assert record['sources'][0]['members'][0]['name'] == 'cifar-10-batches-bin/data_batch_1.bin'


@pytest.mark.parametrize('extra, message', [
    # The same batch twice (another copy last), with or without the ./ prefix.
    (('cifar-10-batches-bin/data_batch_2.bin', 'test_batch.bin'),
     "holds cifar-10-batches-bin/data_batch_2.bin twice \\(members "
     "'cifar-10-batches-bin/data_batch_2.bin' and 'cifar-10-batches-bin/data_batch_2.bin'"),
    (('./cifar-10-batches-bin/data_batch_2.bin', 'test_batch.bin'),
     "holds cifar-10-batches-bin/data_batch_2.bin twice \\(members "
     "'cifar-10-batches-bin/data_batch_2.bin' and './cifar-10-batches-bin/data_batch_2.bin'"),
])
def test_a_cifar_archive_holding_a_batch_twice_is_refused(tmp_path, extra, message):
  src = str(tmp_path / 'src')
  write_cifar(src, archive=False)
  _cifar_tar(src, [('cifar-10-batches-bin/' + n, n) for n in ALL_BATCHES] + [extra])
  with pytest.raises(prepare.SourceError, match=message) as e:
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  assert os.path.join(src, 'cifar-10-binary.tar.gz') in str(e.value)


@pytest.mark.parametrize('name', ['../cifar-10-batches-bin/data_batch_1.bin',
                                  '/cifar-10-batches-bin/data_batch_1.bin',
                                  './../cifar-10-batches-bin/data_batch_1.bin',
                                  'x/../cifar-10-batches-bin/data_batch_1.bin'])
def test_cifar_members_outside_the_folder_or_links_are_not_read(tmp_path, name):
  src = str(tmp_path / 'src')
  write_cifar(src, archive=False)
  members = [('cifar-10-batches-bin/' + n, n) for n in ALL_BATCHES[1:]]
  _cifar_tar(src, members + [(name, 'data_batch_1.bin')])
  with pytest.raises(prepare.SourceError, match='lacks cifar-10-batches-bin/data_batch_1.bin: '
                     ".*; found '%s' \\(1 in all\\): the batches must be in "
                     'cifar-10-batches-bin/ at the top' % name.replace('.', '\\.')):
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  write_cifar(src, archive=False)
  _cifar_tar(src, members + [('cifar-10-batches-bin/data_batch_1.bin',
                              ('link', '/etc/passwd'))])
  with pytest.raises(prepare.SourceError, match="lacks cifar-10-batches-bin/data_batch_1.bin"
                     ".*'cifar-10-batches-bin/data_batch_1.bin' is a link or not a regular"):
    prepare.prepare('cifar10', src, str(tmp_path / 'out'), allow_checksum_mismatch=True,
                    log=_quiet)
  assert not os.path.exists(str(tmp_path / 'out'))


@pytest.mark.parametrize('name', ['cifar-10-python.tar.gz', 'cifar-10-batches-py'])
def test_cifar_python_version_is_refused_by_name(tmp_path, name):
  src = tmp_path / 'src'
  src.mkdir()
  if name.endswith('.tar.gz'):
    (src / name).write_bytes(b'\x1f\x8b')
  else:
    (src / name).mkdir()
  with pytest.raises(prepare.SourceError, match="Python version") as e:
    prepare.prepare('cifar10', str(src), str(tmp_path / 'out'), log=_quiet)
  assert str(src / name) in str(e.value) and 'cifar-10-binary.tar.gz' in str(e.value)


@pytest.mark.parametrize('name, remove, url', [
    ('mnist', 't10k-labels-idx1-ubyte.gz',
     'http://yann.lecun.com/exdb/mnist/t10k-labels-idx1-ubyte.gz'),
    ('fashion_mnist', 'train-images-idx3-ubyte.gz',
     'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz'),
    ('svhn', 'test_32x32.mat', 'http://ufldl.stanford.edu/housenumbers/test_32x32.mat'),
    ('cifar10', 'cifar-10-binary.tar.gz',
     'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'),
])
def test_a_missing_file_says_where_to_get_it_and_where_to_put_it(tmp_path, name, remove,
                                                                  url):
  src = str(tmp_path / 'src')
  {'mnist': write_idx_set, 'fashion_mnist': write_idx_set, 'svhn': write_svhn,
   'cifar10': write_cifar}[name](src)
  os.remove(os.path.join(src, remove))
  with pytest.raises(prepare.SourceError) as e:
    prepare.prepare(name, src, str(tmp_path / 'out'), log=_quiet)
  text = str(e.value)
  assert remove in text.splitlines()[0] and src in text.splitlines()[0]
  assert url in text and 'Put ' in text and src + '/' in text


def test_an_unknown_dataset_is_refused_listing_the_names():
  with pytest.raises(prepare.SourceError, match='mnist, fashion_mnist, svhn, cifar10'):
    prepare.dataset('imagenet')


# ------------------------------------------------------------------ resume


def test_rerun_after_deleting_outputs_gives_the_same_result(tmp_path):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  write_idx_set(src)
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  first = snapshot(out)
  for rel in ('train/00001.png', 'train/00004.png', 'test/00000.png', 'train.txt',
              'test.txt', 'train_labels.txt', 'prepare.json'):
    os.remove(os.path.join(out, rel))
  # A damaged image (other pixels) is rewritten too; an intact one is kept.
  Image.fromarray(np.zeros((28, 28), np.uint8)).save(os.path.join(out, 'test', '00002.png'))
  kept = os.path.join(out, 'train', '00000.png')
  os.utime(kept, (1, 1))
  lines = []
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=lines.append)
  assert snapshot(out) == first
  assert os.stat(kept).st_mtime == 1  # not rewritten
  assert 'mnist train: 5 images, 2 written, 3 already complete.' in lines
  assert 'mnist test: 3 images, 2 written, 1 already complete.' in lines


def test_an_interrupted_conversion_resumes_to_the_same_result(tmp_path, monkeypatch):
  src = str(tmp_path / 'src')
  write_idx_set(src)
  fresh = str(tmp_path / 'fresh')
  prepare.prepare('mnist', src, fresh, allow_checksum_mismatch=True, log=_quiet,
                  num_threads=1)
  out = str(tmp_path / 'out')
  real, calls = prepare.writer._write_image, []  # pylint: disable=protected-access

  def interrupted(path, image):
    calls.append(path)
    if len(calls) > 3:
      raise KeyboardInterrupt
    return real(path, image)

  monkeypatch.setattr(prepare.writer, '_write_image', interrupted)
  with pytest.raises(KeyboardInterrupt):
    prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet,
                    num_threads=1)
  monkeypatch.setattr(prepare.writer, '_write_image', real)
  names = set(os.listdir(out))
  assert 'train.txt' not in names and 'prepare.json' not in names  # lists come last
  assert '.prepare-sources.json' in names
  assert sorted(os.listdir(os.path.join(out, 'train'))) == ['00000.png', '00001.png',
                                                            '00002.png']
  lines = []
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=lines.append)
  assert snapshot(out) == snapshot(fresh)
  assert 'mnist train: 5 images, 2 written, 3 already complete.' in lines


def test_sigterm_stops_the_program_at_once_leaving_no_temporaries(tmp_path, monkeypatch):
  # The signal lands while a worker is inside atomic_open (its temporary exists): the
  # program stops as on Ctrl-C, the queued images are dropped, the started ones finish.
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  write_cifar(src, archive=False, per_batch=40)  # 240 images
  real, calls = io.atomic_open, []

  @contextlib.contextmanager
  def slow(path, mode='w'):
    with real(path, mode) as f:
      calls.append(path)
      if len(calls) == 5:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
      yield f

  monkeypatch.setattr(io, 'atomic_open', slow)
  caught = []  # without the program's handler SIGTERM would end pytest: note it instead
  previous = signal.signal(signal.SIGTERM, lambda *_: caught.append(1))
  try:
    rest = common.parse(prepare_data.FLAGS, ['prog', 'cifar10', '--source', src,
                                             '--out_dir', out, '--num_threads=2'],
                        positional=True)
    with pytest.raises(KeyboardInterrupt):
      prepare_data.main(prepare_data.FLAGS, rest[1:])
    assert signal.getsignal(signal.SIGTERM) is not prepare_data._interrupt  # restored
  finally:
    signal.signal(signal.SIGTERM, previous)
    prepare_data.FLAGS.unparse_flags()
  written = os.listdir(os.path.join(out, 'train'))
  assert [n for n in written if not n.endswith('.png')] == []  # no temporary left
  assert 3 <= len(written) < 20 and not caught


def test_a_resume_removes_the_temporaries_a_killed_run_left_and_only_those(tmp_path):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  write_idx_set(src)
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  first = snapshot(out)
  os.remove(os.path.join(out, 'train', '00003.png'))
  stale = ['train/.00003.png.k2_9x0aq.tmp', 'test/.00001.png.abcdefgh.tmp',
           '.train.txt.a1b2c3d4.tmp', '.prepare.json.zzzzzzzz.tmp']
  for rel in stale:
    with open(os.path.join(out, rel), 'wb') as f:
      f.write(b'half a file')
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  assert snapshot(out) == first
  # Not of its naming: another target, no random part, not a temporary of a name it writes.
  from glo_tf1 import io as io_lib  # pylint: disable=import-outside-toplevel
  own = lambda name, targets: io_lib.temporary_target(name) in targets
  for name in ('.00003.png.tmp', '.00099.png.abcdefgh.tmp', '.mine.txt.abcdefgh.tmp'):
    assert not own(name, {'00003.png', 'mine.png'})
  assert own('.00003.png.abcdefgh.tmp', {'00003.png'})


def test_an_out_dir_holding_another_conversion_or_other_files_is_refused(tmp_path):
  src_a, src_b, out = str(tmp_path / 'a'), str(tmp_path / 'b'), str(tmp_path / 'out')
  write_idx_set(src_a, seed=0)
  write_idx_set(src_b, seed=1)
  prepare.prepare('mnist', src_a, out, allow_checksum_mismatch=True, log=_quiet)
  before = snapshot(out)
  with pytest.raises(prepare.SourceError, match='records a conversion of other files'):
    prepare.prepare('mnist', src_b, out, allow_checksum_mismatch=True, log=_quiet)
  with pytest.raises(prepare.SourceError, match='records a conversion of other files'):
    prepare.prepare('fashion_mnist', src_a, out, allow_checksum_mismatch=True, log=_quiet)
  assert snapshot(out) == before
  other = tmp_path / 'other'
  other.mkdir()
  (other / 'mine.png').write_bytes(b'x')
  with pytest.raises(prepare.SourceError, match='is not empty and holds no prepare.json'):
    prepare.prepare('mnist', src_a, str(other), allow_checksum_mismatch=True, log=_quiet)


def test_a_resume_refuses_files_the_conversion_does_not_write_naming_them(tmp_path):
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  write_idx_set(src)
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  os.remove(os.path.join(out, 'prepare.json'))  # a resume of .prepare-sources.json too
  stray = ['train/99999.png', 'README', 'test/.mine.tmp', 'train/00001.png.bak']
  for rel in stray:
    with open(os.path.join(out, rel), 'wb') as f:
      f.write(b'mine')
  os.mkdir(os.path.join(out, 'extra'))
  with open(os.path.join(out, 'train', '.00002.png.abcdefgh.tmp'), 'wb') as f:
    f.write(b'a stale temporary')
  before = snapshot(out)
  with pytest.raises(prepare.SourceError) as e:
    prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  assert str(e.value).startswith(
      '--out_dir %s holds 5 files that this conversion does not write (README, extra/, '
      'test/.mine.tmp, ...): remove them' % out)
  assert snapshot(out) == before and os.path.isdir(os.path.join(out, 'extra'))  # untouched
  for rel in stray:
    os.remove(os.path.join(out, rel))
  os.rmdir(os.path.join(out, 'extra'))
  os.remove(os.path.join(out, 'train', '00003.png'))  # a folder where an image goes
  os.mkdir(os.path.join(out, 'train', '00003.png'))
  with pytest.raises(prepare.SourceError, match=r'holds 1 file .* \(train/00003.png/\)'):
    prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  os.rmdir(os.path.join(out, 'train', '00003.png'))
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  assert sorted(os.listdir(os.path.join(out, 'train'))) == ['%05d.png' % i for i in range(5)]


# ------------------------------------------------------------------ the program


@pytest.mark.e2e
def test_program_exits_2_on_a_bad_dataset_name(tmp_path):
  proc = run_module('glo_tf1.cli.prepare_data', 'imagenet', '--source', tmp_path,
                    '--out_dir', tmp_path / 'out', check=False)
  assert proc.returncode == 2, proc.stderr
  assert "unknown data set 'imagenet'" in proc.stderr and 'cifar10' in proc.stderr
  proc = run_module('glo_tf1.cli.prepare_data', '--source', tmp_path, '--out_dir',
                    tmp_path / 'out', check=False)
  assert proc.returncode == 2 and 'expected one DATASET argument' in proc.stderr


@pytest.mark.e2e
def test_program_converts_and_exits_2_on_a_missing_file(tmp_path):
  src, out = tmp_path / 'src', tmp_path / 'out'
  arrays = write_idx_set(str(src))
  proc = run_module('glo_tf1.cli.prepare_data', 'mnist', '--source', src, '--out_dir', out,
                    '--allow_checksum_mismatch', '--pad_to=0')
  assert 'Train with: glo-train --data_dir' in proc.stdout
  np.testing.assert_array_equal(read_back(str(out), 'test')[0], arrays['test'][0])
  proc = run_module('glo_tf1.cli.prepare_data', 'mnist', '--source', src, '--out_dir', out,
                    '--pad_to=-2', check=False)
  assert proc.returncode == 2 and '--pad_to: must be auto or a non-negative' in proc.stderr
  os.remove(src / 'train-labels-idx1-ubyte.gz')
  proc = run_module('glo_tf1.cli.prepare_data', 'mnist', '--source', src, '--out_dir',
                    tmp_path / 'out2', check=False)
  assert proc.returncode == 2
  assert 'train-labels-idx1-ubyte.gz' in proc.stderr and 'yann.lecun.com' in proc.stderr


def test_each_benchmark_preset_trains_at_the_size_and_channels_its_conversion_writes():
  from glo_tf1 import settings  # pylint: disable=import-outside-toplevel
  for name, ds in prepare.DATASETS.items():
    cfg = settings.resolve(name)
    assert cfg['image_size'] == (prepare.pad_size(ds, 'auto') or ds.shape[0]), name
    assert cfg['channels'] == ds.shape[2], name
  assert set(prepare.DATASETS) <= set(settings.DATASET_PRESETS)


def test_celeba64_writes_the_partition_lists_and_a_record_of_aligned_celeba(tmp_path):
  """CelebA is trained on as it is: its preparation checks the layout (celeba.sh's check)
  and writes the lists, which name its own JPEGs, and the partition file's digest."""
  sys_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'cli')
  import sys  # pylint: disable=import-outside-toplevel
  sys.path.insert(0, sys_path)
  from test_celeba_script import fake_celeba  # pylint: disable=import-outside-toplevel
  src = fake_celeba(str(tmp_path / 'celeba'))  # 8 train, 2 valid, 2 test
  out = str(tmp_path / 'out')
  proc = run_module('glo_tf1.cli.prepare_data', 'celeba64', '--source', src, '--out_dir', out)
  images = os.path.join(src, 'img_align_celeba')
  assert '--preset celeba64 --data_dir %s' % images in proc.stdout
  assert files.list_images(images, os.path.join(out, 'test.txt')) == ['000011.jpg',
                                                                      '000012.jpg']
  with open(os.path.join(out, 'prepare.json')) as f:
    record = json.load(f)
  assert record['splits']['train'] == {'images': 8, 'list': 'train.txt'}
  assert record['images_dir'] == images
  assert record['sources'][0]['sha256'] == _sha256(os.path.join(src, 'list_eval_partition.txt'))
  os.remove(os.path.join(images, '000003.jpg'))
  proc = run_module('glo_tf1.cli.prepare_data', 'celeba128', '--source', src, '--out_dir',
                    out, check=False)
  assert proc.returncode == 2 and '000003.jpg' in proc.stderr


def _fake_free(monkeypatch, free):
  usage = shutil.disk_usage('.')
  monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage._replace(free=free))


def test_a_conversion_that_cannot_fit_is_refused_before_writing(tmp_path, monkeypatch):
  """8 PNGs of 32 x 32 gray take at most 8 blocks (io.png_bytes); with 16 MiB free (the
  reserve alone) the conversion is refused naming the folder, the size and the free
  space, and writes nothing; with room it converts, within the estimate."""
  src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
  write_idx_set(src)
  _fake_free(monkeypatch, io.ROOM_RESERVE)
  with pytest.raises(io.NoRoomError) as e:
    prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  assert str(e.value).startswith('%s: not enough free space in %s for the 8 images of mnist'
                                 % (out, tmp_path)), str(e.value)
  assert '16.8 MB free' in str(e.value) and not os.path.exists(out)
  monkeypatch.undo()
  prepare.prepare('mnist', src, out, allow_checksum_mismatch=True, log=_quiet)
  images = io.used_bytes(os.path.join(out, 'train')) + io.used_bytes(os.path.join(out, 'test'))
  assert images <= 8 * io.png_bytes(32, 32, 1)
