"""bash reproduce/paper.sh: a benchmark row end to end (conversion of IDX files written
here, training, evaluation on the test split with GLANN's FID protocol, the tables), its
argument errors, and a Ctrl-C that stops the script instead of tabulating a partial run."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'tests', 'data'))
from test_prepare import write_idx_set  # noqa: E402  pylint: disable=wrong-import-position

SCRIPT = os.path.join(ROOT, 'reproduce', 'paper.sh')
# The mnist preset with a small decoder, code and batch, so 200 steps take seconds.
TRAIN_FLAGS = ('--latent_dims=4 --decoder_filters=16,8 --batch_size=4 --shuffle_capacity=16 '
               '--min_after_dequeue=4 --num_reader_threads=1 --log_every_steps=50 '
               '--save_summaries_steps=50 --image_summary_steps=100 --save_images_steps=0')


def _env(tmp_path, **extra):
  env = dict(os.environ, PAPER_DATA_DIR=str(tmp_path / 'data'),
             PAPER_RUN_DIR=str(tmp_path / 'run'), PAPER_OUT_DIR=str(tmp_path / 'out'),
             PAPER_TRAIN_FLAGS=TRAIN_FLAGS,
             PAPER_EVAL_FLAGS='--steps=5', TF_CPP_MIN_LOG_LEVEL='2')
  env.update(extra)
  return env


def _script(tmp_path, *args, **extra):
  return subprocess.run(['bash', SCRIPT] + [str(a) for a in args], capture_output=True,
                        text=True, env=_env(tmp_path, **extra), timeout=600)


@pytest.mark.parametrize('args,message', [
    ([], 'usage: bash reproduce/paper.sh DATASET'),
    (['imagenet'], "DATASET must be mnist, fashion_mnist, svhn, cifar10, celeba64 or "
                   "celeba128, got 'imagenet'"),
    (['mnist', 'many'], "STEPS (2nd argument) must be a positive integer, got 'many'"),
    (['mnist', '--frobnicate'], 'unknown option --frobnicate'),
    (['celeba64'], 'celeba64 needs --source CELEBA_DIR')])
def test_bad_arguments_are_refused_before_anything_runs(tmp_path, args, message):
  proc = _script(tmp_path, *args)
  assert proc.returncode == 2 and message in proc.stderr, proc.stderr


@pytest.mark.e2e
def test_mnist_from_idx_files_to_tables(tmp_path):
  src = str(tmp_path / 'idx')
  write_idx_set(src)  # 5 training and 3 test digits in MNIST's four gzipped IDX files
  proc = _script(tmp_path, 'mnist', '200', '--source', src)
  assert proc.returncode == 2 and 'allow_checksum_mismatch' in proc.stderr  # not MNIST's
  # The test's own files are not the publisher's: the conversion takes them with the flag.
  proc = _script(tmp_path, 'mnist', '200', '--source', src,
                 PAPER_PREPARE_FLAGS='--allow_checksum_mismatch')
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  # Before evaluating: the estimated time of each part and the total.
  estimate = proc.stdout[proc.stdout.index('Estimated time'):proc.stdout.index('Evaluating')]
  assert 'code fitting, held-out images' in estimate and '  total  ' in estimate
  out = tmp_path / 'out'
  with open(out / 'evaluation.json') as f:
    report = json.load(f)
  assert report['step'] == 200 and report['config']['preset'] == 'mnist'
  assert report['config']['channels'] == 1 and report['config']['image_size'] == 32
  sections = report['sections']
  for name in ('train_learned', 'heldout', 'pca_train', 'pca_heldout'):
    assert name in sections, name
  assert sections['heldout']['num_images'] == 3 and sections['train']['num_images'] == 5
  table = (out / 'table.md').read_text()
  assert '| GLO (mnist) |' in table and 'PSNR' in table
  assert (out / 'table.tex').read_text().count('\\toprule') == 1
  sys.path.insert(0, os.path.join(ROOT, 'tests', 'evaluation'))
  from test_latex import check_compiles  # pylint: disable=import-outside-toplevel
  check_compiles(tmp_path, (out / 'table.tex').read_text())  # pdflatex, no overfull box
  assert 'GLO (mnist)' in (out / 'table.csv').read_text()
  if 'fid' in report:  # FID's weights are installed: GLANN's protocol, counts recorded
    proto = report['fid']['protocol']
    assert proto['name'] == 'glann' and proto['samples'] == 3
    assert proto['reference_images'] == 3 and proto['heldout_reconstructions'] == 3
    assert sections['fid_samples_full']['num_images'] == 3
    assert 'Protocol `glann`' in (out / 'evaluation.md').read_text()
    assert 'FID (held-out ref.)' in table or 'FID vs held-out' in table
