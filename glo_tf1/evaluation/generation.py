"""Generation from a trained run: samples, interpolations, reconstructions, nearest neighbours.

The post's generation cell (docs/reference/notebook-facts.md, "Generation"), as pure graph
functions built once, plus session helpers that take a session the entry point opened:

  sampled_unit     z ~ N(0, I), projected.
  sampled_fitted   a diagonal Gaussian fitted to the *raw* codes with `tf.nn.moments`
                   (the post; `fit_projected` fits on the projected codes instead).
  sampled_full     a full-covariance Gaussian fitted to the codes (the paper).
  interpolation    normalised linear interpolation of raw codes (the post, 25 steps) or
                   spherical interpolation of the projected codes.
  reconstructions  training images and the decoding of their learned codes.
  neighbours       the k training images nearest to each sample by pixel MSE, over the
                   whole training set in streamed batches (the post searched the first
                   100,000 files only), with the distances.

The decoder runs with `is_training=False` (moving batch-norm statistics), as the post's
generation did. Random numbers come from `numpy.random.RandomState(seed)` and are fed, so
every figure is the same for the same `--seed`, checkpoint and data.
"""
import numpy as np

from glo_tf1.compat import tf
from glo_tf1.data import images as images_lib
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import decoders
from glo_tf1.model import samplers

SAMPLERS = samplers.SAMPLERS
INTERPOLATIONS = samplers.INTERPOLATIONS


# ----------------------------------------------------------------------------- graph

def pixel_mse(queries, images):
  """Mean squared pixel difference of every query against every image: [Q, ...] x [B, ...]
  -> [Q, B], via ||q||^2 + ||x||^2 - 2 q.x (bounded memory), clipped at 0."""
  q = tf.reshape(queries, [tf.shape(queries)[0], -1])
  x = tf.reshape(images, [tf.shape(images)[0], -1])
  d = (tf.reduce_sum(tf.square(q), axis=1)[:, None] + tf.reduce_sum(tf.square(x), axis=1)[None, :]
       - 2. * tf.matmul(q, x, transpose_b=True))
  return tf.maximum(d, 0.) / tf.cast(tf.shape(q)[1], tf.float32)


def build_generation_graph(cfg, num_codes, batch_size=64, fit_projected=False, k=4,
                           interp_steps=25, interp_method='nlerp'):
  """Builds every generation op in the default graph, once.

  Args:
    cfg: the run's resolved config.
    num_codes: N, rows of the trained `codes` variable.
    batch_size: static batch of the decoder; session helpers pad to it.
    fit_projected: fit the Gaussians to the projected codes (the post fits the raw ones).
    k: neighbours per query (at most).
    interp_steps, interp_method: of the interpolation op (see `interpolate`).
  Returns:
    dict of tensors/placeholders: codes (variable), restore_vars, z (placeholder of raw
    codes [batch_size, dims]), images (decoded in inference mode), images_batch_stats
    (decoded in training mode: each batch's own batch-norm statistics), noise
    (placeholder) and sampled_<name>
    for each sampler, diagonal / full (the fits), index (placeholder) and gathered (raw
    codes), interp_z0 / interp_z1 -> interpolated [P, interp_steps, dims],
    paths (placeholder) -> decoded (training images, as the trainer preprocesses them),
    nn_queries -> nn_distances / nn_indices (top-k of the queries against `decoded`).
  """
  dims, size = cfg['latent_dims'], cfg['image_size']
  codes = codes_lib.codes_variable(num_codes, dims, cfg['codes_init'])
  z = tf.placeholder(tf.float32, [batch_size, dims], name='z')
  images = samplers.inference_decoder(z, cfg)
  images_batch_stats = samplers.batch_stats_decoder(z, cfg)
  fit_on = codes_lib.project(codes, cfg['projection']) if fit_projected else codes
  diagonal = samplers.fit_diagonal_gaussian(fit_on)
  full = samplers.fit_full_gaussian(fit_on)
  noise = tf.placeholder(tf.float32, [None, dims], name='noise')
  out = {'codes': codes, 'z': z, 'images': images, 'images_batch_stats': images_batch_stats,
         'noise': noise, 'diagonal': diagonal, 'full': full}
  for name in samplers.SAMPLER_FNS:  # the registry: a sampler added there is built too
    out['sampled_' + name] = samplers.sample_codes(noise, name, diagonal, full)
  out['index'] = tf.placeholder(tf.int32, [None], name='index')
  out['gathered'] = tf.gather(codes, out['index'])
  out['interp_z0'] = tf.placeholder(tf.float32, [None, dims], name='interp_z0')
  out['interp_z1'] = tf.placeholder(tf.float32, [None, dims], name='interp_z1')
  out['interpolated'] = samplers.interpolate(out['interp_z0'], out['interp_z1'], interp_steps,
                                    interp_method, cfg['projection'])
  out['paths'] = tf.placeholder(tf.string, [None], name='paths')
  out['decoded'] = images_lib.decode_files(out['paths'], size, cfg['tight_crop'],
                                           cfg['channels'])
  out['nn_queries'] = tf.placeholder(tf.float32, [None, size, size, cfg['channels']],
                                     name='nn_queries')
  dist = pixel_mse(out['nn_queries'], out['decoded'])
  kk = tf.minimum(k, tf.shape(dist)[1])
  neg, idx = tf.nn.top_k(-dist, kk, sorted=True)
  out['nn_distances'], out['nn_indices'] = -neg, idx
  out['k'] = k
  out['cfg'] = cfg
  out['batch_size'] = batch_size
  out['restore_vars'] = [codes] + tf.global_variables(decoders.SCOPE)
  return out


