"""Bit-identical reruns with --deterministic, provenance in the run directory, and what
TensorBoard shows: two tiny runs of the same command (run at the same time, so their
thread timings differ), compared variable by variable and figure by figure."""
import concurrent.futures
import importlib.metadata
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import ROOT
from conftest import TINY
from conftest import run_main
from conftest import run_module
from conftest import write_index_images
from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.compat import TF_VERSION
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.evaluation import curves
from glo_tf1.rundir import provenance as run_provenance
from glo_tf1.version import __version__

STEPS = 30
NUM_FILES, NUM_SAMPLES = 48, 40  # --num_samples keeps the first 40 of the sorted list


def _parallel(fn, args):
  with concurrent.futures.ThreadPoolExecutor(len(args)) as pool:
    return list(pool.map(fn, args))


@pytest.fixture(scope='module')
def twins(tmp_path_factory):
  data = str(tmp_path_factory.mktemp('data'))
  names = write_index_images(data, NUM_FILES, size=20)
  root = tmp_path_factory.mktemp('twins')
  runs = [str(root / 'a'), str(root / 'b')]
  _parallel(lambda run: run_module(
      'glo_tf1.cli.train', '--data_dir', data, '--run_dir', run, '--num_steps=%d' % STEPS,
      '--deterministic', '--num_samples=%d' % NUM_SAMPLES, *TINY), runs)
  return {'data': data, 'names': names, 'runs': runs}


@pytest.mark.e2e
def test_deterministic_reruns_give_bit_identical_checkpoints(twins):
  a, b = [tf.train.load_checkpoint(os.path.join(r, 'model.ckpt-%d' % STEPS))
          for r in twins['runs']]
  names = sorted(a.get_variable_to_shape_map())
  assert names == sorted(b.get_variable_to_shape_map())
  assert {'codes', 'codes/Adam', 'codes/Adam_1', 'global_step',
          'decoder/deconv1/weights', 'decoder/deconv1/BatchNorm/moving_mean'} <= set(names)
  for name in names:
    x, y = a.get_tensor(name), b.get_tensor(name)
    assert x.dtype == y.dtype and x.shape == y.shape, name
    assert x.tobytes() == y.tobytes(), name  # bit for bit
  assert a.get_tensor('global_step') == STEPS
  assert a.get_tensor('codes').shape == (NUM_SAMPLES, 8)


@pytest.mark.e2e
def test_deterministic_reruns_give_identical_figures(twins, tmp_path):
  outs = [str(tmp_path / 'a'), str(tmp_path / 'b')]
  for run, out in zip(twins['runs'], outs):  # in this process, one after the other
    run_main('glo_tf1.cli.figures', '--run_dir', run, '--out_dir', out)
  written = sorted(os.listdir(outs[0]))
  assert written == sorted(os.listdir(outs[1]))
  pngs = [f for f in written if f.endswith('.png')]
  assert {'reconstructions.png', 'samples.png', 'interpolation.png',
          'nearest_neighbours.png', 'loss.png'} <= set(pngs)
  for name in written:
    with open(os.path.join(outs[0], name), 'rb') as f, \
        open(os.path.join(outs[1], name), 'rb') as g:
      assert f.read() == g.read(), name


def test_seeded_initialisers_are_independent_streams():
  """One op seed for every initializer would give codes and layers the same numbers."""
  cfg = settings.resolve('demo', {'deterministic': True, 'image_size': 16, 'latent_dims': 8,
                                'decoder_filters': [16, 8], 'batch_size': 8})
  with tf.Graph().as_default():
    tf.set_random_seed(cfg['seed'])  # as loop.build_training does
    index = tf.constant(np.arange(8, dtype=np.int32))
    from glo_tf1.deploy import devices  # pylint: disable=import-outside-toplevel
    from glo_tf1.model import towers  # pylint: disable=import-outside-toplevel
    model = towers.build_training_graph(
        cfg, [{'image': tf.zeros([8, 16, 16, 3]), 'index': index}], 400, devices.deployment(cfg))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      values = [sess.run(v).ravel() for v in
                [model['codes']] + tf.trainable_variables('decoder/deconv')
                if 'weights' in v.op.name or v.op.name == 'codes']
  n = min(len(v) for v in values)
  for i in range(len(values)):
    for j in range(i):
      assert abs(np.corrcoef(values[i][:n], values[j][:n])[0, 1]) < 0.3


