r"""The post's four figures from a trained run.

  glo-figures --run_dir RUN --out_dir DIR [--checkpoint STEP|PATH] [--seed 0]

writes into DIR:
  reconstructions.png     training images beside the decoding of their learned codes
  samples.png             samples from N(0, I), from the diagonal Gaussian fitted to the
                          codes (the post) and from the full-covariance fit (the paper)
  interpolation.png       one row per pair of training images, 25 steps (normalised lerp)
  nearest_neighbours.png  fitted samples, each followed by its nearest training images by
                          pixel MSE over the whole training set, with the distances
  nearest_neighbours.json the same neighbours: file names and distances
  loss.png                the training loss against steps, from the TensorBoard events
Pixels are mapped [-1, 1] -> [0, 255] by the fixed linear map (the post's `imsave`
stretched each image min-max, which hides a washed-out model).

Figure writers (FIGURES, in order; each takes the context dict `ctx` built by `main` and
writes one file into ctx['out_dir']): figure_reconstructions, figure_samples,
figure_interpolation, figure_nearest_neighbours, figure_loss. A new figure is one more function
appended to FIGURES.
"""
import collections
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top
import numpy as np  # noqa: E402  pylint: disable=g-import-not-at-top

from glo_tf1 import io
from glo_tf1 import progress
from glo_tf1.compat import tf  # noqa: E402
from glo_tf1.evaluation import curves  # noqa: E402
from glo_tf1.evaluation import generation  # noqa: E402
from glo_tf1.evaluation import runs  # noqa: E402


SAMPLER_LABELS = collections.OrderedDict([
    ('unit', 'N(0, I), projected'),
    ('fitted', 'diagonal Gaussian fit (post)'),
    ('full', 'full-covariance fit (paper)'),
])


# ----------------------------------------------------------------------------- pixels

def to_uint8(images):
  """[-1, 1] -> [0, 255] by the fixed linear map round((x + 1) * 127.5), clipped."""
  return np.clip(np.round((np.asarray(images, np.float64) + 1.) * 127.5), 0, 255).astype(
      np.uint8)


def mosaic(images, cols, pad=1, fill=255):
  """uint8 [n, H, W, 3] -> one uint8 image of ceil(n / cols) rows, `pad` pixels apart."""
  images = np.asarray(images)
  n, h, w = images.shape[:3]
  rows = -(-n // cols)
  out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), fill, np.uint8)
  for k in range(n):
    r, c = divmod(k, cols)
    out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[k]
  return out


