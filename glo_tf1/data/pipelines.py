"""Input queues: files -> (index, image) batches, with tf.compat.v1 queue runners.

Two pipelines, both yielding {'image': float32 [B, S, S, C] in [-1, 1], 'index': int32 [B]}
(C: --channels, 3 as the post's RGB or 1):

* `fixed` (default). One producer queue of (index, path) *pairs*
  (`slice_input_producer`, reshuffled every epoch), so however many reader threads run,
  each image travels with its own index. Towers dequeue one batch of K * B and split it,
  so every tower sees different images. Under --deterministic the batch queue is FIFO
  after the seeded per-epoch shuffle (see `fixed_pipeline`).
* `post`. The notebook's pipeline, bug for bug (docs/reference/notebook-facts.md, "Input
  pipeline"): an index queue and a filename queue that are never shuffled and only stay
  paired with one reader thread (defect 1), one copy per tower (defect 2), a
  `WholeFileReader`, `decode_jpeg`, `shuffle_batch(capacity=800, min_after_dequeue=100)`.

Both start their threads through the QUEUE_RUNNERS collection, which
MonitoredTrainingSession runs.
"""
from glo_tf1.compat import tf
from glo_tf1.data import cache as cache_lib
from glo_tf1.data import images

def fixed_pipeline(paths, batch_size, image_size, tight_crop=False, num_threads=4,
                   capacity=800, min_after_dequeue=100, seed=None, deterministic=False,
                   indices=None, channels=3):
  """The default pipeline: (index, path) pairs from one producer, shuffled every epoch.

  With `deterministic`, the batch queue is first-in first-out (`tf.train.batch`, one
  thread) and the producer's seeded per-epoch shuffle is the only shuffle: a
  RandomShuffleQueue draws from whatever it holds when a batch is taken, which depends on
  thread timing, so even a seeded `shuffle_batch` gives another order on every run.

  Args:
    paths: absolute file paths; index i is paths[i].
    batch_size: images per dequeue (all towers together).
    image_size: output side S.
    tight_crop: crop to 108 x 108 before resizing.
    num_threads: reader threads (each reads, decodes and preprocesses whole pairs).
    capacity, min_after_dequeue: of the shuffle buffer.
    seed: op seed of the producer's and the buffer's shuffles.
    deterministic: FIFO batch queue with one thread (see above); needs `seed`.
    indices: the code index of each path (a cluster worker's share, cluster.py);
      default range(len(paths)).
    channels: 3 (RGB) or 1 (the luma, images.preprocess_inputs).
  Returns:
    {'image': [batch_size, S, S, channels] float32, 'index': [batch_size] int32}.
  """
  with tf.name_scope('inputs'):
    index, path = tf.train.slice_input_producer(
        [tf.range(len(paths), dtype=tf.int32) if indices is None else
         tf.constant(list(indices), dtype=tf.int32), tf.constant(list(paths))],
        shuffle=True, seed=seed, capacity=max(32, 2 * batch_size), name='pairs')
    image = images.preprocess_inputs(images.decode_any(tf.io.read_file(path)), image_size,
                                     tight_crop, channels)
    if deterministic:
      return tf.train.batch({'image': image, 'index': index}, batch_size=batch_size,
                            capacity=max(capacity, 2 * batch_size), num_threads=1,
                            name='fifo_batch')
    return tf.train.shuffle_batch(
        {'image': image, 'index': index}, batch_size=batch_size,
        capacity=max(capacity, min_after_dequeue + 2 * batch_size),
        min_after_dequeue=min_after_dequeue, num_threads=num_threads, seed=seed,
        name='shuffle_batch')


def post_pipeline(paths, batch_size, image_size, tight_crop=False, capacity=800,
                  min_after_dequeue=100, seed=None, name='inputs', channels=3):
  """The notebook's `get_inputs_queue`, bug for bug, for one tower (see module doc).

  Only correct with one reader thread, which is all it runs: a second thread would
  dequeue an index and a file in separate steps and mis-pair them (defect 1).
  """
  with tf.name_scope(name):
    index_queue = tf.train.range_input_producer(len(paths), capacity=capacity,
                                                shuffle=False)
    index = index_queue.dequeue()
    filename_queue = tf.train.string_input_producer(list(paths), capacity=capacity,
                                                    shuffle=False)
    _, contents = tf.WholeFileReader().read(filename_queue)
    image = tf.image.decode_jpeg(contents, channels=3)
    with tf.variable_scope('inputs_preprocess'):
      image = images.preprocess_inputs(image, image_size, tight_crop, channels)
    return tf.train.shuffle_batch(
        {'image': image, 'index': index}, batch_size=batch_size, capacity=capacity,
        min_after_dequeue=min_after_dequeue, num_threads=1, seed=seed,
        name='inputs_batches_queue')


def tower_inputs(cfg, paths, num_towers, indices=None, cache=None):
  """One input dict per tower, per `cfg['input_pipeline']`; `indices` as in
  fixed_pipeline (the post pipeline has none). With a `cache` (cache.CacheFile of these
  paths), the fixed pipeline's batches come from the decoded-image cache instead."""
  seed = cfg['seed'] if cfg['deterministic'] else None
  b = cfg['batch_size']
  if cfg['input_pipeline'] == 'post':
    return [post_pipeline(paths, b, cfg['image_size'], cfg['tight_crop'],
                          cfg['shuffle_capacity'], cfg['min_after_dequeue'], seed,
                          name='inputs_%d' % (i + 1), channels=cfg['channels'])
            for i in range(num_towers)]
  if cache is not None:
    batch = cache_lib.cache_pipeline(cache, b * num_towers, cfg['num_reader_threads'], seed,
                                     indices=indices, capacity=cfg['shuffle_capacity'],
                                     min_after_dequeue=cfg['min_after_dequeue'],
                                     deterministic=cfg['deterministic'])
  else:
    batch = fixed_pipeline(paths, b * num_towers, cfg['image_size'], cfg['tight_crop'],
                           cfg['num_reader_threads'], cfg['shuffle_capacity'],
                           cfg['min_after_dequeue'], seed, cfg['deterministic'], indices,
                           cfg['channels'])
  if num_towers == 1:
    return [batch]
  split_images = tf.split(batch['image'], num_towers, axis=0)
  split_indices = tf.split(batch['index'], num_towers, axis=0)
  return [{'image': im, 'index': ix} for im, ix in zip(split_images, split_indices)]


def iterate_in_order(sess, paths, batch_size, image_size, tight_crop=False, channels=3):
  """Yields (start, images [b, S, S, channels]) over `paths` in order, with a session the
  caller opened on the current default graph (builds its ops there once)."""
  placeholder = tf.placeholder(tf.string, [None], name='paths')
  decoded = images.decode_files(placeholder, image_size, tight_crop, channels)
  for start in range(0, len(paths), batch_size):
    yield start, sess.run(decoded, {placeholder: list(paths[start:start + batch_size])})
