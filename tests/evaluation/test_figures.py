"""The figure script: fixed pixel map, mosaics, and the four figures of a tiny trained run
(files, sizes, neighbours against a brute-force search, same seed same figures)."""
import contextlib
import errno
import json
import os
import shutil

import numpy as np
from PIL import Image
import pytest

from conftest import run_main
from glo_tf1 import io as glo_io
from glo_tf1 import rundir
from glo_tf1.compat import tf
from glo_tf1.data import images
from glo_tf1.evaluation import figures
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import runs

FIGURE_NAMES = ('reconstructions.png', 'samples.png', 'interpolation.png',
                'nearest_neighbours.png')
OPTIONS = dict(num_reconstructions=6, num_samples=4, num_interpolations=2, interp_steps=7,
               interpolation='nlerp', fit_projected=False, num_queries=2, neighbours=3,
               query_sampler='fitted', batch_size=64, nn_from_saved_grid=False,
               nn_max_images=0)


def test_pixel_map_is_fixed_and_linear():
  x = np.array([-1.5, -1., -0.5, 0., 0.5, 1., 2.])
  np.testing.assert_array_equal(images.to_uint8(x), [0, 0, 64, 128, 191, 255, 255])
  # No min-max stretch (the post's imsave): a dim image stays dim.
  dim = np.linspace(-1., -0.5, 10)
  assert images.to_uint8(dim).max() == 64


def test_mosaic_places_each_image():
  images = np.arange(5)[:, None, None, None] * np.ones((5, 3, 2, 3), np.uint8)
  grid = figures.mosaic(images, cols=2, pad=1)
  assert grid.shape == (3 * 3 + 2, 2 * 2 + 1, 3)
  assert (grid[4:7, 3:5] == 3).all() and (grid[8:11, 0:2] == 4).all()
  assert (grid[3] == 255).all() and (grid[8:11, 3:5] == 255).all()  # padding, empty cell


def _fitted_samples_and_training_images(run_dir, seed, num, num_images=None):
  """Fitted samples from numpy.random.RandomState(seed) noise, as the figures draw them,
  and the run's first num_images training images, from the latest checkpoint."""
  run = runs.read_run(run_dir)
  cfg = run['cfg']
  with tf.Graph().as_default():
    graph = generation.build_generation_graph(cfg, len(run['paths']), batch_size=64)
    with tf.Session() as sess:
      runs.restore_variables(sess, run_dir, graph['restore_vars'])
      noise = np.random.RandomState(seed).standard_normal((num, cfg['latent_dims']))
      _, samples = generation.sample(sess, graph, 'fitted', noise)
      return samples, generation.load_images(sess, graph, run['paths'][:num_images])


def _pixels(path):
  return np.asarray(Image.open(path).convert('RGB'))


@pytest.mark.e2e
def test_figures_of_a_tiny_run(tiny_run, tmp_path):
  out = str(tmp_path / 'cli')
  args = ['--run_dir', tiny_run, '--out_dir', out, '--seed=3', '--num_reconstructions=6',
          '--num_samples=4', '--num_interpolations=2', '--interp_steps=7', '--num_queries=2',
          '--neighbours=3', '--batch_size=64']
  log = run_main('glo_tf1.cli.figures', *args).stdout
  assert 'step 30' in log
  for name in FIGURE_NAMES:
    im = Image.open(os.path.join(out, name))
    assert im.size[0] > 100 and im.size[1] > 50, name
  # interpolation.png: 2 rows of 7 images of 16 px at 6x, 1 px apart, under a 45 px title.
  assert _pixels(os.path.join(out, 'interpolation.png')).shape == (
      (2 * 17 - 1) * 6 + 45, (7 * 17 - 1) * 6, 3)

  with open(os.path.join(out, 'nearest_neighbours.json')) as f:
    nn = json.load(f)
  assert nn['searched_images'] == 200 and len(nn['queries']) == 2
  run = runs.read_run(tiny_run)
  # Recompute the queries and a brute-force search over every training image.
  queries, train = _fitted_samples_and_training_images(tiny_run, [3, 4], 2)
  assert train.shape == (200, 16, 16, 3) and train.min() >= -1 and train.max() <= 1
  brute = ((queries[:, None].astype(np.float64) - train[None]) ** 2).mean(axis=(2, 3, 4))
  for r, query in enumerate(nn['queries']):
    got = [n['index'] for n in query['neighbours']]
    np.testing.assert_array_equal(got, np.argsort(brute[r], kind='stable')[:3])
    np.testing.assert_allclose([n['mse'] for n in query['neighbours']],
                               np.sort(brute[r])[:3], rtol=1e-4)
    assert [n['path'] for n in query['neighbours']] == [run['names'][i] for i in got]

  # In process, same seed: the same figures, pixel for pixel; another seed: other samples.
  same = str(tmp_path / 'same')
  other = str(tmp_path / 'other')
  figures.write_figures(tiny_run, same, seed=3, **OPTIONS)
  figures.write_figures(tiny_run, other, seed=4, **OPTIONS)
  for name in FIGURE_NAMES:
    np.testing.assert_array_equal(_pixels(os.path.join(out, name)),
                                  _pixels(os.path.join(same, name)), err_msg=name)
  assert not np.array_equal(_pixels(os.path.join(out, 'samples.png')),
                            _pixels(os.path.join(other, 'samples.png')))


