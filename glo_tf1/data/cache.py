"""Decoded-image cache: the data set decoded, cropped and resized once, stored as uint8.

At the blog's 128 px the decoder trains about 250 images/s on 2 CPU cores, and decoding
and resizing CelebA's JPEG files competes with it for the same cores. With
`--input_cache=auto` the images go through the training preprocessing once
(`pipelines.iterate_in_order`: decode, central crop, bilinear resize), are quantised to uint8
and written to one file; training then reads rows of that file through a queue pipeline
with the same contract as `pipelines.fixed_pipeline`: {'image': float32 [B, S, S, C] in
[-1, 1], 'index': int32 [B]}, image i carrying index i. Quantising the resized image to
8 bits changes a pixel by at most 1/255 on the [-1, 1] scale (half a level of 8 bits).

Files, in the cache directory (the run directory's `input_cache/` by default, or
`--cache_dir`, for example beside the data to share it between runs):
  images_<S>px[_tight][_gray].u8    raw uint8 array [N, S, S, C], row i = image i of
                                    the manifest, no header, so TensorFlow can
                                    memory-map it (_gray: --channels 1, C = 1)
  images_<S>px[_tight][_gray].json  sidecar: format version, N, S, tight_crop, C, the
                                    manifest's content key, the exact byte size and
                                    the CRC-32 of the data.
Files of these names that glo-tf1 did not write are never replaced: a build refuses them,
named (io.claim; the folder's .glo_written.json lists the names it wrote).
A cache is used only if its sidecar matches the images (manifest), the size and the crop,
the data file has exactly N*S*S*C bytes and its CRC-32 matches. Anything else (other
files, other settings, a truncated or corrupt file, a missing sidecar) rebuilds it, and
the reason is printed: a bad cache is never used. The sidecar is written last, so a build
that was interrupted leaves no cache that looks valid.

Reading: `tf.raw_ops.ImmutableConst` memory-maps the file as one [N, S, S, C] uint8
tensor (a core TensorFlow op, no Python in the loop), so memory does not grow with N (9.8
GB for CelebA at 128 px stays on disk / in the page cache). A `range_input_producer`
reshuffles all N indices every epoch (seeded); the rows go through a shuffle buffer of
the file pipeline's size (a RandomShuffleQueue of `--shuffle_capacity` rows that keeps at
least `--min_after_dequeue` after each draw, as `shuffle_batch` in
`pipelines.fixed_pipeline` and the notebook), so a batch is drawn from the rows read last
and the epochs mix at their boundaries. The buffer holds row numbers, not pixels: a row
is random access, so reading it when drawn gives the same order as buffering its image,
at no copy. Under --deterministic there is no buffer (its draws depend on thread timing),
as the file pipeline's FIFO batch. Reader threads take B drawn rows at once, gather them
and enqueue whole batches, converted to float, into a FIFO queue of `prefetch` batches,
so each index travels with its own image whatever the number of threads. Sessions that
run it need `configure_session` (training/loop.py applies it). Building the file is
training/input_cache.py's job: it runs a session.
"""
import collections
import hashlib
import os
import zlib

from glo_tf1 import io
from glo_tf1.compat import tf
from glo_tf1.data import images

FORMAT_VERSION = 1
DEFAULT_SUBDIR = 'input_cache'
PREFETCH_BATCHES = 4
_CRC_CHUNK = 1 << 24

CacheFile = collections.namedtuple('CacheFile', ['path', 'num_images', 'image_size',
                                             'channels'])
CacheFile.__new__.__defaults__ = (3,)


def cache_paths(cache_dir, image_size, tight_crop, channels=3):
  """(data path, sidecar path) of the cache for one image size, crop and channel count."""
  stem = os.path.join(cache_dir, 'images_%dpx%s%s' % (
      image_size, '_tight' if tight_crop else '', '_gray' if channels == 1 else ''))
  return stem + '.u8', stem + '.json'


def is_cache_file(path):
  """Whether `path` is a cache file a build wrote before io.claim kept a record (`claim`'s
  adopt): a sidecar that reads as one (format version, manifest key, byte count), or a
  data file beside such a sidecar."""
  if path.endswith('.u8'):
    return is_cache_file(path[:-len('.u8')] + '.json')
  try:
    meta = io.read_json(path)
  except io.FileFormatError:
    return False
  return isinstance(meta, dict) and all(
      k in meta for k in ('format_version', 'manifest_key', 'num_bytes'))


