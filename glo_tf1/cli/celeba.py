"""glo-celeba-lists: checks the aligned CelebA layout and writes its partitions as lists.

  glo-celeba-lists --celeba_dir CELEBA --out_dir LISTS

Expects CELEBA/img_align_celeba/*.jpg and CELEBA/list_eval_partition.txt (or Kaggle's
.csv); writes LISTS/train.txt, valid.txt and test.txt for --file_list. When something is
missing it says what to download and where to put it (exit status 2). Used by
reproduce/celeba.sh (docs/celeba.md).
"""
import os

from absl import flags

from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('celeba_dir', None, 'Folder with img_align_celeba/ and list_eval_partition.txt.')
_define.string('out_dir', None, 'Where to write train.txt, valid.txt, test.txt.')
_define.bool('heldout', True, 'The test partition is evaluated on: refuse a partition file '
             'without test images (--noheldout: training on every listed image).')
common.require(FLAGS, 'celeba_dir', 'out_dir')


def main(fv):
  from glo_tf1.data import celeba  # pylint: disable=import-outside-toplevel
  paths = celeba.write_lists(celeba.check_layout(fv.celeba_dir, heldout=fv.heldout),
                             fv.out_dir)
  print('Partition lists: %s' % ', '.join(os.path.abspath(paths[p])
                                          for p in celeba.PARTITIONS))
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
