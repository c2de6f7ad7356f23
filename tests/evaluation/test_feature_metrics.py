"""KID, precision/recall and memorisation (fid/distances.py) against brute-force numpy
computations written another way (double loops, full sorts), and their properties; a FID
that is never negative in a report."""
import numpy as np
import pytest

from glo_tf1.evaluation import compare_render
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation.fid import distances
from glo_tf1.evaluation.fid import stats


def _mmd2_loops(x, y):
  """The unbiased MMD^2 U-statistic, one kernel value at a time."""
  d = x.shape[1]
  k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3
  m, n = len(x), len(y)
  xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
  xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
  return xx + yy - 2 * xy


def _dist(a, b):
  return float(np.sqrt(np.sum((np.asarray(a, np.float64) - b) ** 2)))


def _radii_sorted(x, k):
  """The k-th nearest other point of each point, by a full sort of a double loop."""
  return np.array([sorted(_dist(x[i], x[j]) for j in range(len(x)) if j != i)[k - 1]
                   for i in range(len(x))])


def _inside(points, centres, radii):
  return np.mean([any(_dist(p, c) <= r for c, r in zip(centres, radii)) for p in points])


def test_kid_is_the_unbiased_mmd_of_the_cubic_kernel():
  rng = np.random.RandomState(0)
  x, y = rng.randn(9, 5), rng.randn(7, 5) + 0.3
  assert distances.mmd2_unbiased(x, y) == pytest.approx(_mmd2_loops(x, y), rel=1e-10)
  # Whole sets in every subset: one estimate, no spread.
  assert distances.kid(x[:7], y) == (pytest.approx(_mmd2_loops(x[:7], y), rel=1e-10), 0.0)
  # Subsets: the mean over the same seeded subsets, drawn here by hand.
  mean, std = distances.kid(x, y, num_subsets=5, subset_size=4, seed=3)
  r = np.random.RandomState(3)
  want = [_mmd2_loops(x[r.choice(9, 4, replace=False)], y[r.choice(7, 4, replace=False)])
          for _ in range(5)]
  assert (mean, std) == (pytest.approx(np.mean(want)), pytest.approx(np.std(want, ddof=1)))
  # The same subsets read from whole-set kernel matrices (small sets) or computed each.
  each = distances.kid(x, y, num_subsets=5, subset_size=4, seed=3, full_kernel_max=0)
  assert each == (pytest.approx(mean, rel=1e-10), pytest.approx(std, rel=1e-8))
  with pytest.raises(ValueError, match='at least 2'):
    distances.kid(x[:1], y)


def test_kid_of_two_samples_of_one_distribution_is_near_zero_and_of_two_is_not():
  rng = np.random.RandomState(1)
  x, y = rng.randn(400, 16), rng.randn(400, 16)  # disjoint samples of N(0, I)
  mean, std = distances.kid(x, y, num_subsets=50, subset_size=200, seed=0)
  assert std > 0 and abs(mean) < 3 * std
  shifted, _ = distances.kid(x, y + 1.0, num_subsets=50, subset_size=200, seed=0)
  assert shifted > 20 * std


def test_precision_and_recall_against_brute_force_knn():
  rng = np.random.RandomState(2)
  real, fake = rng.randn(12, 3), rng.randn(10, 3) + 0.8
  radii_real, radii_fake = _radii_sorted(real, 3), _radii_sorted(fake, 3)
  np.testing.assert_allclose(distances.knn_radii(real, 3), radii_real, rtol=1e-10)
  precision, recall = distances.precision_recall(real, fake, k=3)
  assert precision == pytest.approx(_inside(fake, real, radii_real))
  assert recall == pytest.approx(_inside(real, fake, radii_fake))
  assert 0 < precision < 1 and 0 < recall < 1  # the example tests both sides of a ball
  assert distances.precision_recall(real, real) == (1.0, 1.0)  # a set against itself
  far = distances.precision_recall(real, real + 100.)
  assert far == (0.0, 0.0)


def test_memorisation_against_brute_force_and_a_copied_training_set():
  rng = np.random.RandomState(3)
  train, heldout, fresh = rng.randn(60, 4), rng.randn(40, 4), rng.randn(50, 4)
  got = distances.memorisation(fresh, train, heldout)
  d_g = np.array([min(_dist(g, t) for t in train) for g in fresh])
  d_h = np.array([min(_dist(h, t) for t in train) for h in heldout])
  assert got['memorised_p5'] == pytest.approx(np.mean(d_g < np.percentile(d_h, 5)))
  assert got['memorised_median'] == pytest.approx(np.mean(d_g < np.median(d_h)))
  assert got['nn_train_median'] == pytest.approx(np.median(d_g))
  assert got['nn_heldout_median'] == pytest.approx(np.median(d_h))
  assert got['memorised_p5'] < 0.3 and 0.2 < got['memorised_median'] < 0.8  # as novel
  copied = distances.memorisation(train[rng.permutation(60)[:30]], train, heldout)
  assert copied['memorised_p5'] == 1.0 and copied['memorised_median'] == 1.0
  assert copied['nn_train_median'] == 0.0


