"""Builds the decoded-image cache (data/cache.py) for a training run: decodes every image
once through the training preprocessing, in its own graph and session, and writes the
uint8 file and its sidecar. The format, the validity check and the reader live in
data/cache.py.
"""
import os
import time
import zlib

from glo_tf1 import io
from glo_tf1 import progress as progress_lib
from glo_tf1.compat import tf
from glo_tf1.data import cache
from glo_tf1.data import files
from glo_tf1.data import images as images_lib
from glo_tf1.data import pipelines


def build_cache(paths, manifest, image_size, tight_crop, cache_dir, batch_size=256, log=print,
                channels=3):
  """Decodes `paths` in order through the training preprocessing and writes the cache.

  Prints progress (images/s, ETA) about every 10 s. Builds in its own graph and session.
  Returns the CacheFile.
  """
  os.makedirs(cache_dir, exist_ok=True)
  data_path, meta_path = cache.cache_paths(cache_dir, image_size, tight_crop, channels)
  n = len(paths)
  # Room first (the exact size: N * S * S * C bytes), so a cache that cannot fit is refused
  # before the decoding, not when the disk fills (cache.py).
  io.check_room(cache_dir, cache.expected_meta(manifest, image_size, tight_crop,
                                               channels)['num_bytes'],
                'the input cache of %d images at %d px' % (n, image_size))
  # A user's file of the cache's names (in a --cache_dir of theirs) is refused, never
  # replaced; ours, recorded or recognised, may be.
  io.claim([data_path, meta_path], '--cache_dir', cache.is_cache_file)
  if os.path.exists(meta_path):
    os.remove(meta_path)  # from here on, the old data is not a valid cache
  crc = 0
  log('Building input cache %s: %d images at %d px...' % (data_path, n, image_size))
  progress = progress_lib.Progress('  cached', n, 'images', log=log)
  with io.atomic_open(data_path, 'wb') as f, tf.Graph().as_default(), tf.Session() as sess:
    for start, batch in pipelines.iterate_in_order(sess, paths, batch_size, image_size,
                                                   tight_crop, channels):
      data = images_lib.to_uint8(batch).tobytes()
      f.write(data)
      crc = zlib.crc32(data, crc)
      progress.update(start + len(batch))
  meta = dict(cache.expected_meta(manifest, image_size, tight_crop, channels), crc32=crc,
              created=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
  # Sidecar last: it is what marks the data as a finished cache.
  io.write_json(meta_path, meta)
  return cache.CacheFile(data_path, n, image_size, channels)


def prepare_cache(paths, image_size, tight_crop, cache_dir, manifest=None, log=print,
                  channels=3):
  """The CacheFile for these images and settings: reused if valid, else (re)built.

  Args:
    paths: image paths in index order.
    manifest: their files.build_manifest rows (computed if None).
  """
  if manifest is None:
    manifest = files.build_manifest('', list(paths))
  if len(manifest) != len(paths):
    raise ValueError('manifest has %d rows for %d paths' % (len(manifest), len(paths)))
  why = cache.check(cache_dir, manifest, image_size, tight_crop, log, channels)
  if why is None:
    data_path, _ = cache.cache_paths(cache_dir, image_size, tight_crop, channels)
    log('Using input cache %s (%d images at %d px).' % (data_path, len(paths), image_size))
    return cache.CacheFile(data_path, len(paths), image_size, channels)
  if why != 'no cache yet':
    log('Rebuilding the input cache: %s.' % why)
  return build_cache(paths, manifest, image_size, tight_crop, cache_dir, log=log,
                     channels=channels)


def prepare_run_cache(cfg, paths, run_dir, cache_dir=None, log=print):
  """`prepare_cache` for a training run: the cache in cache_dir or run_dir/input_cache, keyed
  by the run's manifest.tsv when it lists these paths (it was checked against the files
  when the run started), else by a fresh manifest of the files."""
  manifest = None
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
  if os.path.exists(manifest_path):
    manifest = files.read_manifest(manifest_path)
    if len(manifest) != len(paths):
      manifest = None
  return prepare_cache(paths, cfg['image_size'], cfg['tight_crop'],
                       cache_dir or os.path.join(run_dir, cache.DEFAULT_SUBDIR), manifest, log,
                       cfg['channels'])
