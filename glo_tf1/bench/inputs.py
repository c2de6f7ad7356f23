"""The benchmark's inputs: synthetic CelebA-sized JPEG files, their decoded-image cache,
and the input pipelines' rates alone (no training step)."""
import os
import time

import numpy as np

from glo_tf1.bench import harness
from glo_tf1.compat import tf
from glo_tf1.data import cache as cache_lib
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.training import input_cache


def write_jpeg_files(folder, num_files, shape, seed=0):
  """CelebA-like JPEG files: the embedded LFW faces upscaled to `shape` (h, w), tinted,
  with noise; quality 90. Returns their paths in index order."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from glo_tf1.data import embedded as embedded_data  # pylint: disable=import-outside-toplevel
  os.makedirs(folder, exist_ok=True)
  faces = embedded_data.faces()
  rng = np.random.RandomState(seed)
  paths = []
  for i in range(num_files):
    face = Image.fromarray(faces[i % len(faces)]).resize((shape[1], shape[0]), Image.BICUBIC)
    x = np.asarray(face, np.float32)[..., None] * rng.uniform(0.6, 1.0, 3)
    x += rng.normal(0, 6, x.shape)
    path = os.path.join(folder, 'img_%06d.jpg' % i)
    Image.fromarray(np.clip(x, 0, 255).astype(np.uint8)).save(path, quality=90)
    paths.append(path)
  return paths


def build_cache(paths, image_size, work_dir):
  """The decoded-image cache of `paths` at `image_size` under work_dir/cache (cache.py)."""
  return input_cache.build_cache(paths, files.build_manifest('', paths), image_size, False,
                                 os.path.join(work_dir, 'cache'), log=lambda *_: None)


def files_and_cache(s, work_dir, image_size):
  """(paths, cache_file): s['num_files'] synthetic JPEG files and their cache."""
  paths = write_jpeg_files(os.path.join(work_dir, 'jpeg'), s['num_files'], s['file_shape'])
  return paths, build_cache(paths, image_size, work_dir)


def input_rates(s, work_dir, cfg, jpeg_threads, cache_threads, log=print):
  """Images/s of the JPEG pipeline and of the cache pipeline alone, per reader-thread count,
  on synthetic JPEG files of CelebA's shape; returns (rates, paths, cache_file)."""
  b = cfg['batch_size']
  log('writing %d JPEG files...' % s['num_files'])
  paths = write_jpeg_files(os.path.join(work_dir, 'jpeg'), s['num_files'], s['file_shape'])
  pipe = {}
  for threads in jpeg_threads:
    log('JPEG pipeline alone, %d reader thread(s)...' % threads)
    with tf.Graph().as_default():
      batch = pipelines.fixed_pipeline(paths, b, cfg['image_size'], num_threads=threads,
                                       capacity=cfg['shuffle_capacity'],
                                       min_after_dequeue=cfg['min_after_dequeue'])
      pipe['jpeg_%d_threads' % threads] = harness.pipeline_images_per_sec(
          batch, b, s, drain_images=cfg['shuffle_capacity'])
  log('building the decoded-image cache...')
  t0 = time.perf_counter()
  cache_file = build_cache(paths, cfg['image_size'], work_dir)
  pipe['cache_build'] = len(paths) / (time.perf_counter() - t0)
  for threads in cache_threads:
    log('cache pipeline alone, %d thread(s)...' % threads)
    with tf.Graph().as_default():
      batch = cache_lib.cache_pipeline(cache_file, b, num_threads=threads,
                                       capacity=cfg['shuffle_capacity'],
                                       min_after_dequeue=cfg['min_after_dequeue'])
      pipe['cache_%d_threads' % threads] = harness.pipeline_images_per_sec(
          batch, b, s, uses_cache=True,
          drain_images=cache_lib.PREFETCH_BATCHES * b + cfg['shuffle_capacity'])
  return pipe, paths, cache_file
