"""Decoded-image cache: same images as the JPEG pipeline (to 8 bits), same index contract,
shuffled per epoch, rebuilt whenever it does not match the files and settings."""
import collections
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import decode_index
from conftest import write_index_images
from glo_tf1 import io
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import cache
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.training import input_cache


def _dequeue(batch_op, n_batches):
  creator = tf.train.ChiefSessionCreator(config=cache.configure_session(tf.ConfigProto()))
  with tf.train.MonitoredSession(session_creator=creator) as sess:
    return [sess.run(batch_op) for _ in range(n_batches)]


def _index_data(folder, n):
  names = write_index_images(folder, n)
  return [os.path.join(folder, x) for x in names]


class _Log(list):
  def __call__(self, line):
    self.append(line)


@pytest.fixture(scope='module')
def lfw_cache(lfw_dir, tmp_path_factory):
  paths = [os.path.join(lfw_dir, n) for n in files.list_images(lfw_dir)]
  cf = input_cache.prepare_cache(paths, 16, False, str(tmp_path_factory.mktemp('cache')), log=_Log())
  return paths, cf


def test_cache_holds_the_jpeg_pipelines_images_to_8_bits(lfw_cache):
  paths, cf = lfw_cache
  with tf.Graph().as_default(), tf.Session() as sess:
    want = np.concatenate([b for _, b in pipelines.iterate_in_order(sess, paths, 64, 16)])
  got = np.fromfile(cf.path, np.uint8).reshape(len(paths), 16, 16, 3)
  # Row i is image i, within half a level of 8 bits on the [-1, 1] scale.
  assert np.abs(got / 127.5 - 1. - want).max() <= 1. / 255. + 1e-6
  assert got.std() > 10  # real faces, not a constant


def test_pipeline_pairs_each_real_image_with_its_index(lfw_cache):
  paths, cf = lfw_cache
  with tf.Graph().as_default(), tf.Session() as sess:
    want = np.concatenate([b for _, b in pipelines.iterate_in_order(sess, paths, 64, 16)])
  with tf.Graph().as_default():
    batches = _dequeue(cache.cache_pipeline(cf, 50, num_threads=3), 8)
  for b in batches:
    assert b['image'].dtype == np.float32 and b['image'].shape == (50, 16, 16, 3)
    assert np.abs(b['image'] - want[b['index']]).max() <= 1. / 255. + 1e-6


