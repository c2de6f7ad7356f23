"""Samplers of codes: the Gaussian fits, sampling, interpolation, inference-mode decoding.

The post's generation cell (docs/reference/notebook-facts.md, "Generation") as pure graph
functions, shared by the training summaries (model/towers.py) and the figures and
evaluation (evaluation/generation.py):

  unit     z ~ N(0, I), projected.
  fitted   a diagonal Gaussian fitted with `tf.nn.moments` (population variance).
  full     a full-covariance Gaussian (the paper).
  nlerp    normalised linear interpolation of raw codes (the post) / slerp.
"""
import collections

import numpy as np

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import decoders

SAMPLERS = settings.SAMPLERS
INTERPOLATIONS = settings.INTERPOLATIONS


def inference_decoder(z, cfg, reuse=None):
  """Raw codes [B, dims] -> images [B, S, S, C]: projected, then decoded in inference mode
  (moving batch-norm statistics, as the post's generation)."""
  return decoders.decode(codes_lib.project(z, cfg['projection']), cfg, is_training=False,
                            reuse=reuse)


def batch_stats_decoder(z, cfg):
  """Raw codes [B, dims] -> images, decoded in training mode: batch norm normalises by the
  batch's own statistics, as the training loss saw it (the moving averages are neither
  used nor updated). Beside inference_decoder it shows whether the moving statistics have
  caught up with the decoder (report.py's batch-statistics check)."""
  return decoders.decode(codes_lib.project(z, cfg['projection']), cfg, is_training=True,
                            reuse=True)


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


class Sampler(collections.namedtuple('Sampler', ['fn', 'label', 'short'])):
  """A sampler of new codes: fn(noise [B, dims] ~ N(0, I), the diagonal fit, the full fit)
  -> raw codes [B, dims] (projected by the decoder); `label` names its rows in the
  evaluation report, `short` its glo-compare column."""

  def __call__(self, noise, diagonal, full):
    return self.fn(noise, diagonal, full)


# The sampler registry (settings.SAMPLERS are its keys): a new sampler is its function and
# one line here; the generation graph, glo-evaluate's sections and glo-compare follow.
SAMPLER_FNS = {
    'unit': Sampler(lambda noise, diagonal, full: noise, 'N(0, I)', 'N(0,I)'),
    'fitted': Sampler(lambda noise, diagonal, full: (diagonal['mean'][None, :] +
                                                     noise * diagonal['scale'][None, :]),
                      'fitted diagonal Gaussian', 'diagonal'),
    'full': Sampler(lambda noise, diagonal, full: (
        full['mean'][None, :] + tf.matmul(noise, full['scale'], transpose_b=True)),
                    'fitted full-covariance Gaussian', 'full cov.'),
}


def sample_codes(noise, sampler, diagonal=None, full=None):
  """Raw codes from standard normal `noise` [B, dims] (to be projected by the decoder).

  sampler: 'unit' N(0, I); 'fitted' mean + noise * std (diagonal fit); 'full'
  mean + noise A^T (full-covariance fit).
  """
  if sampler not in SAMPLER_FNS:
    raise ValueError('sampler must be one of %s, got %r' % (', '.join(SAMPLER_FNS), sampler))
  return SAMPLER_FNS[sampler](noise, diagonal, full)


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
