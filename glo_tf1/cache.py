"""Decoded-image cache: the data set decoded, cropped and resized once, stored as uint8.

At the blog's 128 px the decoder trains about 250 images/s on 2 CPU cores, and decoding
and resizing CelebA's JPEG files competes with it for the same cores. With
`--input_cache=auto` the images go through the training preprocessing once
(`inputs.iterate_in_order`: decode, central crop, bilinear resize), are quantised to uint8
and written to one file; training then reads rows of that file through a queue pipeline
with the same contract as `inputs.fixed_pipeline`: {'image': float32 [B, S, S, 3] in
[-1, 1], 'index': int32 [B]}, image i carrying index i. Quantising the resized image to
8 bits changes a pixel by at most 1/255 on the [-1, 1] scale (half a level of 8 bits).

Files, in the cache directory (the run directory's `input_cache/` by default, or
`--cache_dir`, for example beside the data to share it between runs):
  images_<S>px[_tight].u8    raw uint8 array [N, S, S, 3], row i = image i of the
                             manifest, no header, so TensorFlow can memory-map it
  images_<S>px[_tight].json  sidecar: format version, N, S, tight_crop, the manifest's
                             content key, the exact byte size and the CRC-32 of the data.
A cache is used only if its sidecar matches the images (manifest), the size and the crop,
the data file has exactly N*S*S*3 bytes and its CRC-32 matches. Anything else (other
files, other settings, a truncated or corrupt file, a missing sidecar) rebuilds it, and
the reason is printed: a bad cache is never used. The sidecar is written last, so a build
that was interrupted leaves no cache that looks valid.

Reading: `tf.raw_ops.ImmutableConst` memory-maps the file as one [N, S, S, 3] uint8
tensor (a core TensorFlow op, no Python in the loop), so memory does not grow with N (9.8
GB for CelebA at 128 px stays on disk / in the page cache). A `range_input_producer`
reshuffles all N indices every epoch (seeded); reader threads take B indices at once,
gather their rows and enqueue whole batches into a FIFO queue, so each index travels with
its own image whatever the number of threads. Sessions that run it need
`configure_session` (train.session_config applies it).
"""
import collections
import hashlib
import json
import os
import time
import zlib

import numpy as np

from glo_tf1 import checkpoints
from glo_tf1 import files
from glo_tf1 import inputs
from glo_tf1.compat import tf

FORMAT_VERSION = 1
DEFAULT_SUBDIR = 'input_cache'
PREFETCH_BATCHES = 4
_CRC_CHUNK = 1 << 24

CacheFile = collections.namedtuple('CacheFile', ['path', 'num_images', 'image_size'])


def cache_paths(cache_dir, image_size, tight_crop):
  """(data path, sidecar path) of the cache for one image size and crop."""
  stem = os.path.join(cache_dir, 'images_%dpx%s' % (image_size, '_tight' if tight_crop
                                                      else ''))
  return stem + '.u8', stem + '.json'


def manifest_key(manifest):
  """Content key of a manifest: the (index, size, content hash) rows, not the paths, so
  moving the data folder keeps the cache and changing, adding or reordering files does not."""
  h = hashlib.sha1()
  for i, _, size, digest in manifest:
    h.update(('%d\t%d\t%s\n' % (i, size, digest)).encode())
  return h.hexdigest()


def quantize(images):
  """float [-1, 1] -> uint8, the nearest of the 256 levels that `dequantize` maps to."""
  return np.clip(np.round((np.asarray(images, np.float32) + 1.) * 127.5), 0,
                 255).astype(np.uint8)


def dequantize(images_u8):
  """uint8 tensor -> float32 in [-1, 1], the training preprocessing's scale."""
  return tf.cast(images_u8, tf.float32) * (2. / 255.) - 1.