def test_deterministic_each_epoch_is_a_new_permutation_and_seeded(tmp_path):
  """Under --deterministic (no shuffle buffer, as the file pipeline's FIFO batch) the
  seeded per-epoch permutation is the order."""
  n, batch = 48, 8
  paths = _index_data(str(tmp_path / 'img'), n)
  cf = input_cache.prepare_cache(paths, 16, False, str(tmp_path / 'c'), log=_Log())

  def orders(seed):
    with tf.Graph().as_default():
      bs = _dequeue(cache.cache_pipeline(cf, batch, num_threads=1, seed=seed,
                                         deterministic=True), 3 * n // batch)
    for b in bs:
      assert [decode_index(im) for im in b['image']] == list(b['index'])
    flat = np.concatenate([b['index'] for b in bs])
    return [list(flat[e * n:(e + 1) * n]) for e in range(3)]

  first = orders(7)
  for epoch in first:
    assert sorted(epoch) == list(range(n))
  assert first[0] != list(range(n)) and first[0] != first[1] != first[2]
  assert orders(7) == first  # deterministic for a seed
  assert orders(8) != first


def test_towers_get_different_images_and_their_own_indices(tmp_path):
  # 3 dequeues of 2 x 8 have read at most 48 + 4 x 16 (prefetched) + 2 x 16 (being
  # gathered) + 42 (the shuffle buffer) + 16 (being put in it) + 64 (the producer queue)
  # = 266 of the 300 rows: all from the first epoch, so a repeated index could only come
  # from towers sharing images.
  n = 300
  paths = _index_data(str(tmp_path / 'img'), n)
  cf = input_cache.prepare_cache(paths, 16, False, str(tmp_path / 'c'), log=_Log())
  cfg = settings.resolve('demo', {'image_size': 16, 'batch_size': 8, 'num_gpus': 2,
                                'shuffle_capacity': 40, 'min_after_dequeue': 10,
                                'num_reader_threads': 2, 'input_cache': 'auto'})
  with tf.Graph().as_default():
    towers = pipelines.tower_inputs(cfg, paths, 2, cache=cf)
    batches = _dequeue(towers, 3)
  seen = collections.Counter()
  for t0, t1 in batches:
    assert not set(t0['index']) & set(t1['index'])
    for t in (t0, t1):
      assert [decode_index(im) for im in t['image']] == list(t['index'])
      seen.update(int(i) for i in t['index'])
  assert len(seen) == sum(seen.values()) == 48


@pytest.mark.parametrize('source', ['files', 'cache'])
def test_both_pipelines_draw_through_the_bounded_shuffle_buffer(source, tmp_path):
  """--shuffle_capacity and --min_after_dequeue bound the order of either source, as the
  notebook's shuffle_batch(capacity=800, min_after_dequeue=100) did: a property of any
  bounded shuffle buffer fed with per-epoch permutations, not of one implementation.

  * The epochs mix at their boundaries: when the last image of an epoch enters the
    buffer, at least min_after_dequeue (20) of that epoch are still in it, and the next
    draws of 8 take the next epoch's images too (all 20 left over drawn before any of
    the next epoch: about 1e-4 at a boundary). So some run of N consecutive images is not
    a permutation of the N indices, which slicing a per-epoch permutation always gives.
  * The buffer is bounded: the first N images come from the first N + (what is held
    upstream, under 200 here) images read, within two epochs, so no index appears in
    them more than twice (a buffer of 800 would hold four epochs).
  """
  n, b = 200, 8
  paths = _index_data(str(tmp_path / 'img'), n)
  cf = None if source == 'files' else input_cache.prepare_cache(
      paths, 16, False, str(tmp_path / 'c'), log=_Log())
  cfg = settings.resolve('demo', {'image_size': 16, 'batch_size': b, 'shuffle_capacity': 40,
                                'min_after_dequeue': 20, 'num_reader_threads': 2,
                                'input_cache': 'off' if cf is None else 'auto'})
  with tf.Graph().as_default():
    (batch,) = pipelines.tower_inputs(cfg, paths, 1, cache=cf)
    batches = _dequeue(batch, 3 * n // b)
  for x in batches:
    assert [decode_index(im) for im in x['image']] == list(x['index'])
  order = np.concatenate([x['index'] for x in batches])
  epochs = [sorted(order[e * n:(e + 1) * n]) == list(range(n)) for e in range(3)]
  assert not all(epochs), 'every epoch drawn whole, as if there were no buffer'
  assert max(collections.Counter(order[:n].tolist()).values()) <= 2


def test_worker_share_rows_carry_their_global_indices(tmp_path):
  paths = _index_data(str(tmp_path / 'img'), 30)
  share = list(range(1, 30, 3))  # a cluster worker's rows
  cf = input_cache.prepare_cache([paths[i] for i in share], 16, False, str(tmp_path / 'c'), log=_Log())
  with tf.Graph().as_default():
    bs = _dequeue(cache.cache_pipeline(cf, 5, indices=share), 4)
  for b in bs:
    assert [decode_index(im) for im in b['image']] == list(b['index'])
    assert set(b['index']) <= set(share)


def test_reused_when_valid_and_rebuilt_when_files_size_or_crop_change(tmp_path):
  folder = str(tmp_path / 'img')
  paths = _index_data(folder, 20)
  cdir = str(tmp_path / 'c')
  log = _Log()
  cf = input_cache.prepare_cache(paths, 16, False, cdir, log=log)
  assert any('Building' in line for line in log)
  mtime = os.stat(cf.path).st_mtime_ns
  log = _Log()
  assert input_cache.prepare_cache(paths, 16, False, cdir, log=log) == cf
  assert os.stat(cf.path).st_mtime_ns == mtime and not any('Build' in x for x in log)

  # A file's content changes: the manifest differs, the cache is rebuilt with it.
  Image.fromarray(np.full((20, 20, 3), 200, np.uint8)).save(paths[3])
  log = _Log()
  cf = input_cache.prepare_cache(paths, 16, False, cdir, log=log)
  assert any('images differ' in line for line in log)
  assert np.all(np.fromfile(cf.path, np.uint8).reshape(20, 16, 16, 3)[3] == 200)

  # Size or crop: the sidecar records them; a cache of other settings is never used.
  manifest = files.build_manifest('', paths)
  assert cache.check(cdir, manifest, 16, False) is None
  _, meta_path = cache.cache_paths(cdir, 16, False)
  for key, value in (('image_size', 32), ('tight_crop', True), ('num_images', 19)):
    with open(meta_path) as f:
      meta = json.load(f)
    saved = meta[key]
    meta[key] = value
    with open(meta_path, 'w') as f:
      json.dump(meta, f)
    assert key in cache.check(cdir, manifest, 16, False)
    meta[key] = saved
    with open(meta_path, 'w') as f:
      json.dump(meta, f)
  assert cache.check(cdir, manifest, 16, False) is None
  other = input_cache.prepare_cache(paths, 32, True, cdir, log=_Log())
  assert other.path != cf.path and os.path.getsize(other.path) == 20 * 32 * 32 * 3


@pytest.mark.parametrize('damage', ['truncate', 'flip_byte', 'drop_sidecar', 'bad_json'])
def test_damaged_cache_is_detected_and_rebuilt(tmp_path, damage):
  paths = _index_data(str(tmp_path / 'img'), 12)
  cdir = str(tmp_path / 'c')
  cf = input_cache.prepare_cache(paths, 16, False, cdir, log=_Log())
  good = open(cf.path, 'rb').read()
  _, meta_path = cache.cache_paths(cdir, 16, False)
  if damage == 'truncate':
    with open(cf.path, 'r+b') as f:
      f.truncate(len(good) - 100)
  elif damage == 'flip_byte':
    with open(cf.path, 'r+b') as f:
      f.seek(len(good) // 2)
      f.write(bytes([good[len(good) // 2] ^ 1]))
  elif damage == 'drop_sidecar':
    os.remove(meta_path)
  else:
    with open(meta_path, 'w') as f:
      f.write('{"format_version": 1, ')
  why = cache.check(cdir, files.build_manifest('', paths), 16, False)
  assert why and {'truncate': 'truncated', 'flip_byte': 'corrupt',
                  'drop_sidecar': 'sidecar', 'bad_json': 'JSON'}[damage] in why
  log = _Log()
  input_cache.prepare_cache(paths, 16, False, cdir, log=log)
  assert any(line.startswith('Rebuilding') for line in log), log
  assert open(cf.path, 'rb').read() == good


def test_a_users_file_of_a_cache_name_is_never_replaced(tmp_path):
  """Issue 31: in a --cache_dir of the user's, a file named as the cache (images_16px.u8 or
  .json) that no build wrote is refused, named, and kept; a cache built before the record
  existed (a sidecar that reads as one) is adopted and rebuilt."""
  paths = _index_data(str(tmp_path / 'img'), 6)
  for name, text in (('images_16px.u8', b'my array'), ('images_16px.json', b'{"a": 1}')):
    mine = tmp_path / ('mine_' + name.replace('.', '_'))
    mine.mkdir()
    (mine / name).write_bytes(text)
    with pytest.raises(io.NotOursError) as e:
      input_cache.prepare_cache(paths, 16, False, str(mine), log=_Log())
    assert str(e.value).startswith('--cache_dir: %s already exists and glo-tf1 did not '
                                   'write it' % (mine / name))
    assert os.listdir(str(mine)) == [name] and (mine / name).read_bytes() == text
  cdir = str(tmp_path / 'c')
  cf = input_cache.prepare_cache(paths, 16, False, cdir, log=_Log())
  good = open(cf.path, 'rb').read()
  os.remove(os.path.join(cdir, io.WRITTEN))  # as a build before the record left it
  with open(cf.path, 'r+b') as f:
    f.write(b'\x00\x01')  # stale: it must be rebuilt, so replaced
  log = _Log()
  input_cache.prepare_cache(paths, 16, False, cdir, log=log)
  assert any(line.startswith('Rebuilding') for line in log), log
  assert open(cf.path, 'rb').read() == good
  assert io.read_json(os.path.join(cdir, io.WRITTEN)) == {
      'written': ['images_16px.json', 'images_16px.u8']}


def test_config_refuses_cache_with_post_pipeline():
  with pytest.raises(settings.ConfigError, match='input_cache'):
    settings.resolve('demo', {'input_cache': 'auto', 'input_pipeline': 'post'})


def test_training_reads_the_cache_and_resumes_from_it(tmp_path, capsys):
  from glo_tf1.training import loop as train  # pylint: disable=import-outside-toplevel
  paths = _index_data(str(tmp_path / 'img'), 24)
  run = str(tmp_path / 'run')
  cfg = settings.resolve('demo', {
      'image_size': 16, 'latent_dims': 8, 'decoder_filters': [16, 8], 'batch_size': 8,
      'num_reader_threads': 1, 'log_every_steps': 10, 'input_cache': 'auto',
      'num_steps': 3})
  # As launch.run does: the cache is built (or checked) before the graph, then read by it.
  cached, _ = train.initial_inputs(cfg, paths, run)
  assert train.train(cfg, paths, run, cache=cached) == 3
  assert 'Building input cache' in capsys.readouterr().out
  data_path = os.path.join(run, cache.DEFAULT_SUBDIR, 'images_16px.u8')
  assert os.path.getsize(data_path) == 24 * 16 * 16 * 3
  cached, _ = train.initial_inputs(cfg, paths, run)
  assert train.train(dict(cfg, num_steps=6), paths, run, cache=cached) == 6
  assert 'Using input cache' in capsys.readouterr().out


def test_a_cache_that_cannot_fit_is_refused_before_decoding(tmp_path, monkeypatch):
  """The cache's exact size (N * S * S * C bytes) against the free space: refused naming
  the folder, nothing written; the data file of a build that fits is that size."""
  paths = _index_data(str(tmp_path / 'img'), 6)
  cdir = str(tmp_path / 'c')
  usage = shutil.disk_usage('.')
  monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage._replace(free=io.ROOM_RESERVE))
  with pytest.raises(io.NoRoomError) as e:
    input_cache.prepare_cache(paths, 16, False, cdir, log=_Log())
  assert str(e.value).startswith('%s: not enough free space in %s for the input cache of 6 '
                                 'images at 16 px: it needs about 4.6 kB' % (cdir, cdir))
  assert os.listdir(cdir) == []
  monkeypatch.undo()
  cf = input_cache.prepare_cache(paths, 16, False, cdir, log=_Log())
  assert os.path.getsize(cf.path) == 6 * 16 * 16 * 3
