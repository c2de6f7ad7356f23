"""glo-train: trains GLO on a folder of images.

  glo-train --data_dir DIR --run_dir RUN [--preset blog|paper|paper64|demo|mnist|fashion_mnist|svhn|cifar10|celeba64|celeba128]
            [--SETTING VALUE ...]

Running the same command again resumes from RUN. Ctrl-C, SIGTERM or SIGHUP saves a
checkpoint and exits with status 0; one trainer at a time writes to RUN (RUN/lock). Every
setting of the preset can be overridden by the flag of the same name (README.md,
"Presets"); a resumed run refuses flags that would change its model.
"""
import os
import sys

from absl import flags

from glo_tf1 import settings
from glo_tf1.cli import common

FLAGS = flags.FlagValues()
_define = common.Definer(FLAGS)
_define.string('data_dir', None, 'Folder of training images (searched recursively).')
_define.string('file_list', None, 'Optional text file of paths relative to --data_dir to '
               'train on (e.g. the CelebA training partition).')
_define.string('run_dir', None, 'Run directory: checkpoints, events, config, manifest. An '
               'existing one is resumed.')
_define.enum('preset', None, list(settings.PRESETS),
             'Named configuration (default blog; a resumed run keeps its own).')
_define.bool('skip_data_check', False, 'Do not check the images before a new run '
             '(glo-check-data).')
_define.bool('skip_bad_images', False, 'Train without the images the data check finds bad; '
             'they are listed in RUN/skipped_images.tsv and stay out on resume.')
_define.float('max_megapixels', 50, 'The data check refuses images of more pixels (before '
              'decoding them; --skip_bad_images skips them); 0: no limit.', lower_bound=0)
_define.bool('allow_changed_data', False, 'Resume although files were added, removed, '
             'renamed or modified: codes stay with their files by name, new files get fresh '
             'codes (the checkpoint is rewritten).')
_define.string('cache_dir', None, 'Folder of the --input_cache=auto file (default '
               'RUN/input_cache); one beside the data can be shared by runs.')
# A cluster (docs/scaling.md). All unset (and no TF_CONFIG): one process.
_define.enum('cluster', 'auto', list(settings.CLUSTER_SOURCES), 'Where this '
             'process learns its place in a cluster: the host flags below, the TF_CONFIG '
             'variable (Kubeflow TFJob, Vertex AI, SageMaker), or Slurm\'s srun variables; '
             'auto: TF_CONFIG when it is set, else the flags.')
_define.integer('num_ps', 1, 'Parameter servers under --cluster slurm: the first ranks.')
_define.integer('cluster_port', 2222, 'Under --cluster slurm: task k of a node listens on '
                'this port + k.')
_define.float('ps_timeout_secs', 120, 'A worker waits this long for a parameter server '
              'that does not answer (at start, or lost while training), then stops.')
_define.list('ps_hosts', None, 'Parameter servers, host:port,...')
_define.list('worker_hosts', None, 'Workers, host:port,...; worker 0 is the chief.')
_define.enum('job_name', None, ['ps', 'worker'], 'Role of this process in the cluster.')
_define.integer('task_index', 0, 'Index of this process in its job\'s host list.')
_define.bool('sync_replicas', False, 'Synchronous updates (one gradient per worker per '
             'step); asynchronous by default.')
_define.integer('codes_shards', None, 'Row blocks of the codes table on a cluster (default: '
                'one per parameter server).')
common.define_settings_flags(FLAGS)


def deterministic_from_environment(overrides, environ=None):
  """`overrides` with deterministic=True when TF_DETERMINISTIC_OPS is set (1 or true).

  TensorFlow then requires a seed of every random op ('Random ops require a seed'), which
  only --deterministic gives (a graph seed), so the variable is taken as that flag, and
  said so.
  Raises:
    settings.ConfigError: --deterministic=false was given as well.
  """
  value = (os.environ if environ is None else environ).get('TF_DETERMINISTIC_OPS', '')
  if value.strip().lower() not in ('1', 'true'):
    return overrides
  if overrides.get('deterministic') is False:
    raise settings.ConfigError(
        '--deterministic=false: TF_DETERMINISTIC_OPS=%s is set in the environment, which '
        'makes TensorFlow require a seed of every random op; unset TF_DETERMINISTIC_OPS, or '
        'drop --nodeterministic' % value)
  if overrides.get('deterministic') is None:
    print('note: TF_DETERMINISTIC_OPS=%s is set in the environment: training as with '
          '--deterministic (TensorFlow then needs the graph seed it gives).' % value)
  return dict(overrides, deterministic=True)


def prepare_options(flag_values, chief=True):
  """The keyword arguments of loop.prepare_run that the flags give."""
  overrides = deterministic_from_environment(common.settings_overrides(flag_values))
  return dict(run_dir=flag_values.run_dir, data_dir=flag_values.data_dir,
              file_list=flag_values.file_list, preset=flag_values.preset,
              overrides=overrides, chief=chief,
              skip_data_check=flag_values.skip_data_check,
              skip_bad_images=flag_values.skip_bad_images,
              max_pixels=int(flag_values.max_megapixels * 1e6),
              allow_changed_data=flag_values.allow_changed_data)


# The exit status of each way a run can end (training/launch.py's Outcome).
EXIT_STATUS = {'done': 0, 'nonfinite': common.EXIT_NONFINITE,
               'fault': common.EXIT_TRAINING_FAULT, 'interrupted': common.EXIT_INTERRUPTED}


def main(fv):
  # The cluster first: resolvers needs no TensorFlow, so a bad launch is refused at once.
  from glo_tf1.training import resolvers  # pylint: disable=import-outside-toplevel
  cluster = resolvers.resolve(fv.cluster, os.environ, fv.ps_hosts, fv.worker_hosts,
                              fv.job_name, fv.task_index, fv.sync_replicas, fv.codes_shards,
                              num_ps=fv.num_ps, port=fv.cluster_port,
                              ps_timeout_secs=fv.ps_timeout_secs)
  options = prepare_options(fv)
  from glo_tf1.training import launch  # pylint: disable=import-outside-toplevel
  del options['chief']  # launch.run knows it from the cluster
  outcome = launch.run(cluster=cluster, cache_dir=fv.cache_dir, **options)
  if outcome.status == 'done':
    print(outcome.message)
  else:
    print('error: %s' % outcome.message if outcome.status != 'interrupted'
          else outcome.message, file=sys.stderr)
  return EXIT_STATUS[outcome.status]


def run():
  common.run_program(FLAGS, main, __doc__)


if __name__ == '__main__':
  run()
