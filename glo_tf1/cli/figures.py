"""glo-figures: the post's figures from a trained run.

  glo-figures --run_dir RUN --out_dir DIR [--checkpoint STEP|PATH] [--seed 0]
              [--layout default|post]

Writes into DIR: reconstructions.png, samples.png (N(0, I), the diagonal fit of the post,
the full-covariance fit of the paper), interpolation.png, nearest_neighbours.png and
.json (each fitted sample beside its nearest training images by pixel MSE), loss.png.
With --layout post: the post's own two figures, post_grids.png and
post_nearest_neighbours.png (+ .json). docs/figures.md describes each one.
"""
import os

from absl import flags

from glo_tf1 import settings
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('run_dir', None, 'Run directory of a training run.')
_define.string('out_dir', None, 'Folder to write the figures to.')
_define.string('checkpoint', None, 'Checkpoint: a step number or a path (default: the latest '
               'in --run_dir).')
_define.string('data_dir', None, 'Training images (default: the data_dir recorded in '
               'RUN/provenance.json).')
_define.integer('seed', 0, 'Seed of every random choice (images, noise, pairs).', lower_bound=0)
_define.integer('num_reconstructions', 16, 'Training images in reconstructions.png.',
                lower_bound=1)
_define.integer('num_samples', 16, 'Samples per panel of samples.png.', lower_bound=1)
_define.integer('num_interpolations', 4, 'Pairs (rows) in interpolation.png.', lower_bound=1)
_define.integer('interp_steps', 25, 'Steps per interpolation (the post: 25).', lower_bound=2)
_define.enum('interpolation', 'nlerp', list(settings.INTERPOLATIONS),
             'nlerp: linear on the raw codes, then projected (the post); slerp: spherical.')
_define.bool('fit_projected', False, 'Fit the Gaussians to the projected codes (the post '
             'fits the raw codes).')
_define.integer('num_queries', 4, 'Samples in nearest_neighbours.png.', lower_bound=1)
_define.integer('neighbours', 4, 'Nearest training images per sample.', lower_bound=1)
_define.enum('query_sampler', 'fitted', list(settings.SAMPLERS),
             'Sampler of the nearest-neighbour queries.')
_define.integer('batch_size', 256, 'Training images per batch of the neighbour search.',
                lower_bound=1)
_define.enum('layout', 'default', ['default', 'post'], 'default: the figures above; post: '
             'the post\'s two published figures in their own layout (post_grids.png, '
             'post_nearest_neighbours.png).')
_define.bool('nn_from_saved_grid', False, 'post layout: search neighbours of the samples as '
             'the JPEG grid holds them, as the post did (default: the float samples).')
_define.integer('nn_max_images', 0, 'post layout: search only the first N training files '
                '(the post: 100000; 0: all).', lower_bound=0)
_define.bool('skip_data_check', False, 'Do not compare the training images with the run\'s '
             'manifest (size and hash of every file).')

common.require(FLAGS, 'run_dir', 'out_dir')


def main(fv):
  from glo_tf1.evaluation import figures  # pylint: disable=import-outside-toplevel
  figures.write_figures(
      fv.run_dir, os.path.abspath(fv.out_dir), fv.checkpoint, fv.data_dir, fv.seed,
      verify=not fv.skip_data_check, num_reconstructions=fv.num_reconstructions,
      num_samples=fv.num_samples, num_interpolations=fv.num_interpolations,
      interp_steps=fv.interp_steps, interpolation=fv.interpolation,
      fit_projected=fv.fit_projected, num_queries=fv.num_queries, neighbours=fv.neighbours,
      query_sampler=fv.query_sampler, batch_size=fv.batch_size, layout=fv.layout,
      nn_from_saved_grid=fv.nn_from_saved_grid, nn_max_images=fv.nn_max_images)
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
