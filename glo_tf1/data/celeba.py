r"""The aligned CelebA layout: check it, and write its partitions as file lists.

  glo-celeba-lists --celeba_dir CELEBA --out_dir LISTS

expects CELEBA/img_align_celeba/*.jpg and CELEBA/list_eval_partition.txt (lines
`000001.jpg 0`, 0 train, 1 validation, 2 test; Kaggle's list_eval_partition.csv is
accepted too). Checks that the partition file parses, that every file it names exists, and
that every image's header is sound (check.py); then writes LISTS/train.txt, valid.txt and
test.txt (paths relative to img_align_celeba, for `--file_list`). When something is
missing it stops and says what to download and where to put it (exit status 2).
Used by reproduce/celeba.sh.
"""
import os

from glo_tf1 import io
from glo_tf1.data import check as data_check
from glo_tf1.data import files

IMAGES_DIR = 'img_align_celeba'
PARTITION_FILES = ('list_eval_partition.txt', 'list_eval_partition.csv')
PARTITIONS = ('train', 'valid', 'test')  # codes 0, 1, 2
STANDARD_COUNTS = (162770, 19867, 19962)  # 202,599 images in all

DOWNLOAD_HINT = (
    'Download aligned CelebA from its page, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html '
    '(Google Drive or Baidu links there): "Img/img_align_celeba.zip" (Align&Cropped Images, '
    '202,599 JPEGs of 178x218) and "Eval/list_eval_partition.txt". Unzip so that '
    '{d}/img_align_celeba/000001.jpg exists and put list_eval_partition.txt in {d}/.')


class LayoutError(files.DataError):
  """The CelebA folder is missing or incomplete; the message says what to download."""


def _fail(celeba_dir, what):
  raise LayoutError('%s\n%s' % (what, DOWNLOAD_HINT.format(d=celeba_dir)))


def read_partition(path):
  """{name: partition code 0/1/2} from list_eval_partition.txt (or Kaggle's .csv): UTF-8
  text, with or without a byte-order mark (files.read_lines refuses UTF-16 and binary
  content, naming the line)."""
  out = {}
  for number, line in files.read_lines(path):
    if number == 1 and line.replace(' ', '') == 'image_id,partition':
      continue
    fields = line.replace(',', ' ').split()
    if len(fields) != 2 or fields[1] not in ('0', '1', '2'):
      raise LayoutError('%s line %d: expected "<image>.jpg <0|1|2>", got %r'
                        % (path, number, line))
    if fields[0] in out:
      raise LayoutError('%s line %d: %s is listed twice' % (path, number, fields[0]))
    out[fields[0]] = int(fields[1])
  if not out:
    raise LayoutError('%s lists no images' % path)
  return out


def check_layout(celeba_dir, check_headers=True, heldout=True):
  """Checks the layout; returns {partition name: sorted file names}.

  Args:
    heldout: the test partition is evaluated on, so it must hold images (refused now,
      not after days of training).
  Raises:
    LayoutError: folder, images or partition file missing, a listed image missing, a
      malformed partition file, an empty training (or, with `heldout`, test) partition,
      or unreadable images (named).
  """
  images = os.path.join(celeba_dir, IMAGES_DIR)
  if not os.path.isdir(celeba_dir):
    _fail(celeba_dir, 'CelebA folder %s does not exist.' % celeba_dir)
  if not os.path.isdir(images):
    _fail(celeba_dir, 'CelebA folder %s has no %s/ folder.' % (celeba_dir, IMAGES_DIR))
  partition_path = next((os.path.join(celeba_dir, p) for p in PARTITION_FILES
                         if os.path.isfile(os.path.join(celeba_dir, p))), None)
  if partition_path is None:
    _fail(celeba_dir, 'CelebA folder %s has no %s (the train/validation/test split).'
          % (celeba_dir, PARTITION_FILES[0]))
  partition = read_partition(partition_path)
  present = {n for n in os.listdir(images) if n.lower().endswith('.jpg')}
  missing = sorted(set(partition) - present)
  if missing:
    _fail(celeba_dir, 'CelebA is incomplete: %s; found %d JPEGs there.' % (
        files.describe_missing(missing, len(partition), 'images that %s lists'
                               % os.path.basename(partition_path), images), len(present)))
  split = {name: sorted(n for n, p in partition.items() if p == code)
           for code, name in enumerate(PARTITIONS)}
  counts = tuple(len(split[p]) for p in PARTITIONS)
  print('CelebA at %s: %d images (train %d, valid %d, test %d).'
        % (celeba_dir, len(partition), *counts), flush=True)
  if counts != STANDARD_COUNTS:
    print('note: the standard aligned CelebA split is train %d, valid %d, test %d; this '
          'one differs, so its numbers are not comparable with published ones.'
          % STANDARD_COUNTS, flush=True)
  if not split['train']:
    raise LayoutError('%s has no training images (partition 0)' % partition_path)
  if heldout and not split['test']:
    raise LayoutError('%s has no test images (partition 2), the held-out images the run '
                      'is evaluated on; fix the file, or train and evaluate on every listed '
                      'image without a held-out set (celeba.sh: CELEBA_SPLIT=all)'
                      % partition_path)
  if check_headers:
    bad = data_check.check_files(images, sorted(partition))
    if bad:
      raise LayoutError('%d CelebA image(s) cannot be read; download them again:\n%s'
                        % (len(bad), data_check.format_problems(bad, images, 20)))
  return split


def write_lists(split, out_dir):
  """Writes one file list per partition and `all.txt`, every listed file (the data the
  published run trained on); returns {partition or 'all': path}."""
  os.makedirs(out_dir, exist_ok=True)
  out = {}
  lists = dict(split, all=sorted(n for names in split.values() for n in names))
  for name, names in lists.items():
    path = os.path.join(out_dir, name + '.txt')
    io.write_text_atomic(path, ''.join(n + '\n' for n in names))
    out[name] = path
  return out
