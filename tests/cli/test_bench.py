"""Benchmark: the FLOP counter against a hand count and the real graph; --quick runs."""
import json
import numbers

import pytest

from conftest import run_main
from conftest import run_module
from glo_tf1 import settings
from glo_tf1.bench import flops
from glo_tf1.bench import towers
from glo_tf1.compat import tf


def test_decoder_flops_by_hand_for_the_blog_decoder():
  # 2 FLOPs per multiply-add; each input value meets k*k*c_out weights.
  by_hand = (2 * (1 * 1 * 100) * (4 * 4 * 256) +        # 1x1x100 -> 4x4x256, k 4
             2 * (4 * 4 * 256) * (5 * 5 * 128) +        # -> 8x8x128, k 5
             2 * (8 * 8 * 128) * (5 * 5 * 64) +         # -> 16x16x64
             2 * (16 * 16 * 64) * (5 * 5 * 64) +        # -> 32x32x64
             2 * (32 * 32 * 64) * (5 * 5 * 32) +        # -> 64x64x32
             2 * (64 * 64 * 32) * (3 * 3 * 3))          # -> 128x128x3, k 3
  cfg = settings.resolve('blog', {'batch_size': 64})
  assert flops.decoder_flops(cfg) == by_hand  # counted from the built graph
  assert flops.training_flops_per_image(cfg) == 3 * by_hand
  # The stack notes measured "about 0.65 GFLOP per training image (forward 0.22)".
  assert abs(by_hand / 1e9 - 0.22) < 0.005


def test_decoder_flops_by_hand_for_the_paper64_generator():
  by_hand = (2 * (1 * 1 * 100) * (4 * 4 * 512) +        # 1x1x100 -> 4x4x512, k 4
             2 * (4 * 4 * 512) * (5 * 5 * 256) +        # -> 8x8x256, k 5
             2 * (8 * 8 * 256) * (5 * 5 * 128) +        # -> 16x16x128
             2 * (16 * 16 * 128) * (5 * 5 * 64) +       # -> 32x32x64
             2 * (32 * 32 * 64) * (5 * 5 * 3))          # -> 64x64x3, k 5 (not 3)
  assert flops.training_flops_per_image(settings.resolve('paper64')) == 3 * by_hand


def test_graph_flops_of_a_convolution_a_transpose_convolution_and_a_matmul():
  """Hand counts (2 FLOPs per multiply-add) on ops of known shapes; other ops cost 0."""
  with tf.Graph().as_default() as g:
    x = tf.zeros([2, 8, 8, 3])
    tf.nn.conv2d(x, tf.zeros([3, 3, 3, 5]), strides=1, padding='SAME')   # 8x8 out
    tf.nn.conv2d_transpose(tf.zeros([2, 4, 4, 6]), tf.zeros([5, 5, 7, 6]), [2, 8, 8, 7],
                           strides=2)
    tf.matmul(tf.zeros([4, 10]), tf.zeros([10, 3]))
    tf.matmul(tf.zeros([10, 4]), tf.zeros([3, 10]), transpose_a=True, transpose_b=True)
    tf.nn.relu(x)
  assert flops.graph_flops(g.get_operations()) == (
      2 * 2 * 8 * 8 * 3 * 3 * 3 * 5 + 2 * 2 * 4 * 4 * 6 * 5 * 5 * 7 +
      2 * 4 * 10 * 3 + 2 * 4 * 10 * 3)


def test_every_decoder_and_size_is_counted_from_its_graph():
  """Doubling the image side (one more block) adds FLOPs; other decoders count too."""
  blog = [flops.decoder_flops(settings.resolve('blog', {'image_size': s}))
          for s in (32, 64, 128)]
  assert blog[0] < blog[1] < blog[2]
  assert flops.decoder_flops(settings.resolve('blog', {'decoder': 'dcgan'})) > 0


