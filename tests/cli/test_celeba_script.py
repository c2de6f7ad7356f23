"""bash reproduce/celeba.sh on a tiny fake aligned-CelebA layout: layout errors say what to
download; a full run trains the training partition, evaluates the test partition, writes
the figures, and a second run resumes. Without the venv (GLO_ENV_DRY_RUN=1 and recording
glo-train, glo-evaluate, glo-figures on PATH): one tower by default, as the published run;
CELEBA_GPUS=K says how K towers differ from it; a bad CELEBA_GPUS is refused."""
import json
import os
import re
import subprocess
import sys

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


def _recorded_script(tmp_path, *args, env=None):
  """Runs the script without installing anything: env.sh only prints its choice
  (GLO_ENV_DRY_RUN=1), glo-celeba-lists is the real module, and glo-train, glo-evaluate
  and glo-figures only append their arguments to calls.jsonl and print '<name> ran'.
  Returns (process, {command: [its arguments]}) on the fake layout at tmp_path/celeba
  (8 training images)."""
  layout = str(tmp_path / 'celeba')
  if not os.path.isdir(layout):
    fake_celeba(layout)
  fake_bin = tmp_path / 'bin'
  fake_bin.mkdir(exist_ok=True)
  calls = tmp_path / 'calls.jsonl'
  if calls.exists():
    calls.unlink()
  (fake_bin / 'glo-celeba-lists').write_text(
      '#!/bin/sh\nPYTHONPATH=%s exec %s -m glo_tf1.cli.celeba "$@"\n' % (ROOT, sys.executable))
  for name in ('glo-train', 'glo-evaluate', 'glo-figures'):
    (fake_bin / name).write_text(
        '#!%s\nimport json, sys\nwith open(%r, "a") as f:\n'
        '  f.write(json.dumps([%r] + sys.argv[1:]) + "\\n")\nprint(%r)\n'
        % (sys.executable, str(calls), name, name + ' ran'))
  for path in fake_bin.iterdir():
    path.chmod(0o755)
  full = {k: v for k, v in os.environ.items() if not k.startswith('CELEBA_')}
  full.update(PATH='%s:%s' % (fake_bin, os.environ['PATH']), GLO_ENV_DRY_RUN='1',
              CELEBA_RUN_DIR=str(tmp_path / 'run'),
              CELEBA_FIGURES_DIR=str(tmp_path / 'figures'))
  full.update(env or {})
  proc = subprocess.run(['bash', SCRIPT, layout] + [str(a) for a in args],
                        capture_output=True, text=True, env=full, timeout=120)
  recorded = {}
  if calls.exists():
    for line in calls.read_text().splitlines():
      call = json.loads(line)
      recorded.setdefault(call[0], []).append(call[1:])
  return proc, recorded


def _flag(args, name):
  return args[args.index(name) + 1]


def test_default_trains_one_tower_as_the_published_run(tmp_path):
  proc, calls = _recorded_script(tmp_path)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  ((train,),) = [calls['glo-train']]
  assert _flag(train, '--num_gpus') == '1' and _flag(train, '--num_steps') == '990000'
  assert _flag(train, '--preset') == 'blog'
  assert 'CELEBA_GPUS' not in proc.stdout  # nothing differs from the published run
  assert len(calls['glo-evaluate']) == 1 and len(calls['glo-figures']) == 2
  # The start line's time estimate is the one docs/celeba.md quotes for the default run.
  from glo_tf1.bench import estimate  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, 'docs', 'celeba.md')) as f:
    docs = ' '.join(f.read().split())
  reports = os.path.join(ROOT, 'figures', 'bench')
  want = estimate.describe(reports, 990000, 32, 'files')
  assert want in ' '.join(proc.stdout.split()) and '> ' + want in docs
  assert '> ' + estimate.describe(reports, 990000, 32, 'cache') in docs
  assert 'about 45.2 hours' in want  # 31,680,000 images at the bench's 195 img/s
  proc, calls = _recorded_script(tmp_path, 100, 1)  # the same, as arguments
  assert proc.returncode == 0 and _flag(calls['glo-train'][0], '--num_gpus') == '1'
  assert 'CELEBA_GPUS' not in proc.stdout


