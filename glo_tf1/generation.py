"""Generation from a trained run: samples, interpolations, reconstructions, nearest neighbours.

The post's generation cell (blog-implementation-facts.md, "Generation"), as pure graph
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
import json
import os

import numpy as np

from glo_tf1 import checkpoints
from glo_tf1 import codes as codes_lib
from glo_tf1 import config as config_lib
from glo_tf1 import decoder as decoder_lib
from glo_tf1 import files
from glo_tf1 import inputs
from glo_tf1.compat import tf

SAMPLERS = ('unit', 'fitted', 'full')
INTERPOLATIONS = ('nlerp', 'slerp')


# ----------------------------------------------------------------------------- run directory

def read_run(run_dir, data_dir=None, verify=True):
  """What a trained run needs to be used again: its config, file list and data.

  Args:
    run_dir: a run directory written by glo_tf1.train.
    data_dir: the training images; default the `data_dir` recorded in provenance.json.
    verify: check that the files in data_dir are the ones of the manifest (size and
      content hash), so that code i is never shown beside another image than image i.
  Returns:
    dict with cfg, names (manifest order), paths (absolute), data_dir, provenance.
  Raises:
    checkpoints.RunDirError: not a run directory, or its data cannot be found / differ.
  """
  cfg = checkpoints.read_config(run_dir)
  manifest_path = os.path.join(run_dir, files.MANIFEST_NAME)
  if cfg is None or not os.path.exists(manifest_path):
    raise checkpoints.RunDirError(
        '%s is not a glo-tf1 run directory (no %s or %s); pass the --run_dir of a training '
        'run' % (run_dir, checkpoints.CONFIG_NAME, files.MANIFEST_NAME))
  cfg = config_lib.validate(cfg)
  provenance = {}
  prov_path = os.path.join(run_dir, checkpoints.PROVENANCE_NAME)
  if os.path.exists(prov_path):
    with open(prov_path) as f:
      provenance = json.load(f)
  manifest = files.read_manifest(manifest_path)
  names = [n for _, n, _, _ in manifest]
  data_dir = data_dir or provenance.get('data_dir')
  if not data_dir or not os.path.isdir(data_dir):
    raise checkpoints.RunDirError(
        'the training images of %s are not at %r; pass --data_dir with the folder the run '
        'was trained on' % (run_dir, data_dir))
  missing = [n for n in names if not os.path.isfile(os.path.join(data_dir, n))]
  if missing:
    raise checkpoints.RunDirError(
        '%d of the %d training images of %s are missing from %s (first: %s); pass '
        '--data_dir with the folder the run was trained on'
        % (len(missing), len(names), run_dir, data_dir, missing[0]))
  if verify:
    diffs = files.manifest_differences(manifest, files.build_manifest(data_dir, names))
    if diffs:
      raise checkpoints.RunDirError(
          'the images in %s differ from those run %s was trained on:\n  %s'
          % (data_dir, run_dir, '\n  '.join(diffs)))
  paths = [os.path.abspath(os.path.join(data_dir, n)) for n in names]
  return {'cfg': cfg, 'names': names, 'paths': paths, 'data_dir': os.path.abspath(data_dir),
          'provenance': provenance}


def restore_variables(sess, checkpoint_path, var_list):
  """Restores `var_list` (by their names in the training graph) from a checkpoint."""
  tf.train.Saver(var_list=var_list).restore(sess, checkpoint_path)


def checkpoint_step(checkpoint_path):
  """The global step a checkpoint was written at (from its `model.ckpt-STEP` name)."""
  tail = checkpoint_path.rsplit('-', 1)[-1]
  return int(tail) if tail.isdigit() else None


# ----------------------------------------------------------------------------- pure graph

def inference_decoder(z, cfg, reuse=None):
  """Raw codes [B, dims] -> images [B, S, S, 3]: projected, then decoded in inference mode
  (moving batch-norm statistics, as the post's generation)."""
  return decoder_lib.decode(codes_lib.project(z, cfg['projection']), cfg, is_training=False,
                            reuse=reuse)


def fit_diagonal_gaussian(codes):
  """The post's `sampled_fitted` fit: per-dimension mean and standard deviation
  (`tf.nn.moments`, population variance) of codes [N, dims]."""
  mean, var = tf.nn.moments(codes, axes=[0])
  return {'mean': mean, 'scale': tf.sqrt(var)}


def fit_full_gaussian(codes):
  """The paper's fit: mean and full covariance (maximum likelihood, divided by N) of codes
  [N, dims], and a matrix A with A A^T = covariance for sampling.

  A = V sqrt(max(w, 0)) from the eigendecomposition, so a singular covariance (fewer codes
  than dimensions) still samples exactly within the codes' span.
  """
  codes = tf.cast(codes, tf.float64)
  mean = tf.reduce_mean(codes, axis=0)
  centred = codes - mean
  cov = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(codes)[0], tf.float64)
  cov = (cov + tf.transpose(cov)) / 2.
  w, v = tf.linalg.eigh(cov)
  scale = v * tf.sqrt(tf.maximum(w, 0.))[None, :]
  return {'mean': tf.cast(mean, tf.float32), 'cov': tf.cast(cov, tf.float32),
          'scale': tf.cast(scale, tf.float32)}