def file_crc32(path, num_bytes=None, progress=None):
  """CRC-32 of a file (or of its first num_bytes), read in 16 MiB chunks."""
  crc, done = 0, 0
  with open(path, 'rb') as f:
    while num_bytes is None or done < num_bytes:
      chunk = f.read(_CRC_CHUNK if num_bytes is None else min(_CRC_CHUNK, num_bytes - done))
      if not chunk:
        break
      crc = zlib.crc32(chunk, crc)
      done += len(chunk)
      if progress:
        progress(done)
  return crc


def _expected(manifest, image_size, tight_crop):
  n = len(manifest)
  return {'format_version': FORMAT_VERSION, 'num_images': n, 'image_size': image_size,
          'tight_crop': bool(tight_crop), 'manifest_key': manifest_key(manifest),
          'num_bytes': n * image_size * image_size * 3}


def check(cache_dir, manifest, image_size, tight_crop, log=None):
  """None when the cache in cache_dir is valid for these images and settings, else why not.

  Reads the whole data file to check its CRC-32 (a few seconds per GB).
  """
  data_path, meta_path = cache_paths(cache_dir, image_size, tight_crop)
  if not os.path.exists(meta_path):
    return 'no cache yet' if not os.path.exists(data_path) else \
        'no sidecar %s (an interrupted build?)' % meta_path
  try:
    with open(meta_path) as f:
      meta = json.load(f)
  except ValueError as e:
    return 'sidecar %s is not valid JSON (%s)' % (meta_path, e)
  want = _expected(manifest, image_size, tight_crop)
  for key, value in sorted(want.items()):
    if meta.get(key) != value:
      what = 'the images differ from those cached' if key == 'manifest_key' else \
          '%s changed: %r -> %r' % (key, meta.get(key), value)
      return what
  if not os.path.exists(data_path):
    return 'data file %s is missing' % data_path
  size = os.path.getsize(data_path)
  if size != want['num_bytes']:
    return 'data file %s has %d bytes, expected %d (truncated or overwritten)' % (
        data_path, size, want['num_bytes'])
  if log and size > (1 << 30):
    log('Verifying input cache %s (%.1f GB)...' % (data_path, size / 1e9))
  crc = file_crc32(data_path)
  if crc != meta.get('crc32'):
    return 'data file %s is corrupt (CRC-32 %08x, expected %08x)' % (
        data_path, crc, meta.get('crc32') or 0)
  return None


