"""Any name, any file (issue 14): file names with any character, names that are not UTF-8,
special files, symlinks, --file_list entries, EXIF orientation and huge images."""
import io as bytes_io
import os
import struct

import numpy as np
import pytest
from PIL import Image

from conftest import TINY
from conftest import prepare_from_argv
from conftest import run_module
from conftest import write_index_images
from glo_tf1.cli import train as cli_train
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.evaluation import runs

# Names a file system accepts that broke the manifest: tab, newline, carriage return,
# form feed and Unicode line separators (str.splitlines splits on them), a backslash.
ODD_NAMES = ['tab\there.png', 'new\nline.png', 'cr\rret.png', 'ff\x0c.png',
             'ls\u2028ps\u2029nel\x85.png', 'back\\slash\\t.png', 'quote"\'.png',
             'sp ace.png', 'é.png']


@pytest.fixture
def flags_reset():
  yield
  cli_train.FLAGS.unparse_flags()


def _args(data, run, *extra):
  return ['--data_dir', data, '--run_dir', run] + TINY + [str(e) for e in extra]


def _images(folder, names):
  """A distinct small PNG under each of `names`."""
  os.makedirs(folder, exist_ok=True)
  for i, name in enumerate(names):
    Image.fromarray(np.full((20, 20, 3), 10 * i, np.uint8)).save(
        os.path.join(folder, name), format='PNG')


def test_manifest_round_trips_every_name_and_reads_old_manifests(tmp_path):
  path = str(tmp_path / 'manifest.tsv')
  rows = [(i, n, 100 + i, 'h%d' % i) for i, n in enumerate(ODD_NAMES)]
  files.write_manifest(path, rows)
  assert files.read_manifest(path) == rows
  with open(path, 'rb') as f:  # one line per row and a version line
    assert f.read().count(b'\n') == len(rows) + 2
  old = str(tmp_path / 'old.tsv')  # the unversioned format of earlier runs
  with open(old, 'w') as f:
    f.write('index\tpath\tsize\thash\n0\ta\\b.png\t5\tff\n')
  assert files.read_manifest(old) == [(0, 'a\\b.png', 5, 'ff')]
  with open(old, 'a') as f:
    f.write('1\tbroken\n')
  with pytest.raises(files.DataError, match='old.tsv, line 3 is damaged'):
    files.read_manifest(old)


def test_odd_names_train_resume_and_evaluate(tmp_path, flags_reset):  # pylint: disable=unused-argument
  """Issue 14, problem 3: a tab or newline in a name broke every resume, evaluate and
  figures. Preparing a run twice is a new run, then a resume checked against the
  manifest; the evaluation reader finds every image by its name."""
  data = str(tmp_path / 'data')
  _images(data, ODD_NAMES)
  run = str(tmp_path / 'run')
  _, paths, resumed = prepare_from_argv(_args(data, run))
  assert not resumed and sorted(os.path.basename(p) for p in paths) == sorted(ODD_NAMES)
  _, again, resumed = prepare_from_argv(_args(data, run, '--num_steps=5'))
  assert resumed and again == paths
  read = runs.read_run(run)
  assert read['names'] == sorted(ODD_NAMES) and read['paths'] == paths


def test_names_that_are_not_utf8_are_refused_up_front_shown_escaped(tmp_path, flags_reset):  # pylint: disable=unused-argument
  data = str(tmp_path / 'data')
  write_index_images(data, 8)
  _images(data, [os.fsdecode(b'caf\xe9.png')])  # Latin-1, not UTF-8
  run = str(tmp_path / 'run')
  with pytest.raises(files.DataError, match=r'not valid UTF-8.*First: caf\\udce9\.png'):
    prepare_from_argv(_args(data, run))
  assert not os.path.exists(run)  # refused before anything was written (no temp file)