def test_more_towers_say_how_the_run_differs_before_training(tmp_path):
  proc, calls = _recorded_script(tmp_path, 100, env={'CELEBA_GPUS': '2'})
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert _flag(calls['glo-train'][0], '--num_gpus') == '2'
  text = ' '.join(proc.stdout.split())
  # 8 training images: 100 steps of 2 x 32 are 800 epochs, one tower's 400; the published
  # run's 990,000 x 32 images take 990000 / 2 steps of 64.
  assert ('CELEBA_GPUS=2: 2 towers of 32 images, 64 images a step, where the published run '
          'trained one tower of 32 (NUM_GPUS = 1). 100 steps are 800.0 epochs of the 8 '
          'images (CELEBA_SPLIT=train), 2 times one tower\'s 400.0. CELEBA_STEPS=495000 '
          '(990000 / 2) trains as many images as the published run') in text
  assert '"CelebA towers"' in text  # the row of docs/departures.md
  # A batch size from CELEBA_TRAIN_FLAGS counts, and the note comes before training.
  proc, calls = _recorded_script(tmp_path, 100, 3,
                                 env={'CELEBA_TRAIN_FLAGS': '--image_size=16 --batch_size 4'})
  assert proc.returncode == 0, proc.stdout + proc.stderr
  text = ' '.join(proc.stdout.split())
  assert ('3 towers of 4 images, 12 images a step' in text and
          '100 steps are 150.0 epochs' in text and
          'CELEBA_STEPS=2640000 (990000 x 32 / 4 / 3)' in text), text
  assert text.index('CELEBA_GPUS=3') < text.index('glo-train ran')
  proc, calls = _recorded_script(tmp_path, env={'CELEBA_GPUS': 'auto',
                                                'CELEBA_SPLIT': 'all'})
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert _flag(calls['glo-train'][0], '--num_gpus') == 'auto'
  text = ' '.join(proc.stdout.split())
  assert ('990000 steps are K x 2640000.0 epochs of the 12 images (CELEBA_SPLIT=all); '
          'CELEBA_STEPS=990000 / K trains as many images') in text, text


def test_gpu_machines_read_the_cache_cpu_machines_the_files(tmp_path):
  """CELEBA_INPUT=auto: the decoded-image cache (2 reader threads) where env.sh picked
  the GPU stack, the JPEG files elsewhere; explicit choices win; others are refused."""
  proc, calls = _recorded_script(tmp_path, env={'GLO_DEVICE': 'gpu'})
  assert proc.returncode == 0, proc.stdout + proc.stderr
  train = calls['glo-train'][0]
  assert _flag(train, '--input_cache') == 'auto' and _flag(train, '--num_reader_threads') == '2'
  assert 'Input: the decoded-image cache' in proc.stdout
  proc, calls = _recorded_script(tmp_path, env={'GLO_DEVICE': 'cpu'})
  assert proc.returncode == 0 and '--input_cache' not in calls['glo-train'][0]
  assert 'Input: the JPEG files' in proc.stdout
  proc, calls = _recorded_script(tmp_path, env={'GLO_DEVICE': 'gpu', 'CELEBA_INPUT': 'files'})
  assert proc.returncode == 0 and '--input_cache' not in calls['glo-train'][0]
  proc, calls = _recorded_script(tmp_path, env={'GLO_DEVICE': 'cpu', 'CELEBA_INPUT': 'cache'})
  assert proc.returncode == 0 and _flag(calls['glo-train'][0], '--input_cache') == 'auto'
  proc, calls = _recorded_script(tmp_path, env={'CELEBA_INPUT': 'tfrecord'})
  assert proc.returncode == 2 and not calls
  assert "CELEBA_INPUT must be auto, cache or files, got 'tfrecord'" in proc.stderr


@pytest.mark.parametrize('gpus', ['0', '-1', 'two', '1.5', '02'])
def test_a_bad_tower_count_is_refused_before_anything_runs(tmp_path, gpus):
  proc, calls = _recorded_script(tmp_path, env={'CELEBA_GPUS': gpus})
  assert proc.returncode == 2
  assert ("CELEBA_GPUS (3rd argument) must be a positive integer or auto, got '%s'" % gpus
          in proc.stderr)
  assert not calls and not os.path.exists(tmp_path / 'run')
  proc, calls = _recorded_script(tmp_path, '1e6')
  assert proc.returncode == 2 and 'CELEBA_STEPS (2nd argument) must be a positive' in proc.stderr


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
  with pytest.raises(celeba.LayoutError, match=r'1 of 4 images that list_eval_partition.txt '
                     r'lists is missing from .*img_align_celeba: 000003.jpg;'):
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