def build(paths, manifest, image_size, tight_crop, cache_dir, batch_size=256, log=print):
  """Decodes `paths` in order through the training preprocessing and writes the cache.

  Prints progress (images/s, ETA) about every 10 s. Builds in its own graph and session.
  Returns the CacheFile.
  """
  os.makedirs(cache_dir, exist_ok=True)
  data_path, meta_path = cache_paths(cache_dir, image_size, tight_crop)
  if os.path.exists(meta_path):
    os.remove(meta_path)  # from here on, the old data is not a valid cache
  tmp = '%s.tmp%d' % (data_path, os.getpid())
  n = len(paths)
  crc, t0, last = 0, time.time(), time.time()
  log('Building input cache %s: %d images at %d px...' % (data_path, n, image_size))
  try:
    with open(tmp, 'wb') as f, tf.Graph().as_default(), tf.Session() as sess:
      for start, images in inputs.iterate_in_order(sess, paths, batch_size, image_size,
                                                   tight_crop):
        data = quantize(images).tobytes()
        f.write(data)
        crc = zlib.crc32(data, crc)
        done, now = start + len(images), time.time()
        if now - last >= 10 or done == n:
          rate = done / max(now - t0, 1e-9)
          log('  %d/%d images  %.0f img/s  ETA %ds' % (done, n, rate, (n - done) / rate))
          last = now
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, data_path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  meta = dict(_expected(manifest, image_size, tight_crop), crc32=crc,
              created=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
  # Sidecar last: it is what marks the data as a finished cache.
  checkpoints.write_json(meta_path, meta)
  return CacheFile(data_path, n, image_size)


def prepare(paths, image_size, tight_crop, cache_dir, manifest=None, log=print):
  """The CacheFile for these images and settings: reused if valid, else (re)built.

  Args:
    paths: image paths in index order.
    manifest: their files.build_manifest rows (computed if None).
  """
  if manifest is None:
    manifest = files.build_manifest('', list(paths))
  if len(manifest) != len(paths):
    raise ValueError('manifest has %d rows for %d paths' % (len(manifest), len(paths)))
  why = check(cache_dir, manifest, image_size, tight_crop, log)
  if why is None:
    data_path, _ = cache_paths(cache_dir, image_size, tight_crop)
    log('Using input cache %s (%d images at %d px).' % (data_path, len(paths), image_size))
    return CacheFile(data_path, len(paths), image_size)
  if why != 'no cache yet':
    log('Rebuilding the input cache: %s.' % why)
  return build(paths, manifest, image_size, tight_crop, cache_dir, log=log)


def prepare_for_run(cfg, paths, run_dir, cache_dir=None, log=print):
  """`prepare` for a training run: the cache in cache_dir or run_dir/input_cache, keyed
  by the run's manifest.tsv when it lists these paths (it was checked against the files
  when the run started), else by a fresh manifest of the files."""
  manifest = None
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
  if os.path.exists(manifest_path):
    manifest = files.read_manifest(manifest_path)
    if len(manifest) != len(paths):
      manifest = None
  return prepare(paths, cfg['image_size'], cfg['tight_crop'],
                 cache_dir or os.path.join(run_dir, DEFAULT_SUBDIR), manifest, log)


def configure_session(config):
  """Adapts a session ConfigProto to a graph that reads a cache; returns it.

  TensorFlow's graph-level (pre-Grappler) constant folding evaluates every op without
  inputs, ImmutableConst included, and serialises the result before finding it too big to
  fold: a transient copy of the whole table (measured: twice the file's size). We switch
  that pass off and keep its common-subexpression elimination; Grappler, which runs
  anyway, folds constants with size limits and leaves the table alone.
  """
  opts = config.graph_options.optimizer_options
  opts.opt_level = tf.OptimizerOptions.L0
  opts.do_common_subexpression_elimination = True
  opts.do_constant_folding = False
  return config


def cache_pipeline(cache_file, batch_size, num_threads=1, seed=None,
                   prefetch=PREFETCH_BATCHES, indices=None):
  """Batches of cached images with their indices, reshuffled every epoch.

  Args:
    cache_file: a CacheFile from `prepare` (or `build`).
    batch_size: images per dequeue (all towers together).
    num_threads: threads that gather batches (one is deterministic for a seed).
    seed: op seed of the per-epoch shuffle of the rows.
    prefetch: batches held ready in the FIFO queue.
    indices: the code index of each cached row (as in inputs.fixed_pipeline); default:
      row i is index i.
  Returns:
    {'image': [batch_size, S, S, 3] float32 in [-1, 1], 'index': [batch_size] int32}.
    Run it in a session configured by `configure_session`.
  """
  n, s = cache_file.num_images, cache_file.image_size
  with tf.name_scope('cached_inputs'), tf.device('/cpu:0'):
    producer = tf.train.range_input_producer(n, shuffle=True, seed=seed,
                                             capacity=max(32, 4 * batch_size),
                                             name='rows')
    rows = producer.dequeue_many(batch_size)
    table = tf.raw_ops.ImmutableConst(dtype=tf.uint8, shape=[n, s, s, 3],
                                      memory_region_name=cache_file.path, name='images')
    image = dequantize(tf.gather(table, rows))
    index = rows if indices is None else tf.gather(
        tf.constant(list(indices), dtype=tf.int32), rows)
    queue = tf.FIFOQueue(prefetch, [tf.float32, tf.int32],
                         shapes=[[batch_size, s, s, 3], [batch_size]], name='batches')
    tf.train.add_queue_runner(tf.train.QueueRunner(
        queue, [queue.enqueue([image, index])] * num_threads))
    tf.summary.scalar('fraction_of_%d_batches_full' % prefetch,
                      tf.cast(queue.size(), tf.float32) / prefetch)
    image, index = queue.dequeue()
  return {'image': image, 'index': index}
