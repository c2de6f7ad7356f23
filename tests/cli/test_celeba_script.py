"""bash reproduce/celeba.sh on a tiny fake aligned-CelebA layout: layout errors say what to
download; a full run trains the training partition, evaluates the test partition, writes
the figures, and a second run resumes."""
import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from glo_tf1.data import celeba
from glo_tf1.data import files

SCRIPT = os.path.join(ROOT, 'reproduce', 'celeba.sh')
# The blog preset at 16 px with a small decoder and batch, so a step takes milliseconds.
TRAIN_FLAGS = ('--image_size=16 --latent_dims=8 --decoder_filters=16,8 --batch_size=4 '
               '--shuffle_capacity=16 --min_after_dequeue=4 --num_reader_threads=1 '
               '--save_summaries_steps=2 --image_summary_steps=4 --log_every_steps=2')
FIGURE_FLAGS = ('--num_samples=4 --num_reconstructions=4 --interp_steps=5 '
                '--num_interpolations=2 --num_queries=2 --neighbours=2')


def fake_celeba(folder, n=12, partition=(8, 2, 2)):
  """n JPEGs of 178 x 218 (aligned CelebA's size) and list_eval_partition.txt."""
  rng = np.random.RandomState(0)
  os.makedirs(os.path.join(folder, 'img_align_celeba'))
  y = np.linspace(0, 1, 218)[:, None, None]
  x = np.linspace(0, 1, 178)[None, :, None]
  lines = []
  for i in range(1, n + 1):
    im = rng.uniform(0, 255, 3) * (0.4 + 0.6 * y) * (0.6 + 0.4 * x)
    Image.fromarray(im.astype(np.uint8)).save(
        os.path.join(folder, 'img_align_celeba', '%06d.jpg' % i), quality=90)
    split = 0 if i <= partition[0] else (1 if i <= partition[0] + partition[1] else 2)
    lines.append('%06d.jpg %d\n' % (i, split))
  with open(os.path.join(folder, 'list_eval_partition.txt'), 'w') as f:
    f.writelines(lines)
  return folder


def _script(celeba_dir, *args, env=None, tmp):
  full = dict(os.environ, CELEBA_RUN_DIR=os.path.join(tmp, 'run'),
              CELEBA_FIGURES_DIR=os.path.join(tmp, 'figures'),
              CELEBA_TRAIN_FLAGS=TRAIN_FLAGS, CELEBA_EVAL_FLAGS='--steps=3 --nofid',
              CELEBA_FIGURE_FLAGS=FIGURE_FLAGS)
  full.update(env or {})
  return subprocess.run(['bash', SCRIPT, celeba_dir] + [str(a) for a in args],
                        capture_output=True, text=True, env=full, timeout=600)


@pytest.mark.e2e
def test_missing_or_incomplete_layout_says_what_to_download(tmp_path):
  tmp = str(tmp_path)
  proc = _script(str(tmp_path / 'nowhere'), tmp=tmp)
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert 'does not exist' in proc.stderr and 'img_align_celeba.zip' in proc.stderr
  assert 'list_eval_partition.txt' in proc.stderr
  assert not os.path.exists(os.path.join(tmp, 'run', 'config.json'))

  layout = fake_celeba(str(tmp_path / 'celeba'), n=4, partition=(2, 1, 1))
  os.remove(os.path.join(layout, 'img_align_celeba', '000003.jpg'))
  with pytest.raises(celeba.LayoutError, match=r'1 of the 4 images .* missing \(first: '
                     r'000003.jpg\)'):
    celeba.check_layout(layout)
  os.remove(os.path.join(layout, 'list_eval_partition.txt'))
  with pytest.raises(celeba.LayoutError, match='has no list_eval_partition.txt'):
    celeba.check_layout(layout)


