"""The cost estimate of glo-evaluate (evaluation/estimate.py): its parts against hand
counts, the total against their sum, the parts' scaling with the protocol's counts, and
--estimate on a trained run (exit 0, nothing written, every part listed)."""
import os
import re

import pytest

from conftest import run_main
from glo_tf1.evaluation import estimate
from glo_tf1.evaluation import metrics
from glo_tf1.model import samplers

# Made-up rates: round numbers, so each part is a hand computation.
RATES = {'fit_step_s': 0.01, 'batch_size': 8, 'load_ips': 100.,
         'decode_ips': 1000., 'inception_ips': 10., 'gflops': 10., 'element_s': 1e-9, 'cube_s': 5e-8,
         'eigh_s': 2., 'probe_s': 3.}


def _counts(train=16, heldout=16, fid_images=40, samples=None, heldout_refs=None,
            pca=200, cached=()):
  fid = None
  if fid_images:
    fid = {'train': fid_images, 'samples': samples or fid_images,
           'heldout': fid_images if heldout_refs is None else heldout_refs,
           'samplers': list(samplers.SAMPLER_FNS), 'cached': list(cached)}
  return {'train': train, 'heldout': heldout, 'steps': 100, 'batch_size': 8,
          'latent_dims': 8, 'pixels': 16 * 16 * 3, 'batch_stats': True, 'pca_images': pca,
          'fid': fid}


def _parts(**kwargs):
  return {p: s for p, _, s in estimate.parts(RATES, _counts(**kwargs))}


def test_parts_against_hand_counts():
  parts = _parts()
  # 16 images in 2 batches of 8, each 100 steps of 0.01 s.
  assert parts['code fitting, training images'] == pytest.approx(2 * 100 * 0.01)
  assert parts['code fitting, held-out images'] == pytest.approx(2.)
  # 17 images: a third batch, padded (a batch costs the same however full).
  assert _parts(heldout=17)['code fitting, held-out images'] == pytest.approx(3.)
  # Loaded: 16 + 16 images measured, and the 40 of the FID training reference.
  assert parts[estimate.LOADING] == pytest.approx(72 / 100.)
  # Decoded in batches of 8: 16 learned codes twice (batch statistics), 40 of the
  # reference, 3 x 40 samples.
  assert parts[estimate.DECODING] == pytest.approx((2 * 2 + 5 + 3 * 5) * 8 / 1000.)
  inception = {p: s for p, s in parts.items() if p.startswith('Inception, ')}
  # The references (40 + 40), 3 samplers' 40, the reference's learned and PCA
  # reconstructions (40 + 40), the held-out optimised and PCA ones (16 + 16).
  assert sum(inception.values()) == pytest.approx((80 + 120 + 80 + 32) / 10.)
  assert len(inception) == 2 + len(samplers.SAMPLER_FNS) + 4
  for sampler in samplers.SAMPLER_FNS.values():
    assert parts['Inception, samples, %s' % sampler.label] == pytest.approx(4.)
  for metric in metrics.METRICS.values():
    if metric.context == 'inception':
      assert parts[metric.label] > 0, metric.name


def test_the_old_cost_notes_image_count():
  """fid_cost_note's case (50 asked, 6 training images, no held-out images): 36 images
  through Inception, 3 of them sample sets."""
  parts = _parts(train=6, heldout=0, fid_images=6, heldout_refs=0)
  inception = [s for p, s in parts.items() if p.startswith('Inception, ')]
  assert sum(inception) * RATES['inception_ips'] == pytest.approx(36)
  assert sum(p.startswith('Inception, samples') for p in parts) == 3
  assert 'code fitting, held-out images' not in parts


def test_total_is_the_sum_of_the_parts():
  for kwargs in ({}, {'fid_images': 0}, {'pca': None}, {'fid_images': 3000, 'samples': 50}):
    estimated = estimate.parts(RATES, _counts(**kwargs))
    record = estimate.record(estimated, RATES)
    assert record['estimated_total'] == pytest.approx(sum(record['estimated'].values()),
                                                      abs=0.01 * len(estimated))
    text = estimate.describe(estimated, RATES, 'made up')
    lines = text.splitlines()
    assert len(lines) == len(estimated) + 2 and lines[-1].split()[0] == 'total'
    assert lines[-1].endswith(estimate.duration(sum(s for _, _, s in estimated)))
    for (part, _, seconds), line in zip(estimated, lines[1:]):
      assert line.strip().startswith(part) and line.endswith(estimate.duration(seconds))


def test_parts_scale_with_the_protocols_counts():
  small, large = _parts(fid_images=100), _parts(fid_images=200)
  for part in small:
    if part.startswith('Inception, ') and 'held-out images, ' not in part:
      assert large[part] == pytest.approx(2 * small[part]), part  # linear in the images
  # Quadratic in the images, or more: at least doubled.
  for label in ('precision/recall', 'memorisation', 'KID'):
    assert large[label] >= 2 * small[label], label
  fitted, twice = _parts(train=16, heldout=16), _parts(train=32, heldout=32)
  for part in ('code fitting, training images', 'code fitting, held-out images'):
    assert twice[part] == pytest.approx(2 * fitted[part])


def test_cached_references_and_no_fid():
  parts = _parts(cached=('train',))
  assert parts['Inception, real training images'] == 0
  assert parts['Inception, real held-out images'] == pytest.approx(4.)
  assert not [p for p in _parts(fid_images=0) if p.startswith('Inception')]
  assert estimate.PCA not in _parts(pca=None)


def test_duration_words():
  assert estimate.duration(12.4) == '12 s'
  assert estimate.duration(270) == '4.5 minutes'
  assert estimate.duration(2.6 * 3600) == '2.6 hours'


def _listing(folder):
  return {os.path.join(d, n): os.stat(os.path.join(d, n)).st_mtime_ns
          for d, _, names in os.walk(folder) for n in names}


@pytest.mark.e2e
def test_estimate_flag_prints_every_part_and_writes_nothing(tiny_run, lfw_dir, tmp_path):
  """glo-evaluate --estimate on the tiny run: exit 0, the run directory unchanged (no
  eval/ folder), one line per part with the FID sets when FID's weights are installed."""
  from glo_tf1.evaluation import fid  # pylint: disable=import-outside-toplevel
  before = _listing(tiny_run)
  cache = tmp_path / 'cache'
  proc = run_main('glo_tf1.cli.evaluate', '--run_dir', tiny_run, '--data_dir', lfw_dir,
                  '--steps=20', '--max_images=10', '--fid_num_images=20', '--fid_cache_dir',
                  cache, '--estimate')
  assert proc.returncode == 0
  assert _listing(tiny_run) == before and not os.path.exists(cache)
  lines = proc.stdout.splitlines()
  head = next(i for i, line in enumerate(lines) if line.startswith('Estimated time'))
  assert 'measured now on this' in lines[head]
  shown = [re.split(r'\s{2,}', line.strip())[0] for line in lines[head + 1:]]
  assert shown[-1] == 'total'
  assert shown[:2] == ['code fitting, training images', 'code fitting, held-out images']
  try:
    fid.weights_file()
  except fid.FidUnavailable:
    return
  assert 'Inception, real training images' in shown and 'KID' in shown
  assert sum(s.startswith('Inception, samples') for s in shown) == len(samplers.SAMPLER_FNS)
  assert 'Evaluating' not in proc.stdout  # nothing else ran