@pytest.mark.e2e
def test_figure_errors_name_the_problem(tiny_run, tmp_path):
  proc = run_main('glo_tf1.cli.figures', '--run_dir', str(tmp_path / 'nothing'), '--out_dir',
                  str(tmp_path / 'o'), check=False)
  assert proc.returncode == 2 and 'nothing does not exist' in proc.stderr, proc.stderr
  assert 'Traceback' not in proc.stderr
  out = str(tmp_path / 'o')
  with pytest.raises(rundir.RunDirError, match=r'200 of 200 training images of .* are '
                     r'missing from .*: lfw_000.jpg, lfw_000_mirror.jpg, .* \(first 5\); pass'):
    figures.write_figures(tiny_run, out, data_dir=str(tmp_path), **OPTIONS)
  with pytest.raises(rundir.RunDirError, match=r'no checkpoint of step 7 \(its steps: 15, 30\)'):
    figures.write_figures(tiny_run, out, checkpoint='7', **OPTIONS)
  # A training image edited after the run: its code no longer belongs to it.
  data = str(tmp_path / 'data')
  shutil.copytree(runs.read_run(tiny_run)['data_dir'], data)
  with open(os.path.join(data, 'lfw_005.jpg'), 'ab') as f:
    f.write(b'\0')
  with pytest.raises(rundir.RunDirError, match='modified: lfw_005.jpg'):
    figures.write_figures(tiny_run, out, data_dir=data, **OPTIONS)


def test_a_full_disk_is_refused_naming_the_folder_and_replaces_no_figure(tiny_run,
                                                                         tmp_path,
                                                                         monkeypatch):
  """Issue 22: glo-figures on a full disk ended in a traceback with some figures new and
  the rest missing or old. The disk fills at the third figure (a write raising ENOSPC):
  the folder keeps exactly what it held, and nothing of the attempt is left in it."""
  out = tmp_path / 'figs'
  out.mkdir()
  (out / 'reconstructions.png').write_bytes(b'the figures of an older step')
  real = glo_io.atomic_open

  @contextlib.contextmanager
  def filling(path, mode='w'):
    with real(path, mode) as f:
      if os.path.basename(path) == 'interpolation.png':
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
      yield f
  monkeypatch.setattr(glo_io, 'atomic_open', filling)
  with pytest.raises(figures.FiguresError) as e:
    figures.write_figures(tiny_run, str(out), **OPTIONS)
  assert str(e.value).startswith('writing the figures into %s failed: No space left on '
                                 'device (interpolation.png)' % out), e.value
  assert os.listdir(str(out)) == ['reconstructions.png']
  assert (out / 'reconstructions.png').read_bytes() == b'the figures of an older step'


