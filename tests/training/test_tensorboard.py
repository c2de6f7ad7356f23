"""A trained run as a researcher sees it in the project's own TensorBoard, read through
its HTTP API: the scalars and grids of the last step, the Projector's labelled codes and
sprite, the HParams dashboard's settings and loss. Also what a resume at num_steps adds."""
import io as std_io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest

from conftest import TINY
from conftest import run_main
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.training import board

NUM_STEPS = 30  # conftest's tiny_run
LOSS_TAG = 'losses/losses/total'
WAIT_SECS = 120


def _free_port():
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


class _Board:
  """GET and POST against a TensorBoard on 127.0.0.1:`port`, each bounded in time."""

  def __init__(self, port):
    self.base = 'http://127.0.0.1:%d' % port

  def raw(self, route, body=None, **params):
    url = self.base + route + ('?' + urllib.parse.urlencode(params) if params else '')
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={
        'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest'})
    with urllib.request.urlopen(request, timeout=30) as response:
      return response.read()

  def json(self, route, body=None, **params):
    return json.loads(self.raw(route, body, **params))

  def wait_for(self, route, ready):
    """The JSON at `route` once `ready(it)` holds; fails after WAIT_SECS."""
    deadline, last = time.time() + WAIT_SECS, None
    while time.time() < deadline:
      try:
        last = self.json(route)
        if ready(last):
          return last
      except OSError as e:  # not listening yet
        last = e
      time.sleep(1)
    raise AssertionError('TensorBoard at %s: %s not ready after %ds: %r'
                         % (self.base, route, WAIT_SECS, last))


def _loaded(tb):
  """How much of the run the server has read so far: points per scalar, image and
  histogram tag (it serves while it reads the events)."""
  out = {}
  for plugin, route in (('scalars', 'scalars'), ('images', 'images'),
                        ('histograms', 'histograms')):
    for tag in tb.json('/data/plugin/%s/tags' % plugin).get('.', {}):
      out[plugin, tag] = len(tb.json('/data/plugin/%s/%s' % (plugin, route), run='.', tag=tag))
  return out


def _wait_until_loaded(tb, quiet_secs=3):
  """Returns once two reads `quiet_secs` apart see the same points; fails after WAIT_SECS."""
  deadline, last = time.time() + WAIT_SECS, None
  while time.time() < deadline:
    now = _loaded(tb)
    if now == last:
      return
    last = now
    time.sleep(quiet_secs)
  raise AssertionError('TensorBoard at %s still loading after %ds' % (tb.base, WAIT_SECS))


