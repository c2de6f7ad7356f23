"""glo-prepare-data: converts a benchmark data set from its publisher's files to PNGs.

  glo-prepare-data DATASET --source DIR --out_dir OUT

DATASET: mnist, fashion_mnist (the four IDX files, .gz or uncompressed), svhn
(train_32x32.mat, test_32x32.mat) or cifar10 (cifar-10-binary.tar.gz or its
cifar-10-batches-bin/ folder; the Python version is refused), downloaded by hand into DIR.
Writes OUT/train/*.png, OUT/test/*.png, then OUT/train.txt and OUT/test.txt (for
--file_list), the label lists and OUT/prepare.json (each source file's size, SHA-256, MD5
and image count; the publisher's checksum, checked, where one is published; for MNIST's
layout and SVHN the form found and the payload's MD5, checked against the listed one,
which decides). Running it again resumes. When a file is missing it says where to get it
and where to put it (exit status 2). Ctrl-C, SIGTERM and SIGHUP stop it at once (exit
status 130) with no half-written file; run it again to resume. celeba64 and celeba128
(--source: aligned CelebA as reproduce/celeba.sh reads it) check the layout and write the
partition lists and prepare.json only: the JPEGs are trained on as they are. See
docs/benchmarks.md.
"""
import os
import signal

from absl import flags

from glo_tf1 import settings
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('source', None, 'Folder holding the publisher\'s files, as downloaded.')
_define.string('out_dir', None, 'Where to write the PNG folders, the lists and prepare.json.')
_define.bool('allow_checksum_mismatch', False, 'Convert a file whose MD5 (or, for MNIST, '
             'size; for MNIST\'s layout, the payload\'s MD5 and size) differs from its '
             'publisher\'s, recording the mismatch in prepare.json.')
_define.integer('num_threads', 8, 'Threads writing the PNG files.', lower_bound=1)
_define.string('pad_to', 'auto', 'Pad smaller images with black to this side: auto pads '
               'the 28 px MNIST and Fashion-MNIST digits to 32 (the decoder\'s sizes are '
               'powers of 2); 0 keeps them as they are (glo-train then resizes them).')


def _interrupt(signum, frame):  # pylint: disable=unused-argument
  raise KeyboardInterrupt


def main(fv, args):
  from glo_tf1.data import prepare  # pylint: disable=import-outside-toplevel
  names = list(prepare.DATASETS) + list(prepare.CELEBA_DATASETS)
  if len(args) != 1:
    raise settings.ConfigError(
        'expected one DATASET argument (%s), got %s' % (
            ', '.join(names), ' '.join(args) if args else 'none'))
  if args[0] not in prepare.CELEBA_DATASETS:
    prepare.dataset(args[0])  # an unknown name is refused before the flags are checked
  if not fv.source or not fv.out_dir:
    raise settings.ConfigError('--source and --out_dir are required')
  if args[0] in prepare.CELEBA_DATASETS:
    record = prepare.prepare_celeba(args[0], fv.source, fv.out_dir)
    print('%s: %s. Train with: glo-train --preset %s --data_dir %s --file_list %s '
          '--run_dir RUN (or: bash reproduce/paper.sh %s --source %s)' % (
              args[0], ', '.join('%d %s images' % (record['splits'][s]['images'], s)
                                 for s in prepare.SPLITS), args[0], record['images_dir'],
              os.path.join(os.path.abspath(fv.out_dir), 'train.txt'), args[0],
              os.path.abspath(fv.source)))
    return 0
  pad_to = fv.pad_to
  if pad_to != 'auto':
    try:
      pad_to = int(pad_to)
    except ValueError:
      pad_to = -1
    if pad_to < 0:
      raise settings.ConfigError('--pad_to: must be auto or a non-negative integer, got %r'
                                 % fv.pad_to)
  # SIGTERM and SIGHUP would kill the process where it stands, leaving the temporaries
  # of the images being written; as Ctrl-C they end it through prepare()'s cleanup. A
  # signal ignored when the program started (nohup) stays ignored.
  previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
  for sig, handler in previous.items():
    if handler is not signal.SIG_IGN:
      signal.signal(sig, _interrupt)
  try:
    record = prepare.prepare(args[0], fv.source, fv.out_dir,
                             allow_checksum_mismatch=fv.allow_checksum_mismatch,
                             num_threads=fv.num_threads, pad_to=pad_to)
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  out = os.path.abspath(fv.out_dir)
  print('%s: %s. Train with: glo-train --data_dir %s --file_list %s --run_dir RUN' % (
      record['dataset'], ', '.join('%d %s images' % (record['splits'][s]['images'], s)
                                   for s in prepare.SPLITS),
      out, os.path.join(out, 'train.txt')))
  return 0


def run():
  common.run_program(FLAGS, main, __doc__, positional=True)


if __name__ == '__main__':
  run()