@pytest.mark.e2e
def test_special_files_are_listed_never_opened(tmp_path):
  """Issue 14, problem 5: a FIFO named x.jpg hung the trainer and the data check."""
  data = str(tmp_path / 'data')
  names = write_index_images(data, 8)
  os.mkfifo(os.path.join(data, 'x.jpg'))
  proc = run_module('glo_tf1.cli.check_data', '--data_dir', data, timeout=120)
  assert 'not regular files (FIFO, device or socket) left out, never opened: x.jpg' \
      in proc.stdout and '8 files checked' in proc.stdout
  assert files.list_images(data) == names
  # Named directly (a file list, or a file turned into a FIFO after listing): bad, unopened.
  assert data_check.header_problem(os.path.join(data, 'x.jpg')) == \
      'not a regular file (FIFO): never opened for reading'
  assert files.fingerprint(os.path.join(data, 'x.jpg')) == (-1, 'not-a-file')


def test_symlinked_folders_are_followed_and_bad_links_are_skippable(tmp_path, flags_reset):  # pylint: disable=unused-argument
  data = str(tmp_path / 'data')
  write_index_images(data, 8)
  outside = str(tmp_path / 'outside')
  _images(outside, ['linked.png'])
  os.symlink(outside, os.path.join(data, 'sub'))          # a symlinked folder
  os.symlink(data, os.path.join(data, 'loop'))            # a folder loop
  os.symlink('nowhere.png', os.path.join(data, 'dangling.png'))
  os.symlink('self.png', os.path.join(data, 'self.png'))  # a link to itself
  names = files.list_images(data)
  assert 'sub/linked.png' in names and not any(n.startswith('loop/') for n in names)
  run = str(tmp_path / 'run')
  with pytest.raises(files.DataError) as e:
    prepare_from_argv(_args(data, run))
  assert 'dangling.png: unreadable: No such file' in str(e.value)
  assert 'self.png: unreadable: Too many levels of symbolic links' in str(e.value)
  _, paths, _ = prepare_from_argv(_args(data, run, '--skip_bad_images'))
  kept = [os.path.relpath(p, data) for p in paths]
  assert 'sub/linked.png' in kept and len(kept) == 9
  assert sorted(data_check.read_skipped(run)) == ['dangling.png', 'self.png']


def test_file_list_entries_are_normalised_and_kept_inside_data_dir(tmp_path):
  data = str(tmp_path / 'data')
  names = write_index_images(data, 3)
  listing = str(tmp_path / 'list.txt')
  with open(listing, 'w') as f:
    f.write('%s\n./%s\n.//%s\n%s\n' % (names[0], names[0], names[0], names[1]))
  assert files.list_images(data, listing) == names[:2]  # one code per file
  _images(str(tmp_path), ['secret.png'])
  for entry in ('../secret.png', str(tmp_path / 'secret.png'), 'sub/../../secret.png'):
    with open(listing, 'w') as f:
      f.write('%s\n%s\n' % (names[0], entry))
    with pytest.raises(files.DataError, match='line 2: .* is outside --data_dir'):
      files.list_images(data, listing)


def test_a_file_list_with_a_byte_order_mark_is_read_and_utf16_refused_by_name(tmp_path):
  """A Windows editor's "UTF-8 with BOM" and CRLF lines name the same files; UTF-16 or a
  binary file is refused naming it (the first name read as '\\ufeffimg_00000.png')."""
  data = str(tmp_path / 'data')
  names = write_index_images(data, 2)
  listing = tmp_path / 'list.txt'
  listing.write_text('\r\n'.join(names), encoding='utf-8-sig')
  assert files.list_images(data, str(listing)) == names
  listing.write_text('\n'.join(names), encoding='utf-16')
  with pytest.raises(files.DataError, match='list.txt is UTF-16 text'):
    files.list_images(data, str(listing))
  listing.write_bytes(names[0].encode() + b'\n\x00\x01\x02\n')
  with pytest.raises(files.DataError, match='list.txt line 2 holds NUL bytes'):
    files.list_images(data, str(listing))