@pytest.fixture(scope='module')
def served(tiny_run):
  """(the run, a _Board) with the venv's `tensorboard` serving the run on loopback."""
  exe = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
  port = _free_port()
  proc = subprocess.Popen([exe, '--logdir', tiny_run, '--host', '127.0.0.1',
                           '--port', str(port)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
  try:
    tb = _Board(port)
    tb.wait_for('/data/plugin/scalars/tags', lambda tags: LOSS_TAG in tags.get('.', {}))
    _wait_until_loaded(tb)
    yield tiny_run, tb
  finally:
    proc.terminate()
    try:
      proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
      proc.kill()
      proc.wait(timeout=20)


@pytest.mark.e2e
def test_scalars_and_grids_end_at_the_last_step(served):
  _, tb = served
  points = tb.json('/data/plugin/scalars/scalars', run='.', tag=LOSS_TAG)
  steps = [p[1] for p in points]
  assert steps == [1, 6, 11, 16, 21, 26, NUM_STEPS]  # every 5 steps, and the last
  tags = tb.wait_for('/data/plugin/images/tags', lambda t: len(t.get('.', {})) == 4)['.']
  assert sorted(t.split('/image')[0] for t in tags) == [
      'reconstruction', 'samples/samples/interpolated', 'samples/samples/sampled_fitted',
      'samples/samples/sampled_unit']
  for tag in tags:
    events = tb.json('/data/plugin/images/images', run='.', tag=tag)
    assert [e['step'] for e in events] == [1, 11, 21, NUM_STEPS], tag  # every 10, the last
    from PIL import Image  # pylint: disable=import-outside-toplevel
    last = Image.open(std_io.BytesIO(tb.raw('/data/plugin/images/individualImage?' +
                                            events[-1]['query'])))
    assert last.size[1] == 5 * 16  # 5 rows of 16 px images: a real grid


@pytest.mark.e2e
def test_code_norm_and_decoder_weight_histograms_at_the_scalar_cadence(served):
  run, tb = served
  tags = tb.wait_for('/data/plugin/histograms/tags', lambda t: 'codes/norm' in t.get('.', {}))
  trained = tf.train.load_checkpoint(os.path.join(run, 'model.ckpt-%d' % NUM_STEPS))
  weights = sorted(n for n in trained.get_variable_to_shape_map()
                   if n.startswith('decoder/') and n.endswith('/weights'))
  assert weights and sorted(tags['.']) == sorted(['codes/norm'] +
                                                  ['weights/' + w for w in weights])
  points = tb.json('/data/plugin/histograms/histograms', run='.', tag='codes/norm')
  assert [p[1] for p in points] == [1, 6, 11, 16, 21, 26, NUM_STEPS]
  # The last histogram: 200 norms spanning the checkpoint's row norms. It is read in the
  # last step, beside that step's update (which Adam at 1e-3 keeps below 1e-3 per
  # coordinate: 0.003 in norm at 8 dims), hence the tolerance.
  buckets = np.asarray(points[-1][2])  # [left, right, count] rows
  norms = np.linalg.norm(trained.get_tensor('codes'), axis=1)
  assert buckets[:, 2].sum() == pytest.approx(200)
  assert abs(buckets[0, 0] - norms.min()) < 0.01 and abs(buckets[-1, 1] - norms.max()) < 0.01


@pytest.mark.e2e
def test_projector_shows_the_codes_alone_with_file_names_and_a_sprite(served):
  run, tb = served
  assert tb.json('/data/plugin/projector/runs') == ['.']
  info = tb.json('/data/plugin/projector/info', run='.')
  (embedding,) = info['embeddings']  # not codes/Adam, codes/Adam_1 nor decoder weights
  assert embedding['tensorName'] == 'codes' and embedding['tensorShape'] == [200, 8]
  # The values: the codes of the last training checkpoint, row for row.
  tensor = np.frombuffer(tb.raw('/data/plugin/projector/tensor', run='.', name='codes'),
                         np.float32).reshape(200, 8)
  trained = tf.train.load_checkpoint(os.path.join(run, 'model.ckpt-%d' % NUM_STEPS))
  np.testing.assert_array_equal(tensor, trained.get_tensor('codes'))
  labels = tb.raw('/data/plugin/projector/metadata', run='.', name='codes').decode()
  rows = [line.split('\t') for line in labels.splitlines()]
  manifest = files.read_manifest(os.path.join(run, files.MANIFEST_NAME))
  assert rows == [['index', 'file']] + [[str(i), n] for i, n, _, _ in manifest]
  from PIL import Image  # pylint: disable=import-outside-toplevel
  sprite = Image.open(std_io.BytesIO(tb.raw('/data/plugin/projector/sprite_image',
                                            run='.', name='codes')))
  assert embedding['sprite']['singleImageDim'] == [16, 16]
  assert sprite.size == (15 * 16, 15 * 16)  # 200 tiles on a 15 x 15 grid
  tiles = np.asarray(sprite.convert('RGB'), np.float32)
  assert tiles[:16, :16].std() > 0 and not tiles[-16:, -16:].any()  # a face; empty cells


@pytest.mark.e2e
def test_hparams_lists_the_settings_and_the_final_loss(served):
  run, tb = served
  experiment = tb.json('/data/plugin/hparams/experiment', body={})
  names = {h['name'] for h in experiment['hparamInfos']}
  with open(os.path.join(run, 'config.json')) as f:
    cfg = json.load(f)
  assert {'preset', 'image_size', 'latent_dims', 'seed', 'num_steps'} <= names <= set(cfg)
  assert {m['name']['tag'] for m in experiment['metricInfos']} >= {LOSS_TAG}
  groups = tb.json('/data/plugin/hparams/session_groups', body={
      'startIndex': 0, 'sliceSize': 10, 'colParams': [],
      'allowedStatuses': ['STATUS_UNKNOWN', 'STATUS_SUCCESS', 'STATUS_FAILURE',
                          'STATUS_RUNNING']})['sessionGroups']
  (group,) = groups
  assert group['hparams']['preset'] == 'demo' and group['hparams']['image_size'] == 16
  assert group['hparams']['num_steps'] == NUM_STEPS
  (loss,) = [m for m in group['metricValues'] if m['name']['tag'] == LOSS_TAG]
  last = tb.json('/data/plugin/scalars/scalars', run='.', tag=LOSS_TAG)[-1]
  assert loss['trainingStep'] == NUM_STEPS and loss['value'] == pytest.approx(last[2])


def _records(run_dir):
  """[(step, tag)] of every summary value in the run's event files."""
  out = []
  for name in sorted(os.listdir(run_dir)):
    if name.startswith('events.out.tfevents'):
      for event in tf.compat.v1.train.summary_iterator(os.path.join(run_dir, name)):
        out += [(event.step, v.tag) for v in event.summary.value]
  return out


@pytest.mark.e2e
def test_resume_at_num_steps_adds_no_grid_scalar_hparams_or_projector(tiny_run, lfw_dir,
                                                                        tmp_path):
  run = str(tmp_path / 'run')
  shutil.copytree(tiny_run, run)
  before = _records(run)
  config = os.path.join(run, board.CONFIG_NAME)
  stamp = os.stat(config).st_mtime_ns
  out = run_main('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', run,
                 '--num_steps=%d' % NUM_STEPS, *TINY).stdout
  assert 'nothing to do' in out
  added = [r for r in _records(run) if r not in before]
  assert [tag for _, tag in added] == ['config']  # the text summary of every start only
  assert os.stat(config).st_mtime_ns == stamp
  # Before the resume: the last step's grids and loss once each, the settings once.
  last = [tag for step, tag in before if step == NUM_STEPS]
  assert last.count(LOSS_TAG) == 1 and last.count('reconstruction/image/0') == 1
  assert [tag for _, tag in before].count('_hparams_/session_start_info') == 1


def test_histograms_bin_the_finite_values_and_survive_a_nan_or_inf():
  """A diverged run must reach the loss guard (which names the step), not fail inside the
  histogram op, which refuses a NaN or an Inf: only finite values are binned."""
  with tf.Graph().as_default():
    codes = tf.Variable([[3.0, 4.0], [np.inf, 0.0], [0.0, 1.0]], name='codes')
    with tf.variable_scope('decoder'):
      tf.Variable([[1.0, np.nan], [2.0, -np.inf]], name='weights')
    ops = board.histogram_summaries(codes, num_codes=3, seed=0)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      summaries = [tf.Summary.FromString(s) for s in sess.run(ops)]
  histos = {v.tag: v.histo for s in summaries for v in s.value}
  assert sorted(histos) == ['codes/norm', 'weights/decoder/weights']
  norm, weights = histos['codes/norm'], histos['weights/decoder/weights']
  # Norms 5 and 1 (the Inf row is left out); weights 1 and 2 (NaN and -Inf left out).
  assert (norm.num, norm.min, norm.max, norm.sum) == (2, 1.0, 5.0, 6.0)
  assert (weights.num, weights.min, weights.max, weights.sum) == (2, 1.0, 2.0, 3.0)