def test_only_figures_glo_figures_wrote_are_replaced(tiny_run, tmp_path):
  """Issue 31: a user's file of a figure's name in --out_dir stops the move, named, and
  nothing is replaced; their other files stay; the record lists only the figures."""
  out = tmp_path / 'thesis'
  out.mkdir()
  (out / 'samples.png').write_bytes(b'my own figure')
  (out / 'notes.txt').write_text('mine')
  with pytest.raises(figures.FiguresError, match=r'already holds samples\.png, which '
                     r'glo-figures did not write .*nothing there was replaced'):
    figures.write_figures(tiny_run, str(out), **OPTIONS)
  assert sorted(os.listdir(str(out))) == ['notes.txt', 'samples.png']
  assert (out / 'samples.png').read_bytes() == b'my own figure'
  (out / 'samples.png').rename(tmp_path / 'kept.png')
  written = figures.write_figures(tiny_run, str(out), **OPTIONS)
  with open(str(out / figures.WRITTEN)) as f:
    record = json.load(f)['written']
  assert record == sorted(set(os.listdir(str(out))) - {'notes.txt', figures.WRITTEN})
  assert {os.path.basename(p) for p in written} <= set(record)
  assert set(FIGURE_NAMES) <= set(record) and (out / 'notes.txt').read_text() == 'mine'
  assert Image.open(str(out / 'samples.png')).size[0] > 100  # its own: replaced on a rerun
  figures.write_figures(tiny_run, str(out), seed=9, **OPTIONS)


@pytest.mark.e2e
def test_post_layout_grids_and_single_nearest_neighbours(tiny_run, tmp_path):
  """--layout post: the four titled 5 x 5 grids, and 25 fitted samples each beside its
  nearest training image among the first --nn_max_images files (brute force, [0, 1])."""
  out = str(tmp_path / 'post')
  options = dict(OPTIONS, nn_from_saved_grid=False, nn_max_images=50)
  written = figures.write_figures(tiny_run, out, seed=5, layout='post', **options)
  assert [os.path.basename(p) for p in written] == ['post_grids.png',
                                                     'post_nearest_neighbours.png']
  for path in written:
    assert _pixels(path).shape[0] > 200
  with open(os.path.join(out, 'post_nearest_neighbours.json')) as f:
    nn = json.load(f)
  assert nn['searched_images'] == 50 and len(nn['queries']) == 25
  samples, train = _fitted_samples_and_training_images(tiny_run, [5, 13], 25, 50)
  brute = (((samples[:, None].astype(np.float64) - train[None]) / 2.) ** 2).mean(
      axis=(2, 3, 4))  # pixels on [0, 1]
  assert [q['index'] for q in nn['queries']] == list(np.argmin(brute, axis=1))
  np.testing.assert_allclose([q['mse'] for q in nn['queries']], brute.min(axis=1),
                             rtol=1e-4)
  # As the post did: the search runs on the samples as the saved JPEG grid holds them.
  saved = str(tmp_path / 'saved')
  figures.write_figures(tiny_run, saved, seed=5, layout='post',
                        **dict(options, nn_from_saved_grid=True))
  with open(os.path.join(saved, 'post_nearest_neighbours.json')) as f:
    from_jpeg = json.load(f)
  assert from_jpeg['from_saved_grid'] and len(from_jpeg['queries']) == 25
  assert all(0 <= q['index'] < 50 for q in from_jpeg['queries'])


class _FitSession:
  """Stands in for a session: returns a fixed diagonal fit."""

  def __init__(self, mean, scale):
    self.fit = {'mean': np.asarray(mean, float), 'scale': np.asarray(scale, float)}

  def run(self, _):
    return self.fit


def test_the_samples_caption_says_when_the_sphere_makes_the_panels_alike():
  """z / |z| of mean + scale * noise is the N(0, I) sample's direction when the mean is
  near 0 and the scales equal: the caption says so then, and says they differ otherwise."""
  def caption(mean, scale, projection='sphere'):
    return figures.sphere_caption({'cfg': {'projection': projection}, 'graph': {'diagonal': 0},
                                   'sess': _FitSession(mean, scale)})
  alike = caption(np.full(8, 0.001), np.full(8, 0.05))
  assert 'nearly the same' in alike and '|mean| / |scale| = 0.02' in alike  # 0.001 / 0.05
  assert 'differ' in caption(np.full(8, 0.5), np.full(8, 0.05))
  assert 'differ' in caption(np.zeros(8), np.r_[np.full(4, 0.01), np.full(4, 1.)])
  assert caption(np.zeros(8), np.ones(8), projection='ball') is None