def test_missing_listed_files_are_counted_and_a_few_named(tmp_path):
  """Issue 22: a file list naming 80,000 absent files reported only the first."""
  data = str(tmp_path / 'data')
  names = write_index_images(data, 2)
  listing = tmp_path / 'list.txt'
  absent = ['gone_%05d.jpg' % i for i in range(80000)]
  listing.write_text('\n'.join(absent))
  with pytest.raises(files.DataError) as e:
    files.list_images(data, str(listing))
  assert str(e.value) == ('file list %s: 80000 of 80000 listed files are missing from %s: '
                          'gone_00000.jpg, gone_00001.jpg, gone_00002.jpg, gone_00003.jpg, '
                          'gone_00004.jpg (first 5)' % (listing, data))
  listing.write_text('\n'.join(names + ['./%s' % names[0], 'gone.jpg']))
  with pytest.raises(files.DataError, match=r'1 of 3 listed files is missing from .*data: '
                     r'gone.jpg$'):  # './a' is 'a': one file
    files.list_images(data, str(listing))


def _jpeg(width=24, height=20, **kwargs):
  buf = bytes_io.BytesIO()
  rgb = np.random.RandomState(0).randint(0, 256, (height, width, 3)).astype(np.uint8)
  Image.fromarray(rgb).save(buf, format='JPEG', **kwargs)
  return buf.getvalue()


def test_exif_orientation_is_read_as_pillow_reads_it_and_noted_once(tmp_path, capsys):
  data = str(tmp_path)
  for value in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = value
    with open(os.path.join(data, 'o%d.jpg' % value), 'wb') as f:
      f.write(_jpeg(exif=exif.tobytes()))
  names = sorted(os.listdir(data))
  for name in names:
    with Image.open(os.path.join(data, name)) as im:
      expected = im.getexif().get(0x0112)
    problem = data_check.header_problem(os.path.join(data, name))
    if expected == 1:
      assert problem == ''
    else:
      assert problem == 'note: EXIF orientation %s (%d)' % (
          data_check.ORIENTATIONS[expected], expected)
  kept = data_check.check_for_training(data, names, str(tmp_path))  # good images, kept
  assert kept == names
  out = capsys.readouterr().out
  assert out.count('note:') == 1 and 'note: 7 JPEG(s) carry an EXIF orientation' in out


def test_images_above_the_pixel_limit_are_refused_before_decoding(tmp_path):
  """A 10000 x 10000 image took 3.7 GB in training. Its header says how big it is."""
  small = tmp_path / 'small.jpg'
  small.write_bytes(_jpeg(24, 20))
  assert data_check.check_files(str(tmp_path), ['small.jpg'], max_pixels=480) == []
  assert data_check.check_files(str(tmp_path), ['small.jpg'], max_pixels=479) == [
      ('small.jpg', 'too large: 24 x 20 pixels (0 megapixels) is above the limit of '
       '0.000479 (--max_megapixels); its decoded pixels alone would take 0.0 GB')]
  # A header that claims 10000 x 10000 (the file is small: nothing could decode it).
  data = bytearray(_jpeg(24, 20))
  sof = next(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xC0)
  data[sof + 5:sof + 9] = struct.pack('>HH', 10000, 10000)
  (tmp_path / 'huge.jpg').write_bytes(bytes(data))
  for decode in (False, True):
    bad = data_check.check_files(str(tmp_path), ['huge.jpg'], decode=decode)
    assert bad == [('huge.jpg', 'too large: 10000 x 10000 pixels (100 megapixels) is above '
                    'the limit of 50 (--max_megapixels); its decoded pixels alone would '
                    'take 0.3 GB')]
  # Without a limit its headers are fine: the limit is what refuses it.
  assert data_check.check_files(str(tmp_path), ['huge.jpg'], max_pixels=0) == []


def test_skipped_list_round_trips_odd_names(tmp_path):
  path = str(tmp_path / data_check.SKIPPED_NAME)
  bad = [(n, 'reason\twith tab') for n in ODD_NAMES]
  data_check.write_skipped(path, bad)
  assert data_check.read_skipped(str(tmp_path)) == ODD_NAMES
