"""Generation graph functions against numpy: Gaussian fits and their samples, nlerp/slerp,
pixel distances, the streamed nearest-neighbour search, and the inference-mode decoder."""
import os

import numpy as np
import pytest

from glo_tf1 import progress
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.evaluation import generation
from glo_tf1.model import samplers

SMALL = {'image_size': 16, 'latent_dims': 6, 'decoder_filters': [8, 4], 'batch_size': 4}


def _run(fn, *arrays):
  """Evaluates fn(*constants) in a fresh graph."""
  with tf.Graph().as_default(), tf.Session() as sess:
    return sess.run(fn(*[tf.constant(a, tf.float32) for a in arrays]))


def _codes(n=300, d=5, seed=0):
  rng = np.random.RandomState(seed)
  mix = rng.randn(d, d)
  return (rng.randn(n, d) @ mix + rng.randn(d) * 3).astype(np.float32)


def test_diagonal_fit_is_the_post_moments():
  z = _codes()
  fit = _run(samplers.fit_diagonal_gaussian, z)
  np.testing.assert_allclose(fit['mean'], z.astype(np.float64).mean(0), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(fit['scale'], z.astype(np.float64).std(0), rtol=1e-4)


@pytest.mark.parametrize('n', [300, 3])  # 3 codes in 5 dims: a singular covariance
def test_full_fit_mean_covariance_and_square_root(n):
  z = _codes(n=n)
  fit = _run(samplers.fit_full_gaussian, z)
  np.testing.assert_allclose(fit['mean'], z.astype(np.float64).mean(0), rtol=1e-5, atol=1e-5)
  cov = np.cov(z.astype(np.float64), rowvar=False, bias=True)
  np.testing.assert_allclose(fit['cov'], cov, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(fit['scale'] @ fit['scale'].T, cov, rtol=1e-3, atol=1e-4)


def test_samplers_follow_their_fits():
  z = _codes()
  noise = np.random.RandomState(1).standard_normal((40000, 5)).astype(np.float32)

  def graph(codes, eps):
    diag, full = samplers.fit_diagonal_gaussian(codes), samplers.fit_full_gaussian(codes)
    return {name: samplers.sample_codes(eps, name, diag, full)
            for name in generation.SAMPLERS}

  out = _run(graph, z, noise)
  z64 = z.astype(np.float64)
  np.testing.assert_array_equal(out['unit'], noise)
  np.testing.assert_allclose(out['fitted'], z64.mean(0) + noise * z64.std(0), rtol=1e-4,
                             atol=1e-4)
  # Full covariance: the sample covariance matches the codes' (sampling error ~1%).
  cov = np.cov(z64, rowvar=False, bias=True)
  np.testing.assert_allclose(np.cov(out['full'].astype(np.float64), rowvar=False), cov,
                             atol=0.03 * np.abs(cov).max())
  np.testing.assert_allclose(out['full'].mean(0), z64.mean(0), atol=0.03 * np.sqrt(cov.max()))
  # The diagonal fit loses the correlations the full fit keeps.
  off = ~np.eye(5, dtype=bool)
  assert np.abs(np.corrcoef(out['fitted'], rowvar=False)[off]).max() < 0.05
  assert np.abs(np.corrcoef(z64, rowvar=False)[off]).max() > 0.3
  with pytest.raises(ValueError, match='sampler'):
    samplers.sample_codes(tf.constant(noise), 'beta')


def _unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_nlerp_is_the_post_normalised_lerp():
  rng = np.random.RandomState(2)
  z0, z1 = rng.randn(3, 7).astype(np.float32), rng.randn(3, 7).astype(np.float32)
  path = _run(lambda a, b: samplers.interpolate(a, b, 25, 'nlerp'), z0, z1)
  assert path.shape == (3, 25, 7)
  t = np.linspace(0, 1, 25)[None, :, None]
  want = _unit((1 - t) * z0[:, None] + t * z1[:, None])
  np.testing.assert_allclose(path, want, atol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1., atol=1e-5)
  ball = _run(lambda a, b: samplers.interpolate(a, b, 5, 'nlerp', 'ball'), z0 * .1, z1 * .1)
  assert np.linalg.norm(ball, axis=-1).max() <= 1. + 1e-6
  np.testing.assert_allclose(ball[:, 0], z0 * .1, atol=1e-6)  # inside the ball: unchanged


def test_slerp_keeps_unit_norm_and_constant_angular_speed():
  rng = np.random.RandomState(3)
  z0, z1 = rng.randn(4, 7).astype(np.float32), rng.randn(4, 7).astype(np.float32)
  path = _run(lambda a, b: samplers.interpolate(a, b, 9, 'slerp'), z0, z1).astype(np.float64)
  np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1., atol=1e-5)
  np.testing.assert_allclose(path[:, 0], _unit(z0), atol=1e-5)
  np.testing.assert_allclose(path[:, -1], _unit(z1), atol=1e-5)
  angles = np.arccos(np.clip(np.sum(path[:, 1:] * path[:, :-1], -1), -1, 1))
  total = np.arccos(np.sum(_unit(z0) * _unit(z1), -1))
  np.testing.assert_allclose(angles, np.repeat(total[:, None] / 8, 8, 1), atol=1e-3)
  np.testing.assert_allclose(path[:, 4], _unit(_unit(z0) + _unit(z1)), atol=1e-5)
  # Identical ends: no division by zero, the code itself all along.
  same = _run(lambda a: samplers.interpolate(a, a, 3, 'slerp'), z0)
  np.testing.assert_allclose(same, np.repeat(_unit(z0)[:, None], 3, 1), atol=1e-5)
  with pytest.raises(ValueError, match='interpolation'):
    samplers.interpolate(tf.constant(z0), tf.constant(z1), 3, 'cubic')


def test_pixel_mse_is_the_brute_force_distance():
  rng = np.random.RandomState(4)
  q = rng.uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
  x = rng.uniform(-1, 1, (5, 8, 8, 3)).astype(np.float32)
  d = _run(generation.pixel_mse, q, x)
  want = ((q[:, None].astype(np.float64) - x[None]) ** 2).mean(axis=(2, 3, 4))
  np.testing.assert_allclose(d, want, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(_run(generation.pixel_mse, x, x).diagonal(), 0., atol=1e-6)


def _random_pngs(folder, n, size=16, seed=5):
  """Lossless random images of the decoder's size (crop and resize are then the identity);
  returns (absolute paths, pixels in [-1, 1] computed with numpy)."""
  from PIL import Image
  rng = np.random.RandomState(seed)
  os.makedirs(folder, exist_ok=True)
  paths, pixels = [], []
  for i in range(n):
    im = rng.randint(0, 256, (size, size, 3)).astype(np.uint8)
    path = os.path.join(folder, 'im_%03d.png' % i)
    Image.fromarray(im).save(path)
    paths.append(path)
    pixels.append(im / 255. * 2. - 1.)
  return paths, np.array(pixels)


def _graph(num_codes, k=3, **overrides):
  cfg = settings.resolve('demo', dict(SMALL, **overrides))
  graph = generation.build_generation_graph(cfg, num_codes, batch_size=4, k=k,
                                            interp_steps=5)
  return cfg, graph


def test_streamed_nearest_neighbours_match_brute_force(tmp_path):
  paths, pixels = _random_pngs(str(tmp_path / 'train'), 11)
  rng = np.random.RandomState(6)
  queries = np.concatenate([pixels[[7, 2]] + 0.01 * rng.randn(2, 16, 16, 3),
                            rng.uniform(-1, 1, (2, 16, 16, 3))]).astype(np.float32)
  with tf.Graph().as_default():
    _, graph = _graph(11, k=3)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      np.testing.assert_allclose(generation.load_images(sess, graph, paths[:3]), pixels[:3],
                                 atol=1e-6)
      seen = []
      report = progress.Progress('searched', len(paths), every_secs=0, log=seen.append)
      dist, idx = generation.nearest_neighbours(sess, graph, paths, queries, k=3,
                                                batch_size=4, progress=report)
  brute = ((queries[:, None].astype(np.float64) - pixels[None]) ** 2).mean(axis=(2, 3, 4))
  want = np.argsort(brute, axis=1, kind='stable')[:, :3]
  np.testing.assert_array_equal(idx, want)
  np.testing.assert_allclose(dist, np.take_along_axis(brute, want, 1), rtol=1e-4, atol=1e-6)
  assert idx[0, 0] == 7 and idx[1, 0] == 2
  assert [line.split()[1] for line in seen] == ['4/11', '8/11', '11/11']  # 3 batches


def test_merge_top_k_keeps_smallest_and_breaks_ties_by_index():
  d, i = generation.merge_top_k(np.array([[0.5, 0.9]]), np.array([[3, 1]]),
                                np.array([[0.5, 0.1]]), np.array([[2, 8]]), 3)
  np.testing.assert_array_equal(i, [[8, 2, 3]])
  np.testing.assert_array_equal(d, [[0.1, 0.5, 0.5]])


def test_decoder_runs_in_inference_mode_and_samples_are_seeded():
  """Inference-mode batch norm: an image does not depend on the rest of its batch (the
  padding of `decode` changes nothing); the same noise gives the same images."""
  with tf.Graph().as_default():
    cfg, graph = _graph(20)
    bn = [v for v in tf.global_variables('decoder') if 'moving_mean' in v.name]
    assert bn, 'the decoder has batch norm'
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      # Moving statistics away from their initial 0/1, as after training.
      for v in bn:
        sess.run(v.assign(tf.random_normal(v.shape, seed=1)))
      z = np.random.RandomState(7).randn(6, cfg['latent_dims']).astype(np.float32)
      alone = generation.decode_codes(sess, graph, z[:1])
      together = generation.decode_codes(sess, graph, z)
      assert together.shape == (6, 16, 16, 3)
      assert together.min() >= -1 and together.max() <= 1 and together.std() > 0
      np.testing.assert_allclose(alone[0], together[0], atol=1e-6)
      noise = np.random.RandomState(8).standard_normal((5, cfg['latent_dims']))
      for sampler in generation.SAMPLERS:
        codes1, images1 = generation.sample(sess, graph, sampler, noise)
        codes2, images2 = generation.sample(sess, graph, sampler, noise)
        np.testing.assert_array_equal(images1, images2)
        assert images1.shape == (5, 16, 16, 3) and np.abs(images1).max() <= 1
      rows = generation.interpolations(sess, graph, [(0, 1), (2, 3)])
      assert rows.shape == (2, 5, 16, 16, 3)
      learned = sess.run(graph['codes'])
      np.testing.assert_allclose(rows[1, 0], generation.decode_codes(sess, graph, learned[2:3])[0],
                                 atol=1e-5)


def _non_unit_codes(n=60, dims=6, seed=11):
  """Codes whose norms range over [0.2, 5]: raw and projected fits then clearly differ."""
  rng = np.random.RandomState(seed)
  z = rng.standard_normal((n, dims)) * rng.uniform(0.5, 2.0, dims) + rng.uniform(-1, 1, dims)
  z *= rng.uniform(0.2, 5.0, (n, 1)) / np.linalg.norm(z, axis=1, keepdims=True)
  return z.astype(np.float32)


@pytest.mark.parametrize('fit_projected', [False, True])
def test_generation_graph_fits_the_raw_codes_unless_asked_for_the_projected(fit_projected):
  """The post fits tf.nn.moments of the raw `codes`; --fit_projected fits z / ||z||."""
  z = _non_unit_codes()
  with tf.Graph().as_default():
    cfg = settings.resolve('demo', dict(SMALL))
    graph = generation.build_generation_graph(cfg, len(z), batch_size=4,
                                              fit_projected=fit_projected)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(graph['codes'].assign(z))
      diag, full = sess.run([graph['diagonal'], graph['full']])
  x = z.astype(np.float64)
  if fit_projected:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)  # the sphere projection, by hand
  np.testing.assert_allclose(diag['mean'], x.mean(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(diag['scale'], x.std(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(full['mean'], x.mean(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(full['cov'], np.cov(x, rowvar=False, bias=True), rtol=1e-3,
                             atol=1e-5)


def test_training_summaries_fit_the_raw_codes():
  """The fitted samples of the training grids come from the raw codes' moments, as the
  notebook's `tf.nn.moments(codes)`."""
  from glo_tf1.deploy import devices  # pylint: disable=import-outside-toplevel
  from glo_tf1.model import towers  # pylint: disable=import-outside-toplevel
  z = _non_unit_codes()
  cfg = settings.resolve('demo', dict(SMALL))
  with tf.Graph().as_default():
    inputs = [{'image': tf.zeros([4, 16, 16, 3]), 'index': tf.range(4)}]
    model = towers.build_training_graph(cfg, inputs, len(z), devices.deployment(cfg))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(model['codes'].assign(z))
      fit = sess.run(model['summary_fit'])
  np.testing.assert_allclose(fit['mean'], z.astype(np.float64).mean(0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(fit['scale'], z.astype(np.float64).std(0), rtol=1e-4, atol=1e-5)
