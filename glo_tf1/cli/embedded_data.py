"""glo-write-faces: writes the embedded data set, 100 real LFW faces shipped inside
scikit-image (and their mirror images), as JPEG files, so the file-based pipeline runs
with no download.

  glo-write-faces --out_dir data/lfw
"""
import os

from absl import flags

from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('out_dir', 'data/lfw', 'Folder to write the faces to.')
_define.bool('mirror', True, 'Also write the mirror image of each face (200 files).')


def main(fv):
  from glo_tf1.data import embedded  # pylint: disable=import-outside-toplevel
  names = embedded.write_faces(fv.out_dir, mirror=fv.mirror)
  print('Wrote %d LFW face images to %s' % (len(names), os.path.abspath(fv.out_dir)))
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
