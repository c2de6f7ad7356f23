"""Codes: the (N, dims) table of free latent variables, one row per training image.

GLO has no encoder (the post, "Architecture"): each image's code is a variable, gathered
by the image's index and projected before the decoder sees it.

On a cluster the table may be a `PartitionedVariable`: row blocks ("div" layout: the first
N % P parts hold one row more) on different parameter servers (cluster.py). Every function
here takes either form; a checkpoint stores both as the one logical variable `codes`.
"""
import numpy as np
from tensorflow.python.ops import variables as _variables

from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.data import files

CODES_NAME = 'codes'


def project(z, projection='sphere'):
  """Projects rows of z.

  'sphere': z / ||z||, the post's `project` (its text says "unit ball"; its code projects
  onto the sphere). 'ball': z / max(1, ||z||), the unit ball of the paper.
  """
  with tf.name_scope('project'):
    norm = tf.sqrt(tf.reduce_sum(tf.square(z), axis=1, keepdims=True))
    if projection == 'sphere':
      return z / norm
    if projection == 'ball':
      return z / tf.maximum(norm, 1.0)
    raise ValueError('projection must be sphere or ball, got %r' % projection)


def initializer(codes_init, seed=None):
  """The codes' initializer. 'pca' starts from glorot and is overwritten at first run."""
  if codes_init in ('glorot', 'pca'):
    # slim.variable without an initializer gets get_variable's default: glorot uniform.
    return tf.glorot_uniform_initializer(seed=seed)
  if codes_init == 'gaussian':
    return tf.random_normal_initializer(stddev=1.0, seed=seed)
  raise ValueError('codes_init must be glorot, gaussian or pca, got %r' % codes_init)


def fresh_codes(rng, num, num_codes, dims, codes_init):
  """`num` rows [num, dims] float32 drawn with numpy `rng` as `initializer` draws a
  (num_codes, dims) table: glorot uniform(+-sqrt(6 / (num_codes + dims))) for 'glorot' and
  'pca' (PCA values are computed from images, not drawn), N(0, 1) for 'gaussian'."""
  if codes_init == 'gaussian':
    return rng.standard_normal((num, dims)).astype(np.float32)
  limit = np.sqrt(6.0 / (num_codes + dims))  # glorot uniform: fan_in N, fan_out dims
  return rng.uniform(-limit, limit, (num, dims)).astype(np.float32)


def codes_variable(num_codes, dims, codes_init='glorot', seed=None, partitioner=None):
  """The trainable `codes` variable, shape (num_codes, dims).

  With a `partitioner` (e.g. tf.fixed_size_partitioner(P), along rows) it is a
  PartitionedVariable of P row blocks.
  """
  return slim.variable(CODES_NAME, shape=(num_codes, dims), dtype=tf.float32,
                       initializer=initializer(codes_init, seed), trainable=True,
                       partitioner=partitioner)


def is_partitioned(codes):
  return isinstance(codes, _variables.PartitionedVariable)


def parts(codes):
  """The variables that hold `codes`: its row blocks in order, or [codes]."""
  return list(codes) if is_partitioned(codes) else [codes]


def rows(codes, index):
  """Raw (unprojected) rows `index` of the table, partitioned or not: [B] -> [B, dims].

  `embedding_lookup` with the "div" strategy reads each row from the block that holds it
  (the partitioners' layout; the v1 default "mod" would read the wrong rows); its
  gradient is one IndexedSlices per block, never a dense (N, dims) tensor.
  """
  return tf.nn.embedding_lookup(codes, index, partition_strategy='div')


def lookup(codes, index, projection='sphere'):
  """Projected codes of a batch of indices: [B] -> [B, dims]."""
  with tf.name_scope('code'):
    return project(rows(codes, index), projection)


def scatter_rows_op(codes, index, values):
  """Writes `values` [B, dims] into the rows `index` of `codes` (partitioned or not)."""
  if not is_partitioned(codes):
    return tf.scatter_update(codes, index, values)
  updates, start = [], 0
  for block in parts(codes):
    size = block.get_shape().as_list()[0]
    inside = tf.logical_and(index >= start, index < start + size)
    updates.append(tf.scatter_update(block, tf.boolean_mask(index, inside) - start,
                                     tf.boolean_mask(values, inside)))
    start += size
  return tf.group(*updates)


def project_rows_op(codes, index, projection='sphere'):
  """Writes back the projection of the rows `index` (the paper projects after each step)."""
  with tf.name_scope('project_stored_codes'):
    return scatter_rows_op(codes, index, project(rows(codes, index), projection))


def pca_codes(images, dims, seed=0, max_fit=10000):
  """Paper's initialisation: the images' first `dims` principal components, per image.

  Args:
    images: float array (N, ...) of images (any resolution; flattened).
    dims: code dimension. Components beyond rank(images) are filled with small noise.
    seed: picks the fitting subset and the filler noise.
    max_fit: the components are fitted on at most this many images (a random subset),
      then every image is projected on them, so memory stays bounded on CelebA.
  Returns:
    float32 (N, dims) with each row scaled to unit norm (the codes are then projected).
  """
  rng = np.random.RandomState(seed)
  x = np.asarray(images, np.float32).reshape(len(images), -1)
  mean = x.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)
  fit = x[files.seeded_subset(len(x), max_fit, rng)]
  _, _, vt = np.linalg.svd((fit - mean).astype(np.float64), full_matrices=False)
  k = min(dims, vt.shape[0])
  z = np.concatenate([(x[i:i + 4096] - mean) @ vt[:k].T.astype(np.float32)
                      for i in range(0, len(x), 4096)]).astype(np.float64)
  if k < dims:
    z = np.concatenate([z, 1e-3 * rng.randn(len(x), dims - k)], axis=1)
  norms = np.linalg.norm(z, axis=1, keepdims=True)
  return (z / np.maximum(norms, 1e-12)).astype(np.float32)
