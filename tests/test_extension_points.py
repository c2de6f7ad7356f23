"""The extension points of docs/layout.md ("How to extend it"), proved end to end: a toy
decoder, a toy loss with its own hyper-parameter (a setting: one settings.add_setting
call), a toy metric and a toy sampler added through their registries alone (and the
decoder's name in settings.CHOICES) train, evaluate through glo-evaluate and make a
glo-compare table, with no other change: the report's sections, rows and columns are
derived from the registries (evaluation/metrics.py)."""
import json
import os

import numpy as np
import pytest

from conftest import write_index_images
from glo_tf1 import settings
from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.evaluation import compare
from glo_tf1.evaluation import compare_render
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import report as report_lib
from glo_tf1.cli import common
from glo_tf1.cli import evaluate as cli_evaluate
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import trained
from glo_tf1.model import decoders
from glo_tf1.model import losses
from glo_tf1.model import samplers
from glo_tf1.training import launch


def toy_arg_scope(is_training, normalizer, batch_norm_decay):  # pylint: disable=unused-argument
  with slim.arg_scope([slim.fully_connected]) as scope:
    return scope


def toy_network(latent_z, image_size, num_filters, kernel_size, reuse=None, channels=3):  # pylint: disable=unused-argument
  """One dense layer to the image, under the decoder's scope (the registry's contract)."""
  with tf.variable_scope(decoders.SCOPE, reuse=reuse):
    flat = slim.fully_connected(latent_z, image_size * image_size * channels,
                                activation_fn=tf.tanh, scope='dense')
    return tf.reshape(flat, [-1, image_size, image_size, channels])


class _MaeAccumulator:

  def __init__(self):
    self.total, self.count, self.images = 0.0, 0, 0

  def add(self, images, outputs):
    self.total += float(np.abs(np.asarray(images, np.float64) - outputs).sum())
    self.count += np.size(outputs)
    self.images += len(outputs)

  def values(self):
    return {'num_images': self.images, 'mae': self.total / self.count}


class ToyMae(metrics.Metric):
  """Mean absolute pixel error on [-1, 1], of the learned codes' reconstructions."""
  name = 'toy_mae'
  pairs = True
  columns = (metrics.Column('mae', 'MAE [-1,1]', 'MAE', '%.4f', 'MAE on [-1, 1]'),)
  applies = {'train': ('learned',)}
  tag = 'MAE'

  def accumulator(self, context):  # pylint: disable=unused-argument
    return _MaeAccumulator()


def toy_huber_loss(images, recon, delta, seen):
  """The Huber loss of the pixel errors, quadratic within `delta` (the toy loss's own
  hyper-parameter, read from the config by its LOSSES line)."""
  seen.append(delta)
  return tf.losses.huber_loss(images, recon, delta=delta)


# A toy sampler: the codes' mean, flipped (its file: this function and its words).
def toy_sampler(noise, diagonal, full):  # pylint: disable=unused-argument
  return -diagonal['mean'][None, :] + 0.5 * noise * diagonal['scale'][None, :]


class ToyPixelSpread(metrics.Metric):
  """The standard deviation of the outputs' pixels (any image set, samples included)."""
  name = 'toy_spread'
  columns = (metrics.Column('pixel_std', 'pixel std', 'std', '%.4f', 'pixel std'),)
  applies = {'samples': ('samplers',)}
  tag = 'spread'

  def accumulator(self, context):
    return _SpreadAccumulator()


class _SpreadAccumulator:

  def __init__(self):
    self.outputs = []

  def add(self, images, outputs):  # pylint: disable=unused-argument
    self.outputs.append(np.asarray(outputs, np.float64))

  def values(self):
    out = np.concatenate(self.outputs)
    return {'num_images': len(out), 'pixel_std': float(out.std())}


def _flags(argv):
  """glo-evaluate's flags parsed from `argv` (unparsed again by the caller)."""
  common.parse(cli_evaluate.FLAGS, argv, False)
  return cli_evaluate.FLAGS