def test_partition_file_encodings_are_read_or_refused_naming_file_and_line(tmp_path):
  """Issue 22: a UTF-8 byte-order mark read as part of the first name ('missing
  000001.jpg'); UTF-16 or binary content gave a UnicodeDecodeError traceback."""
  layout = fake_celeba(str(tmp_path / 'celeba'), n=4, partition=(2, 1, 1))
  part = os.path.join(layout, 'list_eval_partition.txt')
  with open(part, encoding='utf-8') as f:
    text = f.read()
  with open(part, 'w', encoding='utf-8-sig') as f:  # Notepad's "UTF-8 with BOM"
    f.write(text.replace('\n', '\r\n'))
  assert celeba.check_layout(layout)['train'] == ['000001.jpg', '000002.jpg']
  with open(part, 'w', encoding='utf-16') as f:
    f.write(text)
  with pytest.raises(files.DataError, match='%s is UTF-16 text; save it as UTF-8'
                     % re.escape(part)):
    celeba.check_layout(layout)
  with open(part, 'wb') as f:
    f.write(text.encode() + b'\x00\x00\x00\x01 0\n')
  with pytest.raises(files.DataError, match='%s line 5 holds NUL bytes' % re.escape(part)):
    celeba.check_layout(layout)
  with open(part, 'wb') as f:
    f.write(text.encode() + b'\x89PNG\r\n\x1a\n')
  with pytest.raises(files.DataError, match=r'line 5 is not UTF-8 text \(\\x89PNG\)'):
    celeba.check_layout(layout)


def test_an_empty_test_partition_is_refused_before_training(tmp_path):
  """Issue 22: a partition file without test images was accepted, and the run failed in
  its evaluation, after training. CELEBA_SPLIT=all needs no test partition."""
  layout = fake_celeba(str(tmp_path / 'celeba'), n=4, partition=(3, 1, 0))
  with pytest.raises(celeba.LayoutError, match='has no test images \\(partition 2\\)'):
    celeba.check_layout(layout)
  assert celeba.check_layout(layout, heldout=False)['test'] == []
  proc, calls = _recorded_script(tmp_path)
  assert proc.returncode == 2 and 'has no test images' in proc.stderr, proc.stderr
  assert 'glo-train' not in calls
  proc, calls = _recorded_script(tmp_path, env={'CELEBA_SPLIT': 'all'})
  assert proc.returncode == 0, proc.stderr
  assert len(calls['glo-train']) == 1


@pytest.mark.e2e
def test_end_to_end_on_fake_celeba_and_resume(tmp_path):
  tmp = str(tmp_path)
  layout = fake_celeba(str(tmp_path / 'celeba'))
  proc = _script(layout, 4, tmp=tmp)  # one tower by default
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


def test_split_all_trains_on_every_listed_file_and_evaluates_training_images_only(tmp_path):
  """CELEBA_SPLIT=all: glo-train gets the list of all 12 listed files and glo-evaluate no
  held-out images (the commands as the script runs them; test_end_to_end_on_fake_celeba
  trains for real)."""
  proc, calls = _recorded_script(tmp_path, env={'CELEBA_SPLIT': 'all'})
  assert proc.returncode == 0, proc.stdout + proc.stderr
  ((train,),) = [calls['glo-train']]
  listed = files.list_images(_flag(train, '--data_dir'), _flag(train, '--file_list'))
  assert os.path.basename(_flag(train, '--file_list')) == 'all.txt'
  assert listed == ['%06d.jpg' % i for i in range(1, 13)]  # the 12 listed
  ((evaluate,),) = [calls['glo-evaluate']]
  assert '--data_dir' not in evaluate and '--file_list' not in evaluate
  proc, _ = _recorded_script(tmp_path, env={'CELEBA_SPLIT': 'valid'})
  assert proc.returncode == 2 and 'CELEBA_SPLIT must be train or all' in proc.stderr


def test_a_benchmark_preset_trains_its_own_steps_and_a_bad_preset_is_refused(tmp_path):
  """reproduce/paper.sh celeba64 runs this script with CELEBA_PRESET=celeba64."""
  from glo_tf1 import settings  # pylint: disable=import-outside-toplevel
  proc, calls = _recorded_script(tmp_path, env={'CELEBA_PRESET': 'celeba64'})
  assert proc.returncode == 0, proc.stdout + proc.stderr
  ((train,),) = [calls['glo-train']]
  assert _flag(train, '--preset') == 'celeba64'
  assert _flag(train, '--num_steps') == str(settings.PRESETS['celeba64']['num_steps'])
  proc, _ = _recorded_script(tmp_path, env={'CELEBA_PRESET': 'mnist'})
  assert proc.returncode == 2 and 'CELEBA_PRESET must be blog, celeba64 or celeba128' in \
      proc.stderr