class _Context(metrics.InceptionContext):
  """An InceptionContext whose "network" is a fixed projection of the pixels (no
  TensorFlow): the metrics see features, as they do of Inception."""

  def __init__(self, references, seed=0, dims=6):
    super().__init__(None, None, references, 'eigh', 50, seed)
    self.projection = np.random.RandomState(99).randn(4 * 4 * 3, dims)
    self.calls = 0

  def features(self, outputs):
    if self._last[0] is not outputs:
      self.calls += 1
      self._last = (outputs, np.asarray(outputs, np.float64).reshape(len(outputs), -1)
                    @ self.projection)
    return self._last[1]


def _reference(features):
  return dict(stats.with_features(features), num_images=len(features))


def test_a_fid_is_never_negative_in_a_report():
  """A set against itself: the Fréchet distance is 0 up to round-off, which can fall
  below 0 (issue 30 saw -5.7e-14); the report keeps 0.0 and prints 0.00, never -0.00."""
  rng = np.random.RandomState(4)
  images = rng.uniform(-1, 1, (30, 4, 4, 3))
  context = _Context({})
  feats = context.features(images)
  context.references = {'train': _reference(feats)}
  acc = metrics.METRICS['fid'].accumulator(context)
  acc.add(None, images)
  values = acc.values()
  assert values['fid_train'] == 0.0 and str(values['fid_train']) == '0.0'
  assert values['num_images'] == 30
  for tiny in (-5.7e-14, -0.0, -1e-9):
    assert metrics.shown('fid_train', tiny, '%.2f') == '0.00'
    assert metrics.shown('kid_train', tiny, '%.4f') == '0.0000'
    assert compare_render.cell([tiny], 'fid_train') == '0.00'
  assert compare_render.cell([tiny, 2 * tiny], 'fid_train') == '0.00'
  assert metrics.shown('mse_pm1', -1e-9, '%.5f') == '-0.00000'  # not a nonnegative column


def test_the_inception_metrics_share_one_feature_pass_per_batch():
  rng = np.random.RandomState(5)
  train, heldout = rng.uniform(-1, 1, (20, 4, 4, 3)), rng.uniform(-1, 1, (15, 4, 4, 3))
  context = _Context({})
  context.references = {'train': _reference(context.features(train)),
                        'heldout': _reference(context.features(heldout))}
  inception = [m for m in metrics.METRICS.values() if m.context == 'inception']
  assert {m.name for m in inception} >= {'fid', 'kid', 'precision_recall', 'memorisation'}
  accs = [m.accumulator(context) for m in inception]
  calls = context.calls
  for batch in (rng.uniform(-1, 1, (8, 4, 4, 3)), rng.uniform(-1, 1, (5, 4, 4, 3))):
    for acc in accs:
      acc.add(None, batch)
  assert context.calls == calls + 2  # one per batch, not one per metric
  values = {}
  for acc in accs:
    values.update(acc.values())
  assert values['num_images'] == 13
  assert values['kid_train_std'] >= 0 and 0 <= values['precision'] <= 1
  # Too few images for a k-th neighbour (or a KID pair): those cells are left empty, the
  # evaluation goes on.
  few = [m.accumulator(context) for m in inception]
  for acc in few:
    acc.add(None, rng.uniform(-1, 1, (3, 4, 4, 3)))
  values = {}
  for acc in few:
    values.update(acc.values())
  assert 'precision' not in values and 'kid_train' in values and 'fid_train' in values


@pytest.mark.e2e
def test_evaluate_reports_kid_precision_recall_and_memorisation(tiny_run, lfw_dir, tmp_path):
  """glo-evaluate with FID (held-out images: the training folder itself, enough for the
  columns and their bounds): the new metrics are columns of the FID rows, in the JSON and
  the markdown, from the one Inception pass; the held-out reference is measured against
  the training one only."""
  from glo_tf1.evaluation import fid  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import report  # pylint: disable=import-outside-toplevel
  try:
    fid.load_network()
  except fid.FidUnavailable as e:
    pytest.skip('FID weights not installed: %s' % e)
  report_dict = report.evaluate(tiny_run, lfw_dir, steps=0, max_images=5, seed=0,
                                fid_num_images=8, pca_max_images=None,
                                fid_cache_dir=str(tmp_path / 'cache'))
  s = report_dict['sections']
  for sampler in ('unit', 'fitted', 'full'):
    values = s['fid_samples_' + sampler]
    assert values['num_images'] == 8 and values['steps'] is None
    assert 0 <= values['precision'] <= 1 and 0 <= values['recall'] <= 1
    assert 0 <= values['memorised_p5'] <= values['memorised_median'] <= 1
    assert values['kid_train_std'] >= 0 and np.isfinite(values['kid_heldout'])
  real = s['fid_heldout_images']
  assert 'kid_train' in real and 'kid_heldout' not in real and 'memorised_p5' not in real
  assert 'memorised_p5' not in s['fid_reconstructions']  # declared for samples only
  md = report.markdown(report_dict)
  assert '| KID vs train |' in md and 'VGG-16' in md and 'Memorisation:' in md
