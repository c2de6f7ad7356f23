"""--precision=bf16 trains like fp32: the demo configuration from the same seed under
--deterministic, in fp32 and in bf16, keeps the training loss within 5% of fp32's over the
run and the learned-code PSNR within 0.5 dB; glo-evaluate reads the bf16 checkpoint
unchanged; a run resumes with another precision, also one saved before the setting
existed; an unsupported one stops before anything is written."""
import json
import os
import re

import numpy as np
import pytest

from conftest import prepare_from_argv
from conftest import run_module
from glo_tf1 import io
from glo_tf1 import rundir
from glo_tf1 import settings
from glo_tf1.deploy import precision
from glo_tf1.rundir import config as run_config

NATIVE_BF16 = bool(precision.cpu_flags() & set(precision.NATIVE_BF16_FEATURES))
STEPS, EVERY, WINDOW = 600, 25, 4  # losses logged every 25 steps, compared per 100 steps


def _train(lfw_dir, run, prec, *extra):
  out = run_module('glo_tf1.cli.train', '--preset=demo', '--data_dir', lfw_dir,
                   '--run_dir', run, '--num_steps=%d' % STEPS, '--deterministic',
                   '--precision=%s' % prec, '--log_every_steps=%d' % EVERY,
                   '--save_checkpoint_steps=%d' % STEPS, '--image_summary_steps=10000',
                   *extra).stdout
  assert 'x batch 32, variables on /cpu:0, %s, preset demo' % prec in out, out
  return [float(x) for x in re.findall(r'loss ([0-9.]+)', out)]


def _learned_code_psnr(run, lfw_dir, out_dir):
  run_module('glo_tf1.cli.evaluate', '--run_dir', run, '--data_dir', lfw_dir,
             '--steps=20', '--max_images=32', '--out_dir', out_dir, '--nofid')
  with open(os.path.join(out_dir, 'evaluation.json')) as f:
    return json.load(f)['sections']['train_learned']['psnr_db']


@pytest.mark.e2e
@pytest.mark.skipif(not NATIVE_BF16, reason='this CPU has no native bf16 instructions '
                    '(avx512_bf16 or amx_bf16): --precision=bf16 is refused here')
def test_bf16_trains_the_demo_like_fp32(lfw_dir, tmp_path):
  runs = {p: str(tmp_path / p) for p in ('fp32', 'bf16')}
  losses = {p: _train(lfw_dir, run, p) for p, run in runs.items()}
  assert len(losses['fp32']) == len(losses['bf16']) == 1 + STEPS // EVERY
  assert losses['fp32'][-1] < 0.2 * losses['fp32'][0]  # it learned
  # Over the run: the mean logged loss of every 100 steps within 5% of fp32's (the same
  # batches in the same order: --deterministic).
  fp32, bf16 = (np.array(losses[p][1:]).reshape(-1, WINDOW).mean(1) for p in runs)
  np.testing.assert_allclose(bf16, fp32, rtol=0.05)
  psnr = {p: _learned_code_psnr(run, lfw_dir, str(tmp_path / ('eval_' + p)))
          for p, run in runs.items()}
  assert abs(psnr['bf16'] - psnr['fp32']) <= 0.5, psnr
  assert psnr['fp32'] > 15  # learned codes reconstruct far better than a blank image
  # Not a model setting: the bf16 run resumes in fp32; both are recorded.
  run_module('glo_tf1.cli.train', '--data_dir', lfw_dir, '--run_dir', runs['bf16'],
             '--num_steps=%d' % (STEPS + 10), '--precision=fp32')
  with open(os.path.join(runs['bf16'], 'config.json')) as f:
    assert json.load(f)['precision'] == 'fp32'
  with open(os.path.join(runs['bf16'], 'provenance.json')) as f:
    prov = json.load(f)
  assert prov['precision'] == 'bf16' and prov['resumes'][-1]['precision'] == 'fp32'
  assert prov['towers'] == '1 tower on /cpu:0'


def test_bf16_without_native_instructions_stops_before_writing(lfw_dir, tmp_path,
                                                               monkeypatch):
  monkeypatch.setattr(precision, 'cpu_flags', lambda: {'avx512f', 'avx2'})
  run = str(tmp_path / 'run')
  with pytest.raises(precision.PrecisionError, match='no native bf16 instructions'):
    prepare_from_argv(['--preset=demo', '--data_dir', lfw_dir, '--run_dir', run,
                                 '--precision=bf16'])
  assert not os.path.exists(run)
  with pytest.raises(settings.ConfigError, match='--precision'):
    settings.resolve('demo', {'precision': 'fp8'})


def test_a_run_saved_before_precision_existed_resumes_and_loads_in_fp32(tmp_path):
  saved = dict(settings.resolve('demo', {'image_size': 16}))  # a plain, editable dict
  del saved['precision']
  io.write_json(str(tmp_path / rundir.CONFIG_NAME), saved)
  cfg, resumed = run_config.resolve_for_run(str(tmp_path), None, {})
  assert resumed and cfg['precision'] == 'fp32' and cfg['image_size'] == 16
  cfg, _ = run_config.resolve_for_run(str(tmp_path), None, {'precision': 'bf16'})
  assert cfg['precision'] == 'bf16'  # not a model setting: no refusal
  # What glo-evaluate and glo-figures load (evaluation/runs.py).
  assert settings.validate(settings.migrate(saved))['precision'] == 'fp32'
  assert 'image_size' in settings.FIXED_ON_RESUME
  older = {k: v for k, v in saved.items() if k != 'image_size'}
  with pytest.raises(settings.ConfigError, match='lacks the model settings image_size'):
    settings.migrate(older)  # never filled in