@pytest.mark.e2e
def test_a_toy_decoder_metric_and_sampler_train_evaluate_and_tabulate(tmp_path, monkeypatch):
  monkeypatch.setitem(decoders.DECODERS, 'toy', (toy_arg_scope, toy_network))
  monkeypatch.setitem(settings.CHOICES, 'decoder', settings.CHOICES['decoder'] + ('toy',))
  monkeypatch.setitem(metrics.METRICS, 'toy_mae', ToyMae())
  monkeypatch.setitem(metrics.METRICS, 'toy_spread', ToyPixelSpread())
  monkeypatch.setitem(samplers.SAMPLER_FNS, 'toy', samplers.Sampler(
      toy_sampler, 'flipped mean', 'flipped'))
  deltas = []  # the toy loss's hyper-parameter, as each graph that built the loss saw it
  monkeypatch.setitem(losses.LOSSES, 'toy_huber', lambda images, recon, cfg: toy_huber_loss(
      images, recon, cfg['toy_huber_delta'], deltas))
  monkeypatch.setitem(settings.CHOICES, 'loss', settings.CHOICES['loss'] + ('toy_huber',))
  settings.add_setting('toy_huber_delta', 1.0, 'float', 'The toy Huber loss\'s delta.',
                       low=0.0, open=True, setitem=monkeypatch.setitem)
  data, run = str(tmp_path / 'data'), str(tmp_path / 'run')
  write_index_images(data, 12)
  out = launch.run(run, data, preset='demo', handle_signals=False, overrides={
      'decoder': 'toy', 'image_size': 16, 'latent_dims': 8, 'batch_size': 4,
      'num_steps': 40, 'shuffle_capacity': 16, 'min_after_dequeue': 4,
      'num_reader_threads': 1, 'learning_rate': 0.01, 'codes_learning_rate': 0.01,
      'loss': 'toy_huber', 'toy_huber_delta': 0.05})
  assert out.status == 'done' and out.step == 40
  names = [n for n, _ in tf.train.list_variables(tf.train.latest_checkpoint(run))]
  assert 'decoder/dense/weights' in names  # the toy network was the one trained
  assert deltas and set(deltas) == {0.05}  # the toy loss trained, with the run's delta
  with open(os.path.join(run, 'config.json')) as f:
    saved = json.load(f)
  assert saved['loss'] == 'toy_huber' and saved['toy_huber_delta'] == 0.05
  del deltas[:]

  # Through glo-evaluate (in process: the registries are this process's), FID off.
  out_dir = str(tmp_path / 'eval')
  try:
    assert cli_evaluate.main(_flags(['glo-evaluate', '--run_dir', run, '--steps=3',
                                     '--max_images=8', '--nopca', '--nofid', '--out_dir',
                                     out_dir])) == 0
  finally:
    cli_evaluate.FLAGS.unparse_flags()
  with open(os.path.join(out_dir, 'evaluation.json')) as f:
    report = json.load(f)
  s = report['sections']
  mae_name = 'toy_mae_train_learned'
  assert sorted(s) == sorted(['train_learned', 'train_learned_batch_stats', 'train', mae_name])
  mae, mse = s[mae_name]['mae'], s['train_learned']['mse_pm1']
  # Over the same pixels: 0 < mean |e| <= sqrt(mean e^2) (Cauchy-Schwarz), whatever the model.
  assert s[mae_name]['num_images'] == s['train_learned']['num_images'] == 8
  assert 0 < mae <= np.sqrt(mse) + 1e-9
  assert s[mae_name]['steps'] is None and s['train']['steps'] == 3  # one type: int or null
  with open(os.path.join(out_dir, 'evaluation.md')) as f:
    md = f.read()
  assert '| training images, learned codes (MAE) | 8 | trained |' in md
  assert 'MAE [-1,1]' in md and '%.4f' % mae in md

  json_path = os.path.join(out_dir, 'evaluation.json')
  table = compare.build_table([json_path], metrics=['mae'])
  assert [compare_render.header(c) for c in table['columns']] == [('train, learned codes', 'MAE')]
  assert '%.4f' % mae in compare_render.render(table, 'markdown')
  assert 'MAE on [-1, 1].' in compare_render.render(table, 'markdown')  # the declared unit

  # The toy sampler: built into the generation graph from its registry line, measured by
  # the toy metric in a section of its own, with the registry's words in its row.
  names = ['toy_spread_samples_%s' % s for s in ('unit', 'fitted', 'full', 'toy')]
  assert not set(names) & set(s)  # glo-evaluate draws samples with FID only: none above
  image_sets = {'samples': report_lib.ImageSet('samples', 4, num_samples=6, dims=8,
                                               rng=np.random.RandomState(0))}
  with trained.load(run) as loaded:
    codes = loaded.codes()
    recons = report_lib.reconstructors(loaded.session, loaded.ops, loaded.fit,
                                       loaded.cfg, 12, 0)
    measured = report_lib.measure(image_sets, recons, {}, None)
    noise = np.random.RandomState(0).standard_normal((6, 8))
    want = generation.decode_codes(loaded.session, loaded.ops, -codes.mean(0) + 0.5 * noise *
                                   codes.std(0))
  assert list(measured) == names
  assert measured['toy_spread_samples_toy']['num_images'] == 6
  assert measured['toy_spread_samples_toy']['pixel_std'] == pytest.approx(want.std(), rel=1e-4)
  labels = {s.name: s.label for s in report_lib.SECTIONS}
  assert labels['toy_spread_samples_toy'] == 'samples, flipped mean (spread)'