def test_partition_file_and_unreadable_images_are_checked(tmp_path):
  layout = fake_celeba(str(tmp_path / 'celeba'), n=4, partition=(2, 1, 1))
  part = os.path.join(layout, 'list_eval_partition.txt')
  with open(part, 'a') as f:
    f.write('000001.jpg 7\n')
  with pytest.raises(celeba.LayoutError, match='line 5: expected'):
    celeba.check_layout(layout)
  with open(part, 'w') as f:  # Kaggle's CSV is read the same way
    f.write('image_id,partition\n000001.jpg,0\n000002.jpg,0\n000003.jpg,1\n000004.jpg,2\n')
  os.rename(part, part[:-4] + '.csv')
  split = celeba.check_layout(layout)
  assert split == {'train': ['000001.jpg', '000002.jpg'], 'valid': ['000003.jpg'],
                   'test': ['000004.jpg']}
  with open(os.path.join(layout, 'img_align_celeba', '000002.jpg'), 'wb') as f:
    f.write(b'\xff\xd8\xff\xe0 truncated')
  with pytest.raises(celeba.LayoutError, match='000002.jpg'):
    celeba.check_layout(layout)


@pytest.mark.e2e
def test_end_to_end_on_fake_celeba_and_resume(tmp_path):
  tmp = str(tmp_path)
  layout = fake_celeba(str(tmp_path / 'celeba'))
  proc = _script(layout, 4, 1, tmp=tmp)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert 'train 8, valid 2, test 2' in proc.stdout
  assert 'Starting at step 0: 8 images, 1 tower on /cpu:0 (no GPU visible)' in proc.stdout
  run = os.path.join(tmp, 'run')
  with open(os.path.join(run, 'config.json')) as f:
    cfg = json.load(f)
  assert cfg['preset'] == 'blog' and cfg['image_size'] == 16 and cfg['num_steps'] == 4
  manifest = files.read_manifest(os.path.join(run, 'manifest.tsv'))
  assert [m[1] for m in manifest] == ['%06d.jpg' % i for i in range(1, 9)]  # train only
  figures = os.path.join(tmp, 'figures')
  for name in ('reconstructions.png', 'samples.png', 'interpolation.png',
               'nearest_neighbours.png', 'evaluation.json', 'evaluation.md',
               'post_grids.png', 'post_nearest_neighbours.png'):
    assert os.path.getsize(os.path.join(figures, name)) > 0, name
  with open(os.path.join(figures, 'evaluation.json')) as f:
    report = json.load(f)
  assert report['step'] == 4
  assert report['sections']['heldout']['num_images'] == 2  # the test partition
  assert report['sections']['heldout']['identical_to_training'] == 0
  assert report['sections']['train']['num_images'] == 8

  with open(os.path.join(run, 'celeba_partitions', 'all.txt')) as f:
    assert f.read().split() == ['%06d.jpg' % i for i in range(1, 13)]  # every listed file

  # Re-running resumes the same run (GPU count as an environment variable this time).
  proc = _script(layout, 6, env={'CELEBA_GPUS': '1'}, tmp=tmp)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert 'Resuming at step 4' in proc.stdout
  with open(os.path.join(figures, 'evaluation.json')) as f:
    assert json.load(f)['step'] == 6


@pytest.mark.e2e
def test_split_all_trains_on_every_listed_file_and_evaluates_training_images_only(tmp_path):
  tmp = str(tmp_path)
  layout = fake_celeba(str(tmp_path / 'celeba'))
  proc = _script(layout, 2, 1, env={'CELEBA_SPLIT': 'all',
                                    'CELEBA_FIGURE_FLAGS': FIGURE_FLAGS + ' --nn_max_images=5'},
                 tmp=tmp)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  manifest = files.read_manifest(os.path.join(tmp, 'run', 'manifest.tsv'))
  assert [m[1] for m in manifest] == ['%06d.jpg' % i for i in range(1, 13)]  # the 12 listed
  with open(os.path.join(tmp, 'figures', 'evaluation.json')) as f:
    assert 'heldout' not in json.load(f)['sections']
  proc = _script(layout, 2, 1, env={'CELEBA_SPLIT': 'valid'}, tmp=tmp)
  assert proc.returncode == 2 and 'CELEBA_SPLIT must be train or all' in proc.stderr