def _scale(image_size):
  """Screen pixels per image pixel: small images are enlarged (nearest neighbour)."""
  return max(1, 96 // image_size)


def _save(fig, path):
  with io.atomic_open(path, 'wb') as f:
    fig.savefig(f, dpi=100, format='png')
  plt.close(fig)
  return path


def _show(ax, image):
  ax.imshow(image, interpolation='nearest')
  ax.set_xticks([])
  ax.set_yticks([])


def save_reconstructions(path, originals, recons, cols=4):
  """Pairs (original | reconstruction), `cols` pairs a row; returns the path."""
  originals, recons = to_uint8(originals), to_uint8(recons)
  s = originals.shape[1]
  pairs = np.concatenate([originals, np.full_like(originals[:, :, :1], 255), recons], axis=2)
  grid = mosaic(pairs, cols, pad=max(4, s // 8))
  k = _scale(s)
  h, w = grid.shape[0] * k / 100., grid.shape[1] * k / 100.
  fig = plt.figure(figsize=(w, h + 0.3))
  ax = fig.add_axes([0, 0, 1, h / (h + 0.3)])
  _show(ax, grid)
  fig.suptitle('original | reconstruction', fontsize=9, y=0.995, va='top')
  return _save(fig, path)


def save_samples(path, panels, cols=4):
  """Side-by-side panels {label: images [n, S, S, 3] in [-1, 1]}, each labelled."""
  grids = [(label, mosaic(to_uint8(images), cols)) for label, images in panels.items()]
  s = next(iter(panels.values())).shape[1]
  k = _scale(s)
  h, w = grids[0][1].shape[:2]
  fig, axes = plt.subplots(1, len(grids), figsize=(
      len(grids) * (w * k / 100. + 0.3), h * k / 100. + 0.5), squeeze=False)
  for ax, (label, grid) in zip(axes[0], grids):
    _show(ax, grid)
    ax.set_title(label, fontsize=9)
  fig.tight_layout()
  return _save(fig, path)


def save_interpolation(path, rows):
  """One row per pair: images [P, T, S, S, 3] in [-1, 1], left end to right end."""
  rows = to_uint8(rows)
  p, t = rows.shape[:2]
  grid = mosaic(rows.reshape((p * t,) + rows.shape[2:]), t)
  k = _scale(rows.shape[2])
  fig = plt.figure(figsize=(grid.shape[1] * k / 100., grid.shape[0] * k / 100.))
  ax = fig.add_axes([0, 0, 1, 1])
  _show(ax, grid)
  return _save(fig, path)


def save_nearest_neighbours(path, queries, neighbours, distances):
  """Each row: a sample, then its neighbours [Q, k, S, S, 3] with their pixel MSE."""
  queries, neighbours = to_uint8(queries), to_uint8(neighbours)
  q, k = neighbours.shape[:2]
  s = queries.shape[1]
  cell = max(1.1, s * _scale(s) / 100.)
  fig, axes = plt.subplots(q, k + 1, figsize=((k + 1) * cell, q * (cell + 0.3)),
                           squeeze=False)
  for r in range(q):
    _show(axes[r, 0], queries[r])
    axes[r, 0].set_title('sample %d' % r, fontsize=8)
    for j in range(k):
      _show(axes[r, j + 1], neighbours[r, j])
      axes[r, j + 1].set_title('MSE %.4f' % distances[r, j], fontsize=8)
  fig.suptitle('sample, then its nearest training images (pixel MSE on [-1, 1])',
               fontsize=9)
  fig.tight_layout()
  return _save(fig, path)


# ----------------------------------------------------------------------------- figure writers

def _rng(ctx, figure_id):
  """Each figure's own stream, so adding or removing a figure changes no other one."""
  return np.random.RandomState([ctx['seed'], figure_id])


def figure_reconstructions(ctx):
  n = len(ctx['paths'])
  idx = np.sort(_rng(ctx, 1).choice(n, min(ctx['num_reconstructions'], n), replace=False))
  originals, recons = generation.reconstructions(ctx['sess'], ctx['graph'], ctx['paths'], idx)
  return save_reconstructions(os.path.join(ctx['out_dir'], 'reconstructions.png'),
                              originals, recons)


def figure_samples(ctx):
  """The same noise goes through each sampler, so the panels are comparable."""
  noise = _rng(ctx, 2).standard_normal((ctx['num_samples'], ctx['cfg']['latent_dims']))
  panels = collections.OrderedDict(
      (SAMPLER_LABELS[name], generation.sample(ctx['sess'], ctx['graph'], name, noise)[1])
      for name in SAMPLER_LABELS)
  return save_samples(os.path.join(ctx['out_dir'], 'samples.png'), panels)


def figure_interpolation(ctx):
  n = len(ctx['paths'])
  p = ctx['num_interpolations']
  pairs = _rng(ctx, 3).choice(n, 2 * p, replace=n < 2 * p).reshape(p, 2)
  rows = generation.interpolations(ctx['sess'], ctx['graph'], pairs)
  return save_interpolation(os.path.join(ctx['out_dir'], 'interpolation.png'), rows)


def figure_nearest_neighbours(ctx):
  noise = _rng(ctx, 4).standard_normal((ctx['num_queries'], ctx['cfg']['latent_dims']))
  _, queries = generation.sample(ctx['sess'], ctx['graph'], ctx['query_sampler'], noise)
  report = progress.Progress('  nearest neighbours:', len(ctx['paths']), 'training images')
  dist, idx = generation.nearest_neighbours(ctx['sess'], ctx['graph'], ctx['paths'], queries,
                                            ctx['neighbours'], ctx['batch_size'], report)
  neighbours = generation.load_images(ctx['sess'], ctx['graph'],
                                      [ctx['paths'][i] for i in idx.ravel()])
  neighbours = neighbours.reshape(idx.shape + neighbours.shape[1:])
  io.write_json(os.path.join(ctx['out_dir'], 'nearest_neighbours.json'), {
      'metric': 'mean squared pixel difference, images in [-1, 1]',
      'sampler': ctx['query_sampler'],
      'searched_images': len(ctx['paths']),
      'queries': [{'sample': r, 'neighbours': [
          {'index': int(i), 'path': ctx['names'][i], 'mse': float(d)}
          for i, d in zip(idx[r], dist[r])]} for r in range(len(idx))]})
  return save_nearest_neighbours(os.path.join(ctx['out_dir'], 'nearest_neighbours.png'),
                                 queries, neighbours, dist)


def figure_loss(ctx):
  """loss.png: the training loss against steps, from the run's TensorBoard events."""
  return curves.save_loss_curve(ctx['run_dir'], os.path.join(ctx['out_dir'], 'loss.png'),
                                ctx['cfg']['loss'])


FIGURES = [figure_reconstructions, figure_samples, figure_interpolation,
           figure_nearest_neighbours, figure_loss]


def write_figures(run_dir, out_dir, checkpoint=None, data_dir=None, seed=0, verify=True,
                  **options):
  """Writes every figure of FIGURES for a run; returns the written paths.

  options: the flags of this module (num_reconstructions, num_samples, ...).
  """
  run = runs.read_run(run_dir, data_dir, verify=verify)
  cfg = run['cfg']
  os.makedirs(out_dir, exist_ok=True)
  with tf.Graph().as_default():
    graph = generation.build_generation_graph(
        cfg, len(run['paths']), batch_size=64, fit_projected=options['fit_projected'],
        k=options['neighbours'], interp_steps=options['interp_steps'],
        interp_method=options['interpolation'])
    with tf.Session() as sess:
      ckpt = runs.restore_variables(sess, run_dir, graph['restore_vars'], checkpoint)
      print('Figures of %s at step %s (%d training images, preset %s) -> %s'
            % (run_dir, runs.checkpoint_step(ckpt), len(run['paths']), cfg['preset'],
               out_dir), flush=True)
      ctx = dict(options, sess=sess, graph=graph, cfg=cfg, paths=run['paths'],
                 names=run['names'], run_dir=run_dir, out_dir=out_dir, seed=seed,
                 checkpoint=ckpt)
      written = []
      for writer in FIGURES:
        written.append(writer(ctx))
        print('  wrote %s' % written[-1], flush=True)
  return written