def _positive_numbers(obj, path=''):
  if isinstance(obj, dict):
    for k, v in obj.items():
      yield from _positive_numbers(v, path + '/' + k)
  elif (isinstance(obj, numbers.Number) and not isinstance(obj, bool) and
        not path.endswith('/growth_mib') and  # a difference of two peaks, may be ~0
        not path.endswith('/amortized_overhead_fraction') and  # a difference of two times
        '/load_average/' not in path):  # 0 on an idle machine
    yield path, obj


@pytest.mark.e2e
def test_quick_benchmark_writes_every_figure(tmp_path):
  out = str(tmp_path / 'bench.json')
  proc = run_main('glo_tf1.cli.bench', '--quick', '--out', out)
  assert '| measurement | result |' in proc.stdout
  with open(out) as f:
    res = json.load(f)
  s = res['settings']
  for threads in (1, 2, 4):
    assert res['input_pipeline_images_per_sec']['jpeg_%d_threads' % threads] > 0
  assert {'cache_build', 'cache_1_threads'} <= set(res['input_pipeline_images_per_sec'])
  for key in ('images_per_sec', 'achieved_gflops', 'fraction_of_matmul_peak'):
    assert res['decoder_only'][key] > 0
  assert set(res['train_step_images_per_sec']) == {'jpeg', 'cache'}
  assert set(res['codes_step_ms']) == {'adam', 'lazy_adam', 'sgd'}
  for per_size in res['codes_step_ms'].values():
    assert sorted(map(int, per_size)) == s['num_codes']
  assert res['memory'] and all(m['peak_rss_mib_%d' % s['num_codes'][-1]] > 0
                               for m in res['memory'].values())
  assert set(res['targets']) >= {'lazy_adam_largest_within_5pct',
                                 'cache_train_step_at_least_90pct_of_decoder_only',
                                 'blog_summaries_at_most_3pct_slower'}
  summ = res['blog_summaries']
  assert summ['summary_step_ms'] > summ['bare_step_ms'] > 0  # a summary step does more
  assert abs(summ['amortized_overhead_fraction']) < 1
  prec = res['precision']  # bf16 against fp32, or why not on this CPU
  assert set(prec['ratio']) == {'decoder_only', 'train_step_cache', 'train_step_jpeg'} \
      if 'ratio' in prec else 'native bf16' in prec['skipped']
  values = dict(_positive_numbers({k: v for k, v in res.items() if k != 'settings'}))
  assert values and all(v > 0 for v in values.values()), values


def test_tower_counts_and_the_precisions_each_device_runs():
  assert towers.tower_counts(1) == [1]
  assert towers.tower_counts(3) == [1, 2, 3]
  assert towers.tower_counts(8) == [1, 2, 4, 8]
  assert towers.tower_counts(6) == [1, 2, 4, 6]
  cpu = towers.tower_precisions('cpu', 0)
  assert cpu['fp32'] is None and 'fp16' in cpu['fp16']
  gpu = towers.tower_precisions('gpu', 2)
  assert gpu['fp32'] is None and gpu['fp16'] is None and 'CPUs only' in gpu['bf16']


def test_placement_mode_reports_host_figures_for_each_placement(tmp_path):
  """glo-bench --mode placement: the notebook's placement leaves nothing on the host; the
  model_deploy one (--variable_device cpu) leaves the variables and updates there, and its
  measured host time is positive."""
  out = str(tmp_path / 'placement.json')
  md = str(tmp_path / 'placement.md')
  proc = run_main('glo_tf1.cli.bench', '--mode', 'placement', '--quick', '--out', out,
                  '--markdown', md)
  with open(out) as f:
    res = json.load(f)
  rows = res['placement']
  assert {(r['preset'], r['towers'], r['variable_device']) for r in rows} == {
      (p, k, v) for p in ('blog', 'paper', 'paper64') for k in (1, 2)
      for v in ('auto', 'cpu')}
  for r in rows:
    assert r['no_gpu_kernel'] == [] and not r['crossing_unknown']
    if r['variable_device'] == 'auto':
      assert r['host_variable_mb'] == 0 and r['host_updates'] == 0
      assert r['crossing_mb'] <= r['batch_mb'] + 1e-4
      assert r.get('host_update_ms', 0) == 0
    else:
      assert r['host_variable_mb'] > 0 and r['host_updates'] > 0
      assert r['crossing_mb'] > r['batch_mb']
      if r['towers'] == 1:
        assert r['host_update_ms'] > 0
  assert res['input_per_thread']['cache_1_threads'] > 0
  assert res['images_per_sec_needed']['blog'] == pytest.approx(
      res['gpu_tflops'] * 1e12 / flops.training_flops_per_image(settings.resolve('blog')))
  assert 'A GPU step needs' in proc.stdout and 'an estimate' in proc.stdout


