"""The contract of every registered metric (evaluation/metrics.METRICS) and sampler
(model/samplers.SAMPLER_FNS): what report.evaluate and glo-compare rely on, so a new entry
that breaks it fails here, not in a report."""
import numpy as np
import pytest

from glo_tf1.compat import tf
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import report
from glo_tf1.evaluation.fid import stats
from glo_tf1.model import samplers

from test_feature_metrics import _Context  # pylint: disable=wrong-import-order


def _images(seed, n):
  return np.random.RandomState(seed).uniform(-1, 1, (n, 4, 4, 3))


def _context(kind, seed=0):
  """A metric's context: none, or an Inception context of a fixed projection whose
  references are 20 training and 15 held-out images."""
  if kind is None:
    return None
  assert kind == 'inception', 'a new context kind: give the contract test its context'
  context = _Context({}, seed=seed)
  for name, n, s in (('train', 20, 1), ('heldout', 15, 2)):
    feats = context.features(_images(s, n))
    context.references[name] = dict(stats.with_features(feats), num_images=n)
  return context


def _measure(metric, image_set, recon, seed=0):
  acc = metric.accumulator(_context(metric.context, seed))
  if recon == 'real':
    acc.use_reference('heldout')
    return acc.values()
  for i, n in enumerate((7, 4)):  # two batches
    outputs = _images(10 + i, n)
    acc.add(_images(20 + i, n) if metric.pairs else None, outputs)
  return acc.values()


@pytest.mark.parametrize('name', list(metrics.METRICS))
def test_every_metric_keeps_the_contract(name):
  metric = metrics.METRICS[name]
  assert metric.name == name and metric.columns and metric.applies
  assert any(c.unit for c in metric.columns), 'say what the numbers are (a unit)'
  assert metric.cost, 'say what it costs'
  if metric.context == 'inception':  # its part of glo-evaluate's estimate, growing with n
    rates = {'gflops': 10., 'element_s': 1e-9, 'cube_s': 5e-8, 'eigh_s': 2.}
    refs = {'train': 100, 'heldout': 100}
    assert metric.label and 0 < metric.seconds(100, refs, rates) < metric.seconds(
        3000, refs, rates)
  for c in metric.columns:
    assert c.key and c.header and c.short and isinstance(c.fmt % 1.5, str)
  sections = [s for s in metrics.sections() if s.metric == name]
  assert len(sections) == sum(len(metrics.expand(r)) for r in metric.applies.values())
  for s in sections:
    assert s.image_set in metrics.IMAGE_SETS and s.label and s.short
    values = _measure(metric, s.image_set, s.reconstructor)
    want = 15 if s.reconstructor == 'real' else 11
    assert values['num_images'] == want, s
    skipped = {'fid_heldout', 'kid_heldout'} if s.reconstructor == 'real' else set()
    for c in metric.columns:
      if c.key in skipped:  # a reference is not measured against itself
        assert c.key not in values
        continue
      assert c.key in values, (s.name, c.key)
      assert np.isfinite(values[c.key]), (s.name, c.key)
      if c.nonnegative:
        assert values[c.key] >= 0 or c.key.startswith('kid')
        assert not metrics.shown(c.key, values[c.key], c.fmt).startswith('-')
    again = _measure(metric, s.image_set, s.reconstructor)
    assert again == values, 'the same images and seed give the same numbers'


def test_section_names_columns_and_labels_are_unique_where_they_must_be():
  cols = [c.key for c in metrics.columns()]
  assert len(cols) == len(set(cols))
  by_name = {}
  for s in metrics.sections():
    by_name.setdefault(s.name, set()).add((s.label, s.short, s.image_set, s.reconstructor))
  assert all(len(v) == 1 for v in by_name.values()), 'one section name, one row'
  labels = [next(iter(v))[0] for v in by_name.values()]
  assert len(labels) == len(set(labels))
  assert list(dict.fromkeys(s.name for s in report.SECTIONS)) == list(metrics.section_order())


@pytest.mark.parametrize('name', list(samplers.SAMPLER_FNS))
def test_every_sampler_keeps_the_contract(name):
  """[B, dims] noise -> [B, dims] finite codes, the same for the same noise (a seed), its
  words for the report's rows, and a samples row of every metric that measures samples."""
  sampler = samplers.SAMPLER_FNS[name]
  assert sampler.label and sampler.short
  rng = np.random.RandomState(0)
  codes = rng.randn(30, 5).astype(np.float32) * 0.3 + 1.0
  noise = np.random.RandomState(7).standard_normal((9, 5)).astype(np.float32)
  with tf.Graph().as_default():
    c = tf.constant(codes)
    z = samplers.sample_codes(tf.constant(noise), name, samplers.fit_diagonal_gaussian(c),
                              samplers.fit_full_gaussian(c))
    with tf.Session() as sess:
      first, second = sess.run(z), sess.run(z)
  assert first.shape == (9, 5) and np.isfinite(first).all()
  np.testing.assert_array_equal(first, second)
  rows = [s for s in metrics.sections() if s.image_set == 'samples' and s.reconstructor == name]
  want = [m for m in metrics.METRICS.values() if 'samples' in m.applies]
  assert len(rows) == len(want) and all(sampler.label in s.label for s in rows)


def test_every_section_has_the_documented_keys_and_steps_is_an_integer_or_null():
  """docs/evaluation.md: every section gives num_images and steps (the code steps of
  fitted codes, null where none are fitted), whatever its metric and reconstructor."""
  rng = np.random.RandomState(0)
  load = lambda paths: _images(len(paths), len(paths))
  image_sets = {
      'train': report.ImageSet('training images', 4, ['a'] * 6, np.arange(6), rng=rng),
      'heldout': report.ImageSet('held-out images', 4, ['b'] * 5, rng=rng),
      'samples': report.ImageSet('samples', 4, num_samples=6, dims=3, rng=rng),
      'fid_heldout': report.ImageSet('held-out reference', 4, reference='heldout')}
  fake = lambda b: _images(b.start, b.end - b.start)
  recons = {'learned': (fake, {'steps': None}), 'optimised': (fake, {'steps': 5}),
            'learned_batch_stats': (fake, {'steps': None}), 'pca': (fake, {}),
            'real': (None, {})}
  recons.update({s: (fake, {}) for s in samplers.SAMPLER_FNS})
  sections = report.measure(image_sets, recons, {'inception': _context('inception')}, load)
  want = [s.name for s in metrics.sections() if s.image_set in image_sets]
  assert list(sections) == list(dict.fromkeys(want))
  for name, values in sections.items():
    assert 'num_images' in values and 'steps' in values, name
    steps = values['steps']
    assert steps is None or isinstance(steps, int) and not isinstance(steps, bool), name
  assert sections['train']['steps'] == sections['heldout']['steps'] == 5
  assert sections['train_learned']['steps'] is None and sections['pca_train']['steps'] is None
  md = report.markdown({'sections': sections, 'config': {
      'preset': 'demo', 'seed': 0, 'loss': 'mse', 'codes_optimizer': 'adam',
      'codes_learning_rate': 0.001}, 'glo_tf1_version': 'x', 'step': 1, 'seed': 0,
                        'protocol': {'steps': 5, 'batch_size': 4}, 'provenance': {}})
  assert '| training images, learned codes | 6 | trained |' in md
  assert '| training images, PCA (linear baseline) | 6 |  |' in md
  assert 'not comparable with theirs' in md  # precision/recall's VGG-16 remark
