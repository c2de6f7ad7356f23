"""glo-check-data: finds the images a training run could not read, before it starts.

  glo-check-data --data_dir DIR [--file_list LIST] [--decode]

Reads headers only by default (seconds to a minute for 200k files); --decode also decodes
every pixel. Prints each bad file with its reason. Exit status 0: all good, 1: bad files
found, 2: bad usage.
"""
import time

from absl import flags

from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('data_dir', None, 'Folder of images (searched recursively).')
_define.string('file_list', None, 'Optional text file of paths relative to --data_dir to '
               'check instead.')
_define.bool('decode', False, 'Also decode every pixel (Pillow; JPEGs strictly, libjpeg\'s '
             '"Corrupt JPEG data" warnings included): slower, catches corrupt data inside '
             'intact headers.')
_define.integer('num_workers', 0, 'Threads (0: 16).', lower_bound=0)
_define.float('max_megapixels', 50, 'Images of more pixels are bad (found from their '
              'headers, never decoded); 0: no limit.', lower_bound=0)


def main(fv):
  from glo_tf1.data import check  # pylint: disable=import-outside-toplevel
  from glo_tf1.data import files  # pylint: disable=import-outside-toplevel
  names = files.list_images(fv.data_dir, fv.file_list)
  start = time.time()
  notes = []
  bad = check.check_files(fv.data_dir, names, decode=fv.decode, num_workers=fv.num_workers,
                          max_pixels=int(fv.max_megapixels * 1e6), notes=notes)
  seconds = time.time() - start
  if bad:
    print(check.format_problems(bad, fv.data_dir))
  if notes:
    print(check.format_notes(notes))
  print('%d files checked in %.2f s (%.0f files/s, %s): %d bad.' % (
      len(names), seconds, len(names) / max(seconds, 1e-9),
      'full decode' if fv.decode else 'headers', len(bad)))
  return 1 if bad else 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