# ----------------------------------------------------------------------------- session helpers

def pad_batch(x, batch_size):
  """Repeats the last row of x up to batch_size rows (a graph's static batch)."""
  if len(x) == batch_size:
    return x
  return np.concatenate([x, np.repeat(x[-1:], batch_size - len(x), axis=0)])


def decode_codes(sess, graph, z, batch_stats=False):
  """Raw codes [n, dims] (numpy) -> images [n, S, S, C] in [-1, 1], in chunks of the
  graph's static batch. Inference mode by default (padding changes nothing); with
  `batch_stats`, training mode: each chunk is normalised by its own statistics (a last
  partial chunk padded by repeating its last code)."""
  z = np.asarray(z, np.float32)
  b = graph['batch_size']
  op = graph['images_batch_stats' if batch_stats else 'images']
  out = []
  for start in range(0, len(z), b):
    chunk = z[start:start + b]
    out.append(sess.run(op, {graph['z']: pad_batch(chunk, b)})[:len(chunk)])
  return np.concatenate(out) if out else np.zeros((0,) + tuple(
      graph['images'].get_shape().as_list()[1:]), np.float32)


def sample(sess, graph, sampler, noise):
  """(raw codes [n, dims], images [n, S, S, C]) from one of SAMPLERS, given standard
  normal `noise` [n, dims] (from numpy.random.RandomState(seed), so seeded)."""
  z = sess.run(graph['sampled_' + sampler], {graph['noise']: np.asarray(noise, np.float32)})
  return z, decode_codes(sess, graph, z)


def training_codes(sess, graph, indices):
  """Raw learned codes of the training images `indices`."""
  return sess.run(graph['gathered'], {graph['index']: np.asarray(indices, np.int32)})


def interpolations(sess, graph, pairs):
  """Images along the paths between the codes of training-image pairs (steps and method
  as the graph was built with).

  Args:
    pairs: [(i, j)] indices of training images.
  Returns:
    float32 [len(pairs), steps, S, S, C].
  """
  pairs = np.asarray(pairs, np.int32).reshape(-1, 2)
  z0 = training_codes(sess, graph, pairs[:, 0])
  z1 = training_codes(sess, graph, pairs[:, 1])
  path = sess.run(graph['interpolated'], {graph['interp_z0']: z0, graph['interp_z1']: z1})
  flat = decode_codes(sess, graph, path.reshape(-1, path.shape[-1]))
  return flat.reshape(path.shape[:2] + flat.shape[1:])


def load_images(sess, graph, paths):
  """Images [n, S, S, C] in [-1, 1] of `paths`, decoded, cropped and resized as training."""
  return sess.run(graph['decoded'], {graph['paths']: list(paths)})


def reconstructions(sess, graph, paths, indices):
  """(originals, reconstructions), each [n, S, S, C] in [-1, 1], for training images
  `indices`."""
  originals = load_images(sess, graph, [paths[i] for i in indices])
  return originals, decode_codes(sess, graph, training_codes(sess, graph, indices))


def merge_top_k(best_d, best_i, new_d, new_i, k):
  """Keeps the k smallest of two (distances, indices) sets per row; ties by index."""
  d = np.concatenate([best_d, new_d], axis=1)
  i = np.concatenate([best_i, new_i], axis=1)
  order = np.lexsort((i, d), axis=1)[:, :k]
  return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)


def nearest_neighbours(sess, graph, paths, queries, k=None, batch_size=256, progress=None):
  """The k training images nearest to each query by pixel MSE, over all of `paths`.

  Streams the training set in batches of `batch_size` (memory: one batch plus the
  queries), keeping a running top-k per query.
  Args:
    queries: [Q, S, S, C] in [-1, 1] (e.g. generated samples).
    progress: optional progress.Progress, updated with the images searched.
  Returns:
    (distances [Q, k] float64 ascending, indices [Q, k] int64 into `paths`).
  """
  k = min(k or graph['k'], graph['k'], len(paths))
  queries = np.asarray(queries, np.float32)
  best_d = np.zeros((len(queries), 0))
  best_i = np.zeros((len(queries), 0), np.int64)
  for start in range(0, len(paths), batch_size):
    chunk = list(paths[start:start + batch_size])
    d, i = sess.run([graph['nn_distances'], graph['nn_indices']],
                    {graph['paths']: chunk, graph['nn_queries']: queries})
    best_d, best_i = merge_top_k(best_d, best_i, d.astype(np.float64), i + start, k)
    if progress:
      progress.update(min(start + batch_size, len(paths)))
  return best_d, best_i
