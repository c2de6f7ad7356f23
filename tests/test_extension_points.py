"""The extension points of docs/layout.md ("How to extend it"), proved end to end: a toy
decoder and a toy metric added through their registries alone (and the decoder's name in
settings.CHOICES) train, evaluate and make a glo-compare table, with no other change."""
import numpy as np
import pytest

from conftest import write_index_images
from glo_tf1 import settings
from glo_tf1.compat import slim
from glo_tf1.compat import tf
from glo_tf1.evaluation import compare
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import report as report_lib
from glo_tf1.model import decoders
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


class ToyMae:
  """Mean absolute pixel error on [-1, 1]."""
  name = 'toy_mae'
  pairs = True
  columns = (metrics.Column('mae', 'MAE [-1,1]', 'MAE', '%.4f'),)

  def accumulator(self, context):  # pylint: disable=unused-argument
    return _MaeAccumulator()


@pytest.mark.e2e
def test_a_toy_decoder_and_a_toy_metric_train_evaluate_and_tabulate(tmp_path, monkeypatch):
  monkeypatch.setitem(decoders.DECODERS, 'toy', (toy_arg_scope, toy_network))
  monkeypatch.setitem(settings.CHOICES, 'decoder', settings.CHOICES['decoder'] + ('toy',))
  monkeypatch.setitem(metrics.METRICS, 'toy_mae', ToyMae())
  monkeypatch.setattr(report_lib, 'SECTIONS', report_lib.SECTIONS + (
      report_lib.Section('train_learned_mae', 'training images, learned codes (MAE)',
                         'train, learned', 'train', 'learned', 'toy_mae'),))
  data, run = str(tmp_path / 'data'), str(tmp_path / 'run')
  write_index_images(data, 12)
  out = launch.run(run, data, preset='demo', handle_signals=False, overrides={
      'decoder': 'toy', 'image_size': 16, 'latent_dims': 8, 'batch_size': 4,
      'num_steps': 40, 'shuffle_capacity': 16, 'min_after_dequeue': 4,
      'num_reader_threads': 1, 'learning_rate': 0.01, 'codes_learning_rate': 0.01})
  assert out.status == 'done' and out.step == 40
  names = [n for n, _ in tf.train.list_variables(tf.train.latest_checkpoint(run))]
  assert 'decoder/dense/weights' in names  # the toy network was the one trained

  report = report_lib.evaluate(run, steps=3, max_images=8, pca_max_images=None)
  s = report['sections']
  assert list(s) == ['train_learned', 'train_learned_batch_stats', 'train', 'train_learned_mae']
  mae, mse = s['train_learned_mae']['mae'], s['train_learned']['mse_pm1']
  # Over the same pixels: 0 < mean |e| <= sqrt(mean e^2) (Cauchy-Schwarz), whatever the model.
  assert s['train_learned_mae']['num_images'] == s['train_learned']['num_images'] == 8
  assert 0 < mae <= np.sqrt(mse) + 1e-9
  md = report_lib.markdown(report)
  assert '| training images, learned codes (MAE) | 8 | trained |' in md
  assert 'MAE [-1,1]' in md and '%.4f' % mae in md

  json_path, _ = report_lib.write_report(report, str(tmp_path / 'eval'))
  table = compare.build_table([json_path], metrics=['mae'])
  assert [compare.header(c) for c in table['columns']] == [('train, learned', 'MAE')]
  assert '%.4f' % mae in compare.render(table, 'markdown')