def sample_codes(noise, sampler, diagonal=None, full=None):
  """Raw codes from standard normal `noise` [B, dims] (to be projected by the decoder).

  sampler: 'unit' N(0, I); 'fitted' mean + noise * std (diagonal fit); 'full'
  mean + noise A^T (full-covariance fit).
  """
  if sampler == 'unit':
    return noise
  if sampler == 'fitted':
    return diagonal['mean'][None, :] + noise * diagonal['scale'][None, :]
  if sampler == 'full':
    return full['mean'][None, :] + tf.matmul(noise, full['scale'], transpose_b=True)
  raise ValueError('sampler must be one of %s, got %r' % (', '.join(SAMPLERS), sampler))


def interpolate(z0, z1, num_steps, method='nlerp', projection='sphere'):
  """Codes along the path z0 -> z1: [P, dims] x 2 -> [P, num_steps, dims], projected.

  'nlerp' (the post): (1 - t) z0 + t z1 on the raw codes, each projected.
  'slerp': along the great circle between the projected codes, constant angular speed.
  t runs over linspace(0, 1, num_steps), so both ends are the (projected) codes.
  """
  t = tf.constant(np.linspace(0., 1., num_steps), tf.float32)[None, :, None]
  p0 = codes_lib.project(z0, projection)
  p1 = codes_lib.project(z1, projection)
  if method == 'nlerp':
    path = (1. - t) * z0[:, None, :] + t * z1[:, None, :]
  elif method == 'slerp':
    u0 = tf.math.l2_normalize(p0, axis=1)
    u1 = tf.math.l2_normalize(p1, axis=1)
    cos = tf.clip_by_value(tf.reduce_sum(u0 * u1, axis=1), -1., 1.)[:, None, None]
    omega = tf.acos(cos)
    sin = tf.sin(omega)
    safe = sin > 1e-6  # (anti)parallel ends: fall back to the straight line
    safe_sin = tf.where(safe, sin, tf.ones_like(sin))
    a = tf.where_v2(safe, tf.sin((1. - t) * omega) / safe_sin, 1. - t)  # broadcasting where
    b = tf.where_v2(safe, tf.sin(t * omega) / safe_sin, t)
    # Interpolate the direction on the sphere and the norm linearly (norm 1 for 'sphere').
    n0 = tf.norm(p0, axis=1)[:, None, None]
    n1 = tf.norm(p1, axis=1)[:, None, None]
    path = (a * u0[:, None, :] + b * u1[:, None, :]) * ((1. - t) * n0 + t * n1)
  else:
    raise ValueError('interpolation must be one of %s, got %r'
                     % (', '.join(INTERPOLATIONS), method))
  shape = tf.shape(path)
  flat = codes_lib.project(tf.reshape(path, [-1, shape[2]]), projection)
  return tf.reshape(flat, shape)


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
    codes [batch_size, dims]), images (decoded), noise (placeholder) and sampled_<name>
    for each sampler, diagonal / full (the fits), index (placeholder) and gathered (raw
    codes), interp_z0 / interp_z1 -> interpolated [P, interp_steps, dims],
    paths (placeholder) -> decoded (training images, as the trainer preprocesses them),
    nn_queries -> nn_distances / nn_indices (top-k of the queries against `decoded`).
  """
  dims, size = cfg['latent_dims'], cfg['image_size']
  codes = codes_lib.codes_variable(num_codes, dims, cfg['codes_init'])
  z = tf.placeholder(tf.float32, [batch_size, dims], name='z')
  images = inference_decoder(z, cfg)
  fit_on = codes_lib.project(codes, cfg['projection']) if fit_projected else codes
  diagonal = fit_diagonal_gaussian(fit_on)
  full = fit_full_gaussian(fit_on)
  noise = tf.placeholder(tf.float32, [None, dims], name='noise')
  out = {'codes': codes, 'z': z, 'images': images, 'noise': noise, 'diagonal': diagonal,
         'full': full}
  for name in SAMPLERS:
    out['sampled_' + name] = sample_codes(noise, name, diagonal, full)
  out['index'] = tf.placeholder(tf.int32, [None], name='index')
  out['gathered'] = tf.gather(codes, out['index'])
  out['interp_z0'] = tf.placeholder(tf.float32, [None, dims], name='interp_z0')
  out['interp_z1'] = tf.placeholder(tf.float32, [None, dims], name='interp_z1')
  out['interpolated'] = interpolate(out['interp_z0'], out['interp_z1'], interp_steps,
                                    interp_method, cfg['projection'])
  out['paths'] = tf.placeholder(tf.string, [None], name='paths')
  out['decoded'] = inputs.decode_files(out['paths'], size, cfg['tight_crop'])
  out['nn_queries'] = tf.placeholder(tf.float32, [None, size, size, 3], name='nn_queries')
  dist = pixel_mse(out['nn_queries'], out['decoded'])
  kk = tf.minimum(k, tf.shape(dist)[1])
  neg, idx = tf.nn.top_k(-dist, kk, sorted=True)
  out['nn_distances'], out['nn_indices'] = -neg, idx
  out['k'] = k
  out['cfg'] = cfg
  out['batch_size'] = batch_size
  out['restore_vars'] = [codes] + tf.global_variables('decoder')
  return out


# ----------------------------------------------------------------------------- session helpers

def decode(sess, graph, z):
  """Raw codes [n, dims] (numpy) -> images [n, S, S, 3] in [-1, 1], in chunks of the
  graph's static batch (the decoder is in inference mode, so padding changes nothing)."""
  z = np.asarray(z, np.float32)
  b = graph['batch_size']
  out = []
  for start in range(0, len(z), b):
    chunk = z[start:start + b]
    pad = np.zeros((b - len(chunk), z.shape[1]), np.float32)
    pad[:, 0] = 1.  # any code with a non-zero norm
    out.append(sess.run(graph['images'], {graph['z']: np.concatenate([chunk, pad])})
               [:len(chunk)])
  return np.concatenate(out) if out else np.zeros((0,) + tuple(
      graph['images'].get_shape().as_list()[1:]), np.float32)


