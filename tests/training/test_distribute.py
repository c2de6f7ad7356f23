"""The distribution seam (training/distribute.py): one process and a cluster worker answer
the training loop's questions through one interface, and the loop never asks which."""
import ast
import inspect

import pytest

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.model import codes as codes_lib
from glo_tf1.training import cluster
from glo_tf1.training import distribute
from glo_tf1.training import launch
from glo_tf1.training import loop

PS = ['127.0.0.1:2220', '127.0.0.1:2221']
WORKERS = ['127.0.0.1:2222', '127.0.0.1:2223']
PATHS = ['/images/%03d.png' % i for i in range(10)]
CFG = dict(image_size=16, latent_dims=8, decoder_filters=[16, 8], batch_size=4,
           save_images_steps=0)


def _build(strategy, cfg):
  with tf.Graph().as_default() as graph, strategy.device_scope():
    model, scaffold, hooks, _ = loop.build_training(cfg, PATHS, '/nonexistent/run',
                                                    strategy=strategy)
    names = [type(h).__name__ for h in hooks]
    codes_devices = sorted(b.device for b in codes_lib.parts(model['codes']))
    return graph, model, scaffold, names, codes_devices


def test_for_cluster_picks_the_role():
  assert distribute.for_cluster(None) is distribute.LOCAL
  chief = distribute.for_cluster(cluster.parse(PS, WORKERS, 'worker', 0))
  other = distribute.for_cluster(cluster.parse(PS, WORKERS, 'worker', 1))
  server = distribute.for_cluster(cluster.parse(PS, WORKERS, 'ps', 1))
  assert type(chief) is distribute.Worker and chief.is_chief
  assert type(other) is distribute.Worker and not other.is_chief
  assert isinstance(server, distribute.ParameterServer)
  assert distribute.LOCAL.is_chief and distribute.LOCAL.handles_signals
  assert chief.handles_signals and not server.handles_signals


def test_local_builds_one_table_a_plain_saver_and_the_writers_hooks():
  graph, model, scaffold, hooks, _ = _build(distribute.LOCAL, settings.resolve('demo', CFG))
  assert not codes_lib.is_partitioned(model['codes'])
  assert not scaffold.saver._sharded  # pylint: disable=protected-access
  assert 'CheckpointSaverHook' in hooks and 'StartBarrierHook' not in hooks
  assert not any(op.device.startswith('/job:') for op in graph.get_operations())


@pytest.mark.parametrize('task, sync', [(0, False), (1, True)])
def test_worker_partitions_codes_shards_the_saver_and_adds_its_hooks(task, sync):
  c = cluster.parse(PS, WORKERS, 'worker', task, sync_replicas=sync, codes_shards=3)
  strategy = distribute.for_cluster(c)
  _, model, scaffold, hooks, codes_devices = _build(strategy, settings.resolve('demo', CFG))
  assert len(codes_lib.parts(model['codes'])) == 3
  assert all(d.startswith('/job:ps/') for d in codes_devices), codes_devices
  assert scaffold.saver._sharded  # pylint: disable=protected-access
  assert hooks[-2:] == ['StartBarrierHook', 'StopAtStepHook']
  assert ('_SyncReplicasOptimizerHook' in hooks) == sync
  # Only the chief writes checkpoints and summaries.
  assert ('CheckpointSaverHook' in hooks) == (task == 0)
  assert ('SummarySaverHook' in hooks) == (task == 0)
  assert strategy.exact_step_after(model['train_op']) is None


def test_worker_refuses_the_input_cache():
  strategy = distribute.for_cluster(cluster.parse(PS, WORKERS, 'worker', 0))
  with pytest.raises(settings.ConfigError, match='--input_cache'):
    strategy.check(settings.resolve('demo', dict(CFG, input_cache='auto')), '/images',
                   PATHS)


@pytest.mark.parametrize('function', [loop.train, loop.build_training, launch.run,
                                      launch._run])  # pylint: disable=protected-access
def test_the_training_cell_does_not_branch_on_a_cluster(function):
  """The seam holds: no name `cluster` is read in the loop's functions (launch.run only
  hands its argument to distribute.for_cluster)."""
  tree = ast.parse(inspect.getsource(function).lstrip())
  reads = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == 'cluster'
           and isinstance(n.ctx, ast.Load)]
  allowed = 1 if function is launch.run else 0
  assert len(reads) == allowed, [n.lineno for n in reads]
  assert len(inspect.getsource(function).splitlines()) < 60