def test_estimate_reads_the_reports_it_is_given_and_names_a_missing_one(tmp_path):
  """glo-bench --estimate: the paragraph of estimate.describe from --reports (default: the
  committed figures/bench/ of the checkout); a folder without them is a usage error (2)
  naming the missing file, and so is a malformed --estimate."""
  import os  # pylint: disable=import-outside-toplevel
  from conftest import ROOT  # pylint: disable=import-outside-toplevel
  from glo_tf1.bench import estimate  # pylint: disable=import-outside-toplevel
  proc = run_module('glo_tf1.bench', '--estimate', '1000:64:cache')
  assert proc.stdout.strip() == estimate.describe(os.path.join(ROOT, 'figures', 'bench'),
                                                  1000, 64, 'cache')
  assert 'images_per_sec' not in proc.stdout and not (tmp_path / 'bench.json').exists()
  proc = run_module('glo_tf1.bench', '--estimate', '1000:64:files', '--reports', tmp_path,
                    check=False)
  assert proc.returncode == 2 and str(tmp_path / 'bench.json') in proc.stderr
  for bad in ('1000:64', '1000:0:files', '1000:64:disk', 'x:64:files'):
    proc = run_module('glo_tf1.bench', '--estimate', bad, check=False)
    assert proc.returncode == 2 and '--estimate' in proc.stderr and repr(bad) in proc.stderr


def test_committed_placement_report_keeps_the_host_out_of_the_default_step():
  """figures/bench/placement.md (glo-bench --mode placement): 0 MB of variables and 0
  updates on the host for every preset with GPU towers under the default placement."""
  import os  # pylint: disable=import-outside-toplevel
  from conftest import ROOT  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, 'figures', 'bench', 'placement.json')) as f:
    rows = json.load(f)['placement']
  auto = [r for r in rows if r['variable_device'] == 'auto']
  assert len(auto) == 6
  assert all(r['host_variable_mb'] == 0 and r['host_updates'] == 0 for r in auto)


def test_committed_preset_times_cover_every_benchmark_preset_as_it_is_now():
  """figures/bench/presets.json (glo-bench --mode presets): a row for each benchmark preset
  at its current batch, size and channels, the per-1,000-step and num_steps figures from
  its own s/step (a preset changed since the report makes it stale)."""
  import os  # pylint: disable=import-outside-toplevel
  from conftest import ROOT  # pylint: disable=import-outside-toplevel
  from glo_tf1 import settings  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, 'figures', 'bench', 'presets.json')) as f:
    report = json.load(f)
  rows = {r['preset']: r for r in report['presets']}
  assert list(rows) == list(settings.DATASET_PRESETS)
  for name, r in rows.items():
    cfg = settings.resolve(name)
    assert (r['batch_size'], r['image_size'], r['channels']) == (
        cfg['batch_size'], cfg['image_size'], cfg['channels']), name
    assert r['seconds_per_step'] == min(r['rounds']) and len(r['rounds']) == 2
    assert abs(r['minutes_per_1000_steps'] - r['seconds_per_step'] * 1000 / 60) < 1e-9
    assert abs(r['hours_num_steps'] * 3600 - r['seconds_per_step'] * cfg['num_steps']) < 1e-6
  assert 'load_average' in report['machine']
