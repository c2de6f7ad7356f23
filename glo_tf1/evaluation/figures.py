r"""The post's figures from a trained run.

  glo-figures --run_dir RUN --out_dir DIR [--checkpoint STEP|PATH] [--seed 0]
              [--layout default|post]

The default layout writes into DIR:
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

The post layout (--layout post) writes the post's two published figures in their own
layout: post_grids.png (the notebook's four 5 x 5 grids stacked, titled with its names)
and post_nearest_neighbours.png (+ .json: 25 fitted samples beside their nearest
training image, 5 rows of pairs).

Figure writers (FIGURES and POST_FIGURES, in order; each takes the context dict `ctx` built by `main` and
writes one file into ctx['out_dir']): figure_reconstructions, figure_samples,
figure_interpolation, figure_nearest_neighbours, figure_loss. A new figure is one more function
appended to FIGURES.
"""
import collections
import errno
import os
import shutil
import sys
import tempfile

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top
import numpy as np  # noqa: E402  pylint: disable=g-import-not-at-top

from glo_tf1 import io  # noqa: E402
from glo_tf1 import progress  # noqa: E402
from glo_tf1 import settings  # noqa: E402
from glo_tf1.compat import tf  # noqa: E402
from glo_tf1.data import images as images_lib  # noqa: E402
from glo_tf1.evaluation import curves  # noqa: E402
from glo_tf1.evaluation import generation  # noqa: E402
from glo_tf1.evaluation import runs  # noqa: E402
from glo_tf1.evaluation import trained  # noqa: E402


SAMPLER_LABELS = collections.OrderedDict([
    ('unit', 'N(0, I), projected'),
    ('fitted', 'diagonal Gaussian fit (post)'),
    ('full', 'full-covariance fit (paper)'),
])


