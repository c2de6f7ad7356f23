"""glo-sample: samples, reconstructions or the learned codes of a trained run, as files.

  glo-sample --run_dir RUN --out OUT [--what samples] [--num 50000] [--sampler full]
  glo-sample --run_dir RUN --out OUT --what reconstructions --data_dir D [--file_list L]
             [--steps 1000]
  glo-sample --run_dir RUN --out CODES.npz --what codes [--projected]
  glo-sample --run_dir RUN --out REFS --what references [--num 10000] [--seed 0]
             [--data_dir D]

OUT is a folder of PNG files (8-bit, what pytorch-fid, clean-fid and torch-fidelity read)
or, ending in .npz, one file with `images` (uint8 [n, S, S, 3]) and their raw `codes`.
Work goes in seeded chunks: an interrupted export resumes where it stopped and gives the
same files, and a resume asking for something else is refused (docs/api.md).
"""
from absl import flags

from glo_tf1 import settings
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('run_dir', None, 'Run directory of a training run.')
_define.string('out', None, 'A folder of PNG files, or FILE.npz.')
_define.enum('what', 'samples', ['samples', 'reconstructions', 'codes', 'references'],
             'What to write: samples of --sampler, reconstructions of --data_dir\'s images, '
             'the learned codes of the training images (.npz only), or the training images '
             'as the trainer and FID see them (cropped, resized; at most --num of them, the '
             'subset glo-evaluate\'s FID draws with --seed), for an external FID tool.')
MAX_NUM = 10 ** 7  # 200 times FID's 50,000; at 64 px about 100 GB of PNG files
_define.integer('num', 10000, 'Samples or references to write (at most %d).' % MAX_NUM,
                lower_bound=1)
flags.register_validator('num', lambda n: n <= MAX_NUM, flag_values=FLAGS, message=(
    'above %d (FID takes 50,000); its PNG files would fill about 10 kB each at 64 px'
    % MAX_NUM))
_define.enum('sampler', 'full', list(settings.SAMPLERS), 'unit: N(0, I); fitted: the '
             'diagonal Gaussian fitted to the codes (the post); full: the full-covariance '
             'Gaussian (the paper).')
_define.string('data_dir', None, 'Images to reconstruct (searched recursively).')
_define.string('file_list', None, 'Text file of paths relative to --data_dir to reconstruct '
               '(default: every image under it).')
_define.integer('steps', 1000, 'Optimisation steps of the fresh codes of each batch (as '
                'glo-evaluate\'s --steps).', lower_bound=0)
_define.bool('projected', False, 'Codes as the decoder sees them (projected) instead of as '
             'stored (raw).')
_define.integer('seed', 0, 'Seed of the noise and of the fresh codes\' initialisation, in '
                '[0, 2**32).', lower_bound=0, upper_bound=2 ** 32 - 1)
_define.integer('batch_size', None, 'Decoder batch (default: the run\'s; code fitting sees '
                'the loss at this batch size).', lower_bound=1)
_define.string('checkpoint', None, 'Checkpoint: a step number or a path (default: the latest '
               'in --run_dir).')
# Declared rules: absl refuses a breach at parsing, naming the flags and their values.
common.require(FLAGS, 'run_dir', 'out')
common.rule(FLAGS, ('what', 'data_dir'), lambda f: f['what'] != 'reconstructions' or
            f['data_dir'], '--what reconstructions needs --data_dir')
common.rule(FLAGS, ('what', 'file_list'), lambda f: f['what'] == 'reconstructions'
            or not f['file_list'], '--file_list is for --what reconstructions')
common.rule(FLAGS, ('what', 'data_dir'), lambda f: f['what'] in ('reconstructions',
                                                                 'references')
            or not f['data_dir'], '--data_dir is for --what reconstructions or references')
common.rule(FLAGS, ('file_list', 'data_dir'), lambda f: not f['file_list'] or f['data_dir'],
            '--file_list needs --data_dir')
common.rule(FLAGS, ('what', 'out'), lambda f: f['what'] != 'codes' or not f['out'] or
            f['out'].endswith('.npz'), '--what codes writes an .npz: give --out FILE.npz')


def main(fv):
  # pylint: disable=import-outside-toplevel
  from glo_tf1.data import files
  from glo_tf1.evaluation import export
  export.check_out(fv.out, fv.run_dir, fv.data_dir)  # before TensorFlow and the checkpoint
  reconstructing = fv.what == 'reconstructions'
  names = files.list_images(fv.data_dir, fv.file_list) if reconstructing else None
  if names and not fv.out.endswith('.npz'):
    export.output_names(names)  # two sources of one PNG name
  from glo_tf1.evaluation import trained  # TensorFlow: after every check of the flags
  with trained.load(fv.run_dir, fv.checkpoint, batch_size=fv.batch_size,
                    data_dir=None if reconstructing else fv.data_dir) as run:
    print('%r -> %s' % (run, fv.out), flush=True)
    if fv.what == 'samples':
      out = export.export_samples(run, fv.out, fv.num, fv.sampler, fv.seed)
    elif fv.what == 'reconstructions':
      out = export.export_reconstructions(run, fv.out, fv.data_dir, names, fv.steps, fv.seed)
    elif fv.what == 'references':
      out = export.export_references(run, fv.out, fv.num, fv.seed)
    else:
      out = export.export_codes(run, fv.out, fv.projected)
  print('Wrote %s' % out)
  return 0


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
