"""Input queues: every image travels with its own index, preprocessing matches numpy."""
import collections
import os

import numpy as np
import pytest
from PIL import Image

from conftest import decode_index
from conftest import write_index_images
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import images
from glo_tf1.data import pipelines


def _dequeue(batch_op, n_batches):
  out = []
  with tf.train.MonitoredSession() as sess:  # starts the queue runners
    for _ in range(n_batches):
      out.append(sess.run(batch_op))
  return out


def test_pairing_with_four_reader_threads(tmp_path):
  n, batch, epochs = 60, 10, 4
  names = write_index_images(str(tmp_path), n)
  paths = [os.path.join(str(tmp_path), x) for x in names]
  with tf.Graph().as_default():
    op = pipelines.fixed_pipeline(paths, batch, 8, num_threads=4, capacity=40,
                               min_after_dequeue=20)
    batches = _dequeue(op, n * epochs // batch)
  seen = collections.Counter()
  for b in batches:
    assert b['image'].shape == (batch, 8, 8, 3) and b['index'].shape == (batch,)
    for image, index in zip(b['image'], b['index']):
      assert decode_index(image) == index  # each index with its own image
      seen[int(index)] += 1
  assert set(seen) == set(range(n))  # every index seen
  # Epochs are complete: the shuffle buffer only moves images across epoch boundaries.
  assert min(seen.values()) >= epochs - 2 and sum(seen.values()) == n * epochs


def test_every_epoch_is_shuffled_differently(tmp_path):
  n = 40
  names = write_index_images(str(tmp_path), n)
  paths = [os.path.join(str(tmp_path), x) for x in names]
  with tf.Graph().as_default():
    op = pipelines.fixed_pipeline(paths, n, 8, num_threads=1, capacity=n + 1,
                               min_after_dequeue=0)
    batches = _dequeue(op, 2)
  first, second = [list(b['index']) for b in batches]
  assert first != list(range(n)) and first != second


def test_towers_get_different_images(tmp_path):
  # 3 dequeues of 2 x 8, a shuffle buffer of 42 and a producer queue of 32 have read at
  # most 122 of the 200 images: all from the first epoch, so a repeated index could only
  # come from towers sharing images.
  n = 200
  names = write_index_images(str(tmp_path), n)
  paths = [os.path.join(str(tmp_path), x) for x in names]
  cfg = settings.resolve('demo', {'image_size': 16, 'batch_size': 8, 'num_gpus': 2,
                                'shuffle_capacity': 40, 'min_after_dequeue': 10,
                                'num_reader_threads': 2})
  with tf.Graph().as_default():
    towers = pipelines.tower_inputs(cfg, paths, 2)
    out = _dequeue(towers, 3)
  seen = [int(i) for a, b in out for i in list(a['index']) + list(b['index'])]
  assert len(seen) == len(set(seen)) == 48
  for a, b in out:
    for t in (a, b):
      assert [decode_index(im) for im in t['image']] == list(t['index'])


def test_preprocess_crop_resize_against_numpy():
  """Central crop to the shorter side, then TF1 bilinear resize, mapped to [-1, 1]."""
  rng = np.random.RandomState(0)
  image = rng.randint(0, 256, (12, 20, 3)).astype(np.uint8)
  with tf.Graph().as_default(), tf.Session() as sess:
    out = sess.run(images.preprocess_inputs(tf.constant(image), 6))
  crop = image[:, 4:16].astype(np.float64) / 255. * 2 - 1  # 12 x 12 centre
  # TF1 bilinear (align_corners=False, no half-pixel): source = dst * in/out.
  scale = 12 / 6
  want = np.zeros((6, 6, 3))
  for i in range(6):
    for j in range(6):
      y, x = i * scale, j * scale
      y0, x0 = int(np.floor(y)), int(np.floor(x))
      y1, x1 = min(y0 + 1, 11), min(x0 + 1, 11)
      dy, dx = y - y0, x - x0
      want[i, j] = ((1 - dy) * ((1 - dx) * crop[y0, x0] + dx * crop[y0, x1]) +
                    dy * ((1 - dx) * crop[y1, x0] + dx * crop[y1, x1]))
  np.testing.assert_allclose(out, want, atol=1e-5)
  assert out.min() >= -1 and out.max() <= 1


def test_tight_crop_is_108_centre():
  image = np.zeros((218, 178, 3), np.uint8)
  image[55:163, 35:143] = 255  # the 108 x 108 centre is white, the rest black
  with tf.Graph().as_default(), tf.Session() as sess:
    tight = sess.run(images.preprocess_inputs(tf.constant(image), 16, tight_crop=True))
    loose = sess.run(images.preprocess_inputs(tf.constant(image), 16))
  np.testing.assert_allclose(tight, 1.0, atol=1e-5)
  assert loose.min() < -0.9


@pytest.mark.parametrize('mode,ext', [('L', 'jpg'), ('L', 'png'), ('RGBA', 'png'),
                                      ('RGB', 'bmp')])
def test_grayscale_png_bmp_become_three_channels(tmp_path, mode, ext):
  path = str(tmp_path / ('x.' + ext))
  arr = np.full((10, 10, 4), 200, np.uint8)
  Image.fromarray(arr[:, :, 0] if mode == 'L' else arr[:, :, :len(mode)], mode).save(path)
  with tf.Graph().as_default(), tf.Session() as sess:
    out = sess.run(images.decode_files(tf.constant([path]), 8))
  assert out.shape == (1, 8, 8, 3)
  np.testing.assert_allclose(out, 200 / 255. * 2 - 1, atol=0.03)


def test_iterate_in_order_keeps_the_file_order(tmp_path):
  names = write_index_images(str(tmp_path), 7)
  paths = [os.path.join(str(tmp_path), x) for x in names]
  with tf.Graph().as_default(), tf.Session() as sess:
    got = [(s, [decode_index(im) for im in b])
           for s, b in pipelines.iterate_in_order(sess, paths, 3, 8)]
  assert got == [(0, [0, 1, 2]), (3, [3, 4, 5]), (6, [6])]


def test_seeded_subset_is_sorted_distinct_and_drawn_like_numpy_choice():
  from glo_tf1.data import files  # pylint: disable=import-outside-toplevel
  idx = files.seeded_subset(1000, 50, np.random.RandomState(3))
  assert len(set(idx)) == 50 and list(idx) == sorted(idx) and idx.max() < 1000
  # numpy's legacy choice without replacement is the same permutation prefix.
  want = np.sort(np.random.RandomState(3).choice(1000, 50, replace=False))
  np.testing.assert_array_equal(idx, want)
  np.testing.assert_array_equal(files.seeded_subset(5, 0, None), np.arange(5))
  np.testing.assert_array_equal(files.seeded_subset(5, 9, None), np.arange(5))