def mosaic(images, cols, pad=1, fill=255):
  """uint8 [n, H, W, 3] -> one uint8 image of ceil(n / cols) rows, `pad` pixels apart
  (images.grid, the layout of the training summaries)."""
  images = np.asarray(images)
  with tf.Graph().as_default(), tf.Session() as sess:
    return sess.run(images_lib.grid(tf.constant(images), -(-len(images) // cols), cols,
                                    pad, fill))


def _scale(image_size):
  """Screen pixels per image pixel: small images are enlarged (nearest neighbour)."""
  return max(1, 96 // image_size)


def _save(fig, path):
  with io.atomic_open(path, 'wb') as f:
    fig.savefig(f, dpi=100, format='png')
  plt.close(fig)
  return path


def _show(ax, image):
  if image.shape[-1] == 1:  # --channels 1: gray, the levels as they are
    ax.imshow(image[..., 0], cmap='gray', vmin=0, vmax=255, interpolation='nearest')
  else:
    ax.imshow(image, interpolation='nearest')
  ax.set_xticks([])
  ax.set_yticks([])


def save_reconstructions(path, originals, recons, cols=4):
  """Pairs (original | reconstruction), `cols` pairs a row; returns the path."""
  originals, recons = images_lib.to_uint8(originals), images_lib.to_uint8(recons)
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


def save_samples(path, panels, cols=4, caption=None):
  """Side-by-side panels {label: images [n, S, S, C] in [-1, 1]}, each labelled, with an
  optional caption under them."""
  grids = [(label, mosaic(images_lib.to_uint8(images), cols)) for label, images in panels.items()]
  s = next(iter(panels.values())).shape[1]
  k = _scale(s)
  h, w = grids[0][1].shape[:2]
  extra = 0.6 if caption else 0.  # room for the caption's lines under the panels
  fig, axes = plt.subplots(1, len(grids), figsize=(
      len(grids) * (w * k / 100. + 0.3), h * k / 100. + 0.5 + extra), squeeze=False)
  for ax, (label, grid) in zip(axes[0], grids):
    _show(ax, grid)
    ax.set_title(label, fontsize=9)
  if caption:
    fig.tight_layout(rect=(0, extra / fig.get_size_inches()[1], 1, 1))
    fig.text(0.5, 0.01, caption, ha='center', va='bottom', fontsize=7, wrap=True)
  else:
    fig.tight_layout()
  return _save(fig, path)


def save_interpolation(path, rows, title=None):
  """One row per pair: images [P, T, S, S, C] in [-1, 1], left end to right end, under
  `title`."""
  rows = images_lib.to_uint8(rows)
  p, t = rows.shape[:2]
  grid = mosaic(rows.reshape((p * t,) + rows.shape[2:]), t)
  k = _scale(rows.shape[2])
  h, w = grid.shape[0] * k / 100., grid.shape[1] * k / 100.
  top = 0.45 if title else 0.
  fig = plt.figure(figsize=(max(w, 4.), h + top))
  ax = fig.add_axes([0, 0, 1, h / (h + top)])
  _show(ax, grid)
  if title:
    fig.suptitle(title, fontsize=8, y=0.995, va='top')
  return _save(fig, path)


def save_nearest_neighbours(path, queries, neighbours, distances):
  """Each row: a sample, then its neighbours [Q, k, S, S, C] with their pixel MSE."""
  queries, neighbours = images_lib.to_uint8(queries), images_lib.to_uint8(neighbours)
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
  return save_samples(os.path.join(ctx['out_dir'], 'samples.png'), panels,
                      caption=sphere_caption(ctx))


def sphere_caption(ctx):
  """Why N(0, I) and the fitted diagonal look alike under the sphere projection, with
  the fit's numbers; None for another projection."""
  if ctx['cfg']['projection'] != 'sphere':
    return None
  fit = ctx['sess'].run(ctx['graph']['diagonal'])
  mean, scale = fit['mean'], fit['scale']
  offset = np.linalg.norm(mean) / np.sqrt(np.sum(scale ** 2))  # |mean| / typical |z - mean|
  spread = scale.std() / scale.mean()
  text = ('The decoder sees z / |z| (sphere projection). The fitted diagonal Gaussian: '
          '|mean| / |scale| = %.2f, scales varying by %.0f%% (std / mean) across dimensions'
          % (offset, 100. * spread))
  if offset < 0.25 and spread < 0.25:
    return text + ('; so its sample for the same noise is nearly a positive multiple of the '
                   'N(0, I) one, and both panels show nearly the same images.')
  return text + ': far enough from N(0, I) that the two panels differ.'



def figure_interpolation(ctx):
  n = len(ctx['paths'])
  p = ctx['num_interpolations']
  pairs = _rng(ctx, 3).choice(n, 2 * p, replace=n < 2 * p).reshape(p, 2)
  rows = generation.interpolations(ctx['sess'], ctx['graph'], pairs)
  title = ('Interpolation between the learned codes of two training images a row (%s, %d '
           'steps; left: the first image\'s code, right: the second\'s)\nrows: %s'
           % (ctx['interpolation'], rows.shape[1], ', '.join(
               'image %d -> %d' % (a, b) for a, b in pairs[:6]) + (
                   ', ...' if len(pairs) > 6 else '')))
  return save_interpolation(os.path.join(ctx['out_dir'], 'interpolation.png'), rows, title)


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


# ----------------------------------------------------------------------------- the post's layout

POST_GRIDS = ('reconstruction_grid', 'sampled_unit_grid', 'sampled_fitted_grid',
              'interpolated_grid')  # the notebook's SAVE_IMAGES_KEYS, in its order
POST_SIDE = images_lib.GRID_ROWS * images_lib.GRID_ROWS  # 25 images a grid


def _grid(images, reconstructions=None):
  """The training summaries' own grid layout (images.square_grid, comparison_grid),
  [H, W, 3] in [-1, 1] (in a graph of its own: the run's is finalized)."""
  with tf.Graph().as_default(), tf.Session() as sess:
    if reconstructions is None:
      op = images_lib.square_grid(tf.constant(images, tf.float32))
    else:
      op = images_lib.comparison_grid(tf.constant(images, tf.float32),
                                      tf.constant(reconstructions, tf.float32))
    return sess.run(op)[0]


def _save_stacked(path, panels, title=None):
  """Grids [(title, image [H, W, 3] in [-1, 1])] one under the other, each with its title,
  pixels by the fixed map (images.to_uint8)."""
  panels = [(name, images_lib.to_uint8(grid)) for name, grid in panels]
  widths = [g.shape[1] for _, g in panels]
  heights = [g.shape[0] for _, g in panels]
  k = max(1, 640 // max(widths))
  fig, axes = plt.subplots(len(panels), 1, squeeze=False, figsize=(
      max(widths) * k / 100. + 0.4, sum(heights) * k / 100. + 0.45 * len(panels)),
      gridspec_kw={'height_ratios': heights})
  for ax, (name, grid) in zip(axes[:, 0], panels):
    _show(ax, grid)
    ax.set_title(name, fontsize=11)
  if title:
    fig.suptitle(title, fontsize=11)
  fig.tight_layout()
  return _save(fig, path)


def figure_post_grids(ctx):
  """post_grids.png: the post's published figure, the four 5 x 5 grids of the notebook's
  training loop stacked and titled with its names. From a checkpoint, the reconstruction
  grid decodes 25 random training images' learned codes in inference mode (the notebook's
  showed the training step's outputs, batch norm in training mode)."""
  sess, graph, n = ctx['sess'], ctx['graph'], len(ctx['paths'])
  idx = np.sort(_rng(ctx, 11).choice(n, min(POST_SIDE, n), replace=False))
  originals, recons = generation.reconstructions(sess, graph, ctx['paths'], idx)
  dims = ctx['cfg']['latent_dims']
  grids = {'reconstruction_grid': _grid(originals, recons)}
  for i, name in enumerate(('unit', 'fitted')):
    noise = _rng(ctx, 12 + i).standard_normal((POST_SIDE, dims))
    grids['sampled_%s_grid' % name] = _grid(generation.sample(sess, graph, name,
                                                                    noise)[1])
  pair = _rng(ctx, 14).choice(n, 2, replace=n < 2)
  path = generation.interpolations(sess, graph, [pair])[0]
  grids['interpolated_grid'] = _grid(path)
  return _save_stacked(os.path.join(ctx['out_dir'], 'post_grids.png'),
                       [(name, grids[name]) for name in POST_GRIDS])


def _as_saved_jpeg(grid, stretch):
  """A grid [H, W, 3] in [-1, 1] as the training run saves it (images.grid_jpeg, the
  notebook's JPEG dumps) and read back, in [-1, 1]."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  import io as bytes_io  # pylint: disable=import-outside-toplevel
  gray = grid.shape[-1] == 1
  back = Image.open(bytes_io.BytesIO(images_lib.grid_jpeg(grid, stretch))).convert(
      'L' if gray else 'RGB')
  back = np.asarray(back, np.float32) / 127.5 - 1.
  return back[..., None] if gray else back


def figure_post_nearest_neighbours(ctx):
  """post_nearest_neighbours.png: 25 fitted samples, each beside its single nearest
  training image by pixel MSE, 5 rows of sample | neighbour pairs (the post's figure).

  By default the samples are the decoder's float outputs and the search covers every
  training image. `nn_from_saved_grid` searches with the samples as the JPEG grid holds
  them (the post read back `sampled_fitted_grid_<step>.jpg`; stretched when the run saved
  stretched grids); `nn_max_images` searches only the first N files of the list (the
  post: 100,000 of its unsorted glob).
  """
  sess, graph = ctx['sess'], ctx['graph']
  noise = _rng(ctx, 13).standard_normal((POST_SIDE, ctx['cfg']['latent_dims']))
  _, samples = generation.sample(sess, graph, 'fitted', noise)
  if ctx['nn_from_saved_grid']:
    size = samples.shape[1]
    saved = _as_saved_jpeg(_grid(samples), ctx['cfg']['stretch_saved_images'])
    rows = images_lib.GRID_ROWS
    c = samples.shape[-1]
    samples = saved.reshape(rows, size, rows, size, c).transpose(0, 2, 1, 3, 4).reshape(
        (POST_SIDE, size, size, c))
  paths = ctx['paths'][:ctx['nn_max_images'] or None]
  report = progress.Progress('  nearest neighbours:', len(paths), 'training images')
  dist, idx = generation.nearest_neighbours(sess, graph, paths, samples, 1,
                                            ctx['batch_size'], report)
  neighbours = generation.load_images(sess, graph, [paths[i] for i in idx[:, 0]])
  io.write_json(os.path.join(ctx['out_dir'], 'post_nearest_neighbours.json'), {
      'metric': 'mean squared pixel difference, images in [0, 1]',
      'searched_images': len(paths),
      'from_saved_grid': bool(ctx['nn_from_saved_grid']),
      'queries': [{'sample': r, 'index': int(idx[r, 0]), 'path': ctx['names'][idx[r, 0]],
                   'mse': float(dist[r, 0]) / 4.} for r in range(len(idx))]})
  grid = _grid(samples, neighbours)
  return _save_stacked(os.path.join(ctx['out_dir'], 'post_nearest_neighbours.png'),
                       [('sample | nearest training image', grid)],
                       'Nearest neighbours among %d training images' % len(paths))


POST_FIGURES = [figure_post_grids, figure_post_nearest_neighbours]
LAYOUTS = {'default': FIGURES, 'post': POST_FIGURES}


# The errors of a disk that cannot take the figures: full, over quota, read-only.
_WRITE_FAULTS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


class FiguresError(settings.UserError):
  """The figures could not be written; the message names the folder and the cause."""


def write_figures(run_dir, out_dir, checkpoint=None, data_dir=None, seed=0, verify=True,
                  layout='default', **options):
  """Writes every figure of a layout (LAYOUTS) for a run; returns the written paths.

  All or nothing: the figures are made in a hidden folder inside out_dir and moved in
  together at the end, so a failure (a full disk) leaves out_dir as it was, never a set
  of new figures beside older ones of another step. Only what glo-figures wrote is
  replaced: out_dir's WRITTEN lists those names, and any other file of a figure's name
  stops the move, named.
  options: the flags of cli/figures.py (num_reconstructions, num_samples, ...).
  Raises:
    FiguresError: out_dir cannot be created, holds a file of a figure's name that
      glo-figures did not write, or a write failed for lack of space or permission
      (nothing in out_dir was replaced).
  """
  run = runs.read_run(run_dir, data_dir, verify=verify)
  try:
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(dir=out_dir, prefix='.glo-figures-')
  except OSError as e:
    raise FiguresError('--out_dir %s cannot be written: %s' % (out_dir, e.strerror or e))
  try:
    made = _make_figures(run, run_dir, staging, out_dir, checkpoint, seed, layout, options)
    names = sorted(os.listdir(staging))
    _record_written(out_dir, names)
    for name in names:  # renames in one folder: no space needed
      os.replace(os.path.join(staging, name), os.path.join(out_dir, name))
  except OSError as e:
    if e.errno not in _WRITE_FAULTS:
      raise
    raise FiguresError(
        'writing the figures into %s failed: %s (%s). Nothing there was replaced: it holds '
        'what it held before. Free space (or fix the permissions) and run again.'
        % (out_dir, e.strerror or e, os.path.basename(e.filename) if e.filename
           else 'while writing a figure')) from None
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return [os.path.join(out_dir, os.path.basename(p)) for p in made]


WRITTEN = '.glo_figures.json'  # out_dir's record of the names glo-figures wrote there


def _record_written(out_dir, names):
  """Adds `names` to out_dir's record (WRITTEN) before they replace anything; refuses,
  naming them, when a name is there already that glo-figures did not write (a user's
  samples.png is never replaced). Nothing is moved in before this returns."""
  written = io.written_names(out_dir, WRITTEN)
  theirs = [n for n in names if n not in written and (
      os.path.lexists(os.path.join(out_dir, n)))]
  if theirs:
    raise FiguresError(
        '--out_dir %s already holds %s, which glo-figures did not write (not in %s); '
        'nothing there was replaced. Move %s, or choose another --out_dir' % (
            out_dir, ', '.join(theirs), WRITTEN, 'it' if len(theirs) == 1 else 'them'))
  io.record_written(out_dir, names, written, WRITTEN)


def _make_figures(run, run_dir, staging, out_dir, checkpoint, seed, layout, options):
  """Writes the figures of `layout` into `staging` (write_figures' hidden folder in
  out_dir); returns their paths."""
  cfg = run['cfg']
  with trained.TrainedRun(
      run_dir, checkpoint, batch_size=64, run=run, fit_projected=options['fit_projected'],
      k=options['neighbours'],
      # The post's interpolation grid: one pair, 25 steps of normalised lerp.
      interp_steps=POST_SIDE if layout == 'post' else options['interp_steps'],
      interp_method='nlerp' if layout == 'post' else options['interpolation']) as loaded:
    print('Figures of %s at step %s (%d training images, preset %s) -> %s'
          % (run_dir, loaded.step, len(run['paths']), cfg['preset'], out_dir), flush=True)
    if cfg['normalizer'] == 'batch_norm':  # figures decode with the moving statistics
      warning = loaded.batch_norm_check(seed=seed)[2]
      if warning:
        print('warning: %s' % warning, file=sys.stderr, flush=True)
    ctx = dict(options, sess=loaded.session, graph=loaded.ops, cfg=cfg, paths=run['paths'],
               names=run['names'], run_dir=run_dir, out_dir=staging, seed=seed,
               checkpoint=loaded.checkpoint)
    written = []
    for writer in LAYOUTS[layout]:
      written.append(writer(ctx))
      print('  %s' % os.path.basename(written[-1]), flush=True)
  return written