def sample(sess, graph, sampler, noise):
  """(raw codes [n, dims], images [n, S, S, 3]) from one of SAMPLERS, given standard
  normal `noise` [n, dims] (from numpy.random.RandomState(seed), so seeded)."""
  z = sess.run(graph['sampled_' + sampler], {graph['noise']: np.asarray(noise, np.float32)})
  return z, decode(sess, graph, z)


def training_codes(sess, graph, indices):
  """Raw learned codes of the training images `indices`."""
  return sess.run(graph['gathered'], {graph['index']: np.asarray(indices, np.int32)})


def interpolations(sess, graph, pairs):
  """Images along the paths between the codes of training-image pairs (steps and method
  as the graph was built with).

  Args:
    pairs: [(i, j)] indices of training images.
  Returns:
    float32 [len(pairs), steps, S, S, 3].
  """
  pairs = np.asarray(pairs, np.int32).reshape(-1, 2)
  z0 = training_codes(sess, graph, pairs[:, 0])
  z1 = training_codes(sess, graph, pairs[:, 1])
  path = sess.run(graph['interpolated'], {graph['interp_z0']: z0, graph['interp_z1']: z1})
  flat = decode(sess, graph, path.reshape(-1, path.shape[-1]))
  return flat.reshape(path.shape[:2] + flat.shape[1:])


def load_images(sess, graph, paths):
  """Images [n, S, S, 3] in [-1, 1] of `paths`, decoded, cropped and resized as training."""
  return sess.run(graph['decoded'], {graph['paths']: list(paths)})


def reconstructions(sess, graph, paths, indices):
  """(originals, reconstructions), each [n, S, S, 3] in [-1, 1], for training images
  `indices`."""
  originals = load_images(sess, graph, [paths[i] for i in indices])
  return originals, decode(sess, graph, training_codes(sess, graph, indices))


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
    queries: [Q, S, S, 3] in [-1, 1] (e.g. generated samples).
    progress: optional callable(done, total).
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
      progress(min(start + batch_size, len(paths)), len(paths))
  return best_d, best_i