def manifest_key(manifest):
  """Content key of a manifest: the (index, size, content hash) rows, not the paths, so
  moving the data folder keeps the cache and changing, adding or reordering files does not."""
  h = hashlib.sha1()
  for i, _, size, digest in manifest:
    h.update(('%d\t%d\t%s\n' % (i, size, digest)).encode())
  return h.hexdigest()


def file_crc32(path):
  """CRC-32 of a file, read in 16 MiB chunks."""
  crc = 0
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(_CRC_CHUNK), b''):
      crc = zlib.crc32(chunk, crc)
  return crc


def expected_meta(manifest, image_size, tight_crop, channels=3):
  n = len(manifest)
  meta = {'format_version': FORMAT_VERSION, 'num_images': n, 'image_size': image_size,
          'tight_crop': bool(tight_crop), 'manifest_key': manifest_key(manifest),
          'num_bytes': n * image_size * image_size * channels}
  if channels != 3:  # RGB caches built before --channels existed stay valid
    meta['channels'] = channels
  return meta


def check(cache_dir, manifest, image_size, tight_crop, log=None, channels=3):
  """None when the cache in cache_dir is valid for these images and settings, else why not.

  Reads the whole data file to check its CRC-32 (a few seconds per GB).
  """
  data_path, meta_path = cache_paths(cache_dir, image_size, tight_crop, channels)
  if not os.path.exists(meta_path):
    return 'no cache yet' if not os.path.exists(data_path) else \
        'no sidecar %s (an interrupted build?)' % meta_path
  try:
    meta = io.read_json(meta_path)
  except io.FileFormatError as e:
    return str(e)
  want = expected_meta(manifest, image_size, tight_crop, channels)
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
                   prefetch=PREFETCH_BATCHES, indices=None, capacity=800,
                   min_after_dequeue=100, deterministic=False):
  """Batches of cached images with their indices, reshuffled every epoch, drawn through
  the file pipeline's shuffle buffer (see the module doc).

  Args:
    cache_file: a CacheFile from training/input_cache.py.
    batch_size: images per dequeue (all towers together).
    num_threads: threads that gather batches.
    seed: op seed of the per-epoch shuffle of the rows and of the buffer's draws.
    prefetch: batches held ready in the FIFO queue.
    indices: the code index of each cached row (as in pipelines.fixed_pipeline); default:
      row i is index i.
    capacity, min_after_dequeue: of the shuffle buffer, as pipelines.fixed_pipeline's
      (capacity at least min_after_dequeue + 2 batches, as there).
    deterministic: no shuffle buffer; one thread is then deterministic for a seed.
  Returns:
    {'image': [batch_size, S, S, C] float32 in [-1, 1], 'index': [batch_size] int32}.
    Run it in a session configured by `configure_session`.
  """
  n, s, c = cache_file.num_images, cache_file.image_size, cache_file.channels
  with tf.name_scope('cached_inputs'), tf.device('/cpu:0'):
    producer = tf.train.range_input_producer(n, shuffle=True, seed=seed,
                                             capacity=max(32, 4 * batch_size),
                                             name='rows')
    rows = producer.dequeue_many(batch_size)
    if not deterministic:
      # The buffer holds row numbers: a row is read when it is drawn, so the draws, and
      # the order, are those of a buffer of images, without copying pixels twice more.
      buffer = tf.RandomShuffleQueue(
          max(capacity, min_after_dequeue + 2 * batch_size), min_after_dequeue, [tf.int32],
          shapes=[[]], seed=seed, name='shuffle_buffer')
      tf.train.add_queue_runner(tf.train.QueueRunner(buffer, [buffer.enqueue_many([rows])]))
      rows = buffer.dequeue_many(batch_size)
    table = tf.raw_ops.ImmutableConst(dtype=tf.uint8, shape=[n, s, s, c],
                                      memory_region_name=cache_file.path, name='images')
    image = images.to_float(tf.gather(table, rows))
    index = rows if indices is None else tf.gather(
        tf.constant(list(indices), dtype=tf.int32), rows)
    queue = tf.FIFOQueue(prefetch, [tf.float32, tf.int32],
                         shapes=[[batch_size, s, s, c], [batch_size]], name='batches')
    tf.train.add_queue_runner(tf.train.QueueRunner(
        queue, [queue.enqueue([image, index])] * num_threads))
    tf.summary.scalar('fraction_of_%d_batches_full' % prefetch,
                      tf.cast(queue.size(), tf.float32) / prefetch)
    image, index = queue.dequeue()
  return {'image': image, 'index': index}