@pytest.mark.e2e
def test_provenance_names_versions_commit_devices_seed_and_config(twins):
  run = twins['runs'][0]
  with open(os.path.join(run, rundir.PROVENANCE_NAME)) as f:
    prov = json.load(f)
  with open(os.path.join(run, rundir.CONFIG_NAME)) as f:
    assert prov['config'] == json.load(f)
  import numpy  # pylint: disable=import-outside-toplevel
  import tensorflow  # pylint: disable=import-outside-toplevel
  assert prov['glo_tf1_version'] == __version__
  assert prov['tensorflow_version'] == tensorflow.__version__ == TF_VERSION
  assert prov['tf_slim_version'] == importlib.metadata.version('tf-slim')
  assert prov['numpy_version'] == numpy.__version__
  assert any('CPU:0' in d for d in prov['devices'])
  assert prov['towers'] == '1 tower on /cpu:0' and prov['precision'] == 'fp32'
  assert prov['seed'] == 0 and prov['deterministic'] is True and prov['preset'] == 'demo'
  assert prov['num_images'] == NUM_SAMPLES
  head = subprocess.run(['git', '-C', ROOT, 'rev-parse', 'HEAD'], capture_output=True,
                        text=True, check=False).stdout.strip()
  if head:
    assert prov['git_commit'] in (head, head + '-dirty')
  # --num_samples: the first 40 files of the sorted list, as the manifest records.
  manifest = files.read_manifest(os.path.join(run, files.MANIFEST_NAME))
  assert [n for _, n, _, _ in manifest] == twins['names'][:NUM_SAMPLES]


@pytest.mark.e2e
def test_evaluate_copies_provenance_into_its_report(twins):
  from glo_tf1.evaluation import report as evaluate  # pylint: disable=import-outside-toplevel
  run = twins['runs'][0]
  report = evaluate.evaluate(run, steps=1, max_images=4)
  with open(os.path.join(run, rundir.PROVENANCE_NAME)) as f:
    assert report['provenance'] == json.load(f)


def test_resume_appends_to_provenance(tmp_path):
  cfg = settings.resolve('demo')
  run = str(tmp_path)
  run_provenance.record_provenance(run, cfg, run, 3, resumed=False)
  run_provenance.record_provenance(run, cfg, run, 3, resumed=True)
  with open(os.path.join(run, rundir.PROVENANCE_NAME)) as f:
    prov = json.load(f)
  assert len(prov['resumes']) == 1
  assert prov['resumes'][0]['tensorflow_version'] == TF_VERSION


@pytest.mark.e2e
def test_tensorboard_shows_losses_learning_rates_speed_and_image_grids(twins):
  from tensorboard.backend.event_processing import event_accumulator as ea  # pylint: disable=import-outside-toplevel
  acc = ea.EventAccumulator(twins['runs'][0], size_guidance={ea.SCALARS: 0, ea.IMAGES: 0})
  acc.Reload()
  tags = acc.Tags()
  # TINY: scalars every 5 steps, images every 10, progress every 10; the summary hooks
  # log at the step a run starts (1), then every N steps after it; scalars and images
  # also at the last step.
  scalar_steps = list(range(1, STEPS, 5)) + [STEPS]
  for tag in (curves.LOSS_TAG, 'loss_tower_0', 'learning_rate/network', 'learning_rate/codes'):
    assert [e.step for e in acc.Scalars(tag)] == scalar_steps, tag
  assert all(e.value == pytest.approx(1e-3) for e in acc.Scalars('learning_rate/network'))
  assert all(e.value == pytest.approx(1e-3) for e in acc.Scalars('learning_rate/codes'))
  losses = [e.value for e in acc.Scalars(curves.LOSS_TAG)]
  assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
  speed = acc.Scalars('perf/images_per_sec')
  assert [e.step for e in speed] == [10, 20, 30] and all(e.value > 0 for e in speed)
  side = 16
  expected = {'reconstruction': (10 * side, 5 * side),  # 5 rows of 5 original|recon pairs
              'samples/samples/sampled_unit': (5 * side, 5 * side),
              'samples/samples/sampled_fitted': (5 * side, 5 * side),
              'samples/samples/interpolated': (5 * side, 5 * side)}
  for name, (width, height) in expected.items():
    (tag,) = [t for t in tags['images'] if t.startswith(name + '/image')]
    events = acc.Images(tag)
    assert [e.step for e in events] == [1, 11, 21, STEPS], tag  # and the last step's
    assert all((e.width, e.height) == (width, height) for e in events), tag
  steps, values = curves.read_scalars(twins['runs'][0], curves.LOSS_TAG)
  assert list(steps) == scalar_steps and np.allclose(values, losses)


def test_loss_curve_of_a_run_without_events_names_the_run(tmp_path):
  with pytest.raises(curves.NoEventsError, match=str(tmp_path)):
    curves.read_scalars(str(tmp_path), curves.LOSS_TAG)
