"""The data check: every kind of bad file is found with its reason, and its verdicts agree
with what TensorFlow's own decoder (the one training uses) does with each file."""
import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from conftest import corrupt_scan_jpeg
from conftest import prepare_from_argv
from conftest import run_module
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.data import images

# name -> words of the reason ('' for a good file).
EXPECTED = {
    'good.jpg': '', 'good_gray.jpg': '', 'good_progressive.jpg': '', 'good.png': '',
    'good_palette.png': '', 'good_rgba.png': '', 'good.bmp': '', 'good_still.gif': '',
    'zero.jpg': 'empty file (0 bytes)',
    'truncated.jpg': 'truncated JPEG',
    'truncated.png': 'truncated PNG',
    'truncated.bmp': 'truncated BMP',
    'text.jpg': 'not an image',
    'tiff.jpg': 'not an image TensorFlow decodes (TIFF',
    'png_named.jpg': 'wrongly labelled: PNG data named .jpg',
    'gif_named.jpg': 'wrongly labelled: GIF data named .jpg; animated GIF (2 frames)',
    'cmyk.jpg': 'CMYK JPEG',
    'deep.png': '16-bit PNG',
    'animated.gif': 'animated GIF (2 frames)',
    'animated.png': 'animated PNG (2 frames)',
    'palette.bmp': '8-bit (palette) BMP',
    'broken_link.jpg': 'unreadable: No such file',
}
# Files TensorFlow cannot decode at all (the others decode, but wrongly: see check_data).
TF_FAILS = {'zero.jpg', 'truncated.jpg', 'truncated.png', 'truncated.bmp', 'text.jpg',
            'tiff.jpg', 'broken_link.jpg'}


def _encode(image, fmt, **kwargs):
  buf = io.BytesIO()
  image.save(buf, format=fmt, **kwargs)
  return buf.getvalue()


def write_bad_and_good(folder):
  """One file of each kind in EXPECTED (the bad ones made the way they occur in the wild:
  cut-off downloads, renamed files, other encoders' options)."""
  os.makedirs(folder, exist_ok=True)
  rgb = np.random.RandomState(0).randint(0, 256, (20, 24, 3)).astype(np.uint8)
  im = Image.fromarray(rgb)
  frames = [im, Image.fromarray(255 - rgb)]
  jpg, png = _encode(im, 'JPEG'), _encode(im, 'PNG')
  contents = {
      'good.jpg': jpg,
      'good_gray.jpg': _encode(Image.fromarray(rgb[..., 0]), 'JPEG'),
      'good_progressive.jpg': _encode(im, 'JPEG', progressive=True),
      'good.png': png,
      'good_palette.png': _encode(im.convert('P'), 'PNG'),
      'good_rgba.png': _encode(im.convert('RGBA'), 'PNG'),
      'good.bmp': _encode(im, 'BMP'),
      'good_still.gif': _encode(im, 'GIF'),
      'zero.jpg': b'',
      'truncated.jpg': jpg[:len(jpg) * 2 // 3],
      'truncated.png': png[:len(png) * 2 // 3],
      'truncated.bmp': _encode(im, 'BMP')[:-100],
      'text.jpg': b'<html>404 not found</html>\n',
      'tiff.jpg': _encode(im, 'TIFF'),
      'png_named.jpg': png,
      'gif_named.jpg': _encode(frames[0], 'GIF', save_all=True, append_images=frames[1:]),
      'cmyk.jpg': _encode(im.convert('CMYK'), 'JPEG'),
      'deep.png': _encode(Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), 'PNG'),
      'animated.gif': _encode(frames[0], 'GIF', save_all=True, append_images=frames[1:]),
      'animated.png': _encode(frames[0], 'PNG', save_all=True, append_images=frames[1:]),
      'palette.bmp': _encode(im.convert('P'), 'BMP'),
  }
  for name, data in contents.items():
    with open(os.path.join(folder, name), 'wb') as f:
      f.write(data)
  os.symlink(os.path.join(folder, 'gone.jpg'), os.path.join(folder, 'broken_link.jpg'))
  return sorted(EXPECTED)


def _tf_decodes(paths):
  """{path: True if inputs.decode_any (training's decoder) decodes it}."""
  out = {}
  with tf.Graph().as_default(), tf.Session() as sess:
    ph = tf.placeholder(tf.string, [])
    image = images.decode_any(tf.io.read_file(ph))
    for p in paths:
      try:
        shape = sess.run(image, {ph: p}).shape
        out[p] = len(shape) == 3 and shape[2] == 3
      except tf.errors.OpError:
        out[p] = False
  return out


@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
  folder = str(tmp_path_factory.mktemp('zoo'))
  return folder, write_bad_and_good(folder)


def test_every_bad_kind_is_found_with_its_reason(zoo):
  folder, names = zoo
  bad = dict(data_check.check_files(folder, names))
  for name, words in EXPECTED.items():
    if words:
      assert name in bad and words in bad[name], (name, bad.get(name))
    else:
      assert name not in bad, (name, bad[name])


def test_verdicts_agree_with_tensorflows_decoder(zoo):
  """Independent reference: TensorFlow. Every good file decodes to [H, W, 3]; every file
  the check calls undecodable fails in TensorFlow; the rest decode (wrongly)."""
  folder, names = zoo
  ok = _tf_decodes([os.path.join(folder, n) for n in names])
  for name in names:
    assert ok[os.path.join(folder, name)] == (name not in TF_FAILS), name


def test_full_decode_finds_corrupt_data_behind_intact_headers(tmp_path):
  data = bytearray(_encode(Image.fromarray(
      np.random.RandomState(1).randint(0, 256, (32, 32, 3)).astype(np.uint8)), 'JPEG'))
  for k in range(len(data) // 3, 2 * len(data) // 3):  # garbage markers inside the scan
    data[k] = 0xFF if k % 2 == 0 else 0xC0
  (tmp_path / 'scan.jpg').write_bytes(bytes(data))
  assert data_check.check_files(str(tmp_path), ['scan.jpg']) == []  # headers are fine
  bad = data_check.check_files(str(tmp_path), ['scan.jpg'], decode=True)
  assert [n for n, _ in bad] == ['scan.jpg']
  assert not _tf_decodes([str(tmp_path / 'scan.jpg')])[str(tmp_path / 'scan.jpg')]


def _pixels(data):
  with Image.open(io.BytesIO(data)) as im:
    return np.asarray(im.convert('RGB'), np.float64)


def test_full_decode_names_a_jpeg_corrupt_in_its_entropy_coded_data(tmp_path):
  """libjpeg only warns about corrupt Huffman data: Pillow (and TensorFlow) decode on and
  hand back garbage. The strict decode makes the file bad, named with libjpeg's words."""
  bad, clean = corrupt_scan_jpeg()
  (tmp_path / 'mid.jpg').write_bytes(bad)
  (tmp_path / 'clean.jpg').write_bytes(clean)
  # The blind spot: intact headers, Pillow decodes without complaint, yet the pixels of
  # the lower half are not the clean image's (independent evidence of the corruption).
  assert data_check.check_files(str(tmp_path), ['mid.jpg']) == []
  damage = np.abs(_pixels(bad) - _pixels(clean)).mean(axis=(1, 2))
  assert damage[:16].max() < 1 and damage[-16:].min() > 10
  assert _tf_decodes([str(tmp_path / 'mid.jpg')])[str(tmp_path / 'mid.jpg')]
  got = data_check.check_files(str(tmp_path), ['clean.jpg', 'mid.jpg'], decode=True)
  assert [n for n, _ in got] == ['mid.jpg'] and got[0][1].startswith('corrupt JPEG data')
  assert data_check.strict_jpeg_problem(str(tmp_path / 'clean.jpg')) is None


def test_full_decode_passes_every_good_file(zoo):
  """Strictness flags no good file: the good JPEGs (baseline, grayscale, progressive) and
  the other formats decode without a warning."""
  folder, names = zoo
  good = [n for n in names if not EXPECTED[n]]
  assert data_check.check_files(folder, good, decode=True) == []
  assert data_check.check_files(folder, good, decode='entropy') == []  # training's check


@pytest.mark.e2e
def test_check_data_decode_and_the_heldout_check_name_a_corrupt_jpeg(tmp_path):
  """glo-check-data --decode names the file (exit 1); glo-evaluate's held-out check
  (report.heldout_images, verify) refuses naming it, before any work."""
  from glo_tf1.evaluation import report  # pylint: disable=import-outside-toplevel
  bad, clean = corrupt_scan_jpeg(seed=3)
  (tmp_path / 'a.jpg').write_bytes(clean)
  (tmp_path / 'b.jpg').write_bytes(bad)
  proc = run_module('glo_tf1.cli.check_data', '--data_dir', str(tmp_path), check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr  # headers only: it passes
  proc = run_module('glo_tf1.cli.check_data', '--data_dir', str(tmp_path), '--decode',
                    check=False)
  assert proc.returncode == 1, proc.stdout + proc.stderr
  assert '%s: corrupt JPEG data' % (tmp_path / 'b.jpg') in proc.stdout
  assert str(tmp_path / 'a.jpg') + ':' not in proc.stdout
  with pytest.raises(files.DataError) as e:
    report.heldout_images(str(tmp_path), ['a.jpg', 'b.jpg'], 10, 0, verify=True)
  assert '1 held-out image(s)' in str(e.value) and 'b.jpg: corrupt JPEG data' in str(e.value)


def test_jpeg_with_exif_thumbnail_and_trailing_bytes(tmp_path):
  """A thumbnail's own end marker must not hide a cut-off main image; padding after the
  end marker (some cameras) is not a fault."""
  rgb = np.full((16, 16, 3), 128, np.uint8)  # small: the thumbnail is within 1 KiB of the end
  thumb = _encode(Image.fromarray(rgb[:8, :8]), 'JPEG')
  exif = Image.Exif()
  exif[0x010E] = 'x' * 100  # a description, so the APP1 segment is not empty
  full = _encode(Image.fromarray(rgb), 'JPEG', exif=exif.tobytes())
  # Splice the thumbnail into an APP1 segment right after SOI.
  app1 = b'\xff\xe1' + (len(thumb) + 2).to_bytes(2, 'big') + thumb
  with_thumb = full[:2] + app1 + full[2:]
  (tmp_path / 'a.jpg').write_bytes(with_thumb)
  (tmp_path / 'b.jpg').write_bytes(with_thumb[:len(with_thumb) - 20])
  (tmp_path / 'c.jpg').write_bytes(full + b'\x00' * 100)
  bad = dict(data_check.check_files(str(tmp_path), ['a.jpg', 'b.jpg', 'c.jpg']))
  assert set(bad) == {'b.jpg'} and 'truncated JPEG' in bad['b.jpg']


def test_parallel_check_keeps_list_order(zoo, monkeypatch):
  folder, names = zoo
  many = [n for _ in range(3) for n in names]
  serial = [(n, data_check.header_problem(os.path.join(folder, n))) for n in many]
  monkeypatch.setattr(data_check, '_CHUNK', 5)  # many chunks, finishing in any order
  parallel = data_check.check_files(folder, many, num_workers=8)
  assert parallel == [(n, p) for n, p in serial if p]
  assert len(parallel) == 3 * sum(bool(w) for w in EXPECTED.values())


def test_skip_bad_images_lists_them_in_the_run_dir(zoo, tmp_path):
  folder, names = zoo
  run = str(tmp_path / 'run')
  os.makedirs(run)
  with pytest.raises(files.DataError) as e:
    data_check.check_for_training(folder, names, run)
  for name, words in EXPECTED.items():
    assert (name in str(e.value)) == bool(words), name
  assert not os.path.exists(os.path.join(run, data_check.SKIPPED_NAME))
  kept = data_check.check_for_training(folder, names, run, skip_bad=True)
  assert kept == [n for n in names if not EXPECTED[n]]
  assert sorted(data_check.read_skipped(run)) == sorted(n for n in names if EXPECTED[n])


@pytest.mark.e2e
def test_cli_lists_bad_files_and_exits_nonzero(zoo, tmp_path):
  folder, _ = zoo
  proc = run_module('glo_tf1.cli.check_data', '--data_dir', folder, check=False)
  assert proc.returncode == 1, proc.stderr
  # Only .jpg/.png/.bmp are listed from a folder (files.IMAGE_EXTENSIONS).
  listed = [n for n in EXPECTED if n.endswith(files.IMAGE_EXTENSIONS)]
  for name in listed:
    assert (os.path.join(folder, name) + ':' in proc.stdout) == bool(EXPECTED[name]), name
  assert '%d files checked' % len(listed) in proc.stdout
  good = tmp_path / 'good'
  good.mkdir()
  (good / 'a.jpg').write_bytes(_encode(Image.new('RGB', (8, 8)), 'JPEG'))
  proc = run_module('glo_tf1.cli.check_data', '--data_dir', str(good))
  assert '1 files checked' in proc.stdout and '0 bad' in proc.stdout
  proc = run_module('glo_tf1.cli.check_data', '--data_dir', str(tmp_path / 'nope'), check=False)
  assert proc.returncode == 2 and 'does not exist' in proc.stderr


@pytest.fixture
def flags_reset():
  yield
  from glo_tf1.cli import train as cli_train  # pylint: disable=import-outside-toplevel
  cli_train.FLAGS.unparse_flags()


def test_training_skips_bad_images_and_keeps_them_out_on_resume(tmp_path, flags_reset):  # pylint: disable=unused-argument
  from conftest import TINY  # pylint: disable=import-outside-toplevel
  from conftest import write_index_images  # pylint: disable=import-outside-toplevel
  data, run = str(tmp_path / 'data'), str(tmp_path / 'run')
  names = write_index_images(data, 10)
  with open(os.path.join(data, names[4]), 'wb') as f:
    f.write(_encode(Image.new('CMYK', (8, 8)), 'JPEG'))  # a JPEG named .png
  argv = ['--data_dir', data, '--run_dir', run] + TINY
  for extra in ([], ['--skip_bad_images'], []):  # refused; skipped; resumed without it
    if not extra and not os.path.exists(os.path.join(run, files.MANIFEST_NAME)):
      with pytest.raises(files.DataError, match=re.escape(
          '%s: wrongly labelled: JPEG data named .png; CMYK JPEG' % names[4])):
        prepare_from_argv(argv + extra)
      continue
    _, paths, _ = prepare_from_argv(argv + extra)
    assert [os.path.basename(p) for p in paths] == names[:4] + names[5:]
    manifest = files.read_manifest(os.path.join(run, files.MANIFEST_NAME))
    assert [m[1] for m in manifest] == names[:4] + names[5:]
    assert data_check.read_skipped(run) == [names[4]]


def test_training_names_and_skips_a_jpeg_corrupt_in_its_entropy_coded_data(tmp_path, flags_reset):  # pylint: disable=unused-argument
  """TensorFlow's decode trains on such a file's garbage pixels without an error, so the
  check at a run's start decodes each JPEG strictly (at 1/8 scale): the file is named and,
  with --skip_bad_images, skipped and listed, as a truncated one is."""
  from conftest import TINY  # pylint: disable=import-outside-toplevel
  data, run = tmp_path / 'data', str(tmp_path / 'run')
  data.mkdir()
  for k in range(4):
    bad, clean = corrupt_scan_jpeg(seed=k)
    (data / ('img_%d.jpg' % k)).write_bytes(bad if k == 2 else clean)
  gray = _encode(Image.fromarray(np.full((40, 32), 90, np.uint8)), 'JPEG')
  (data / 'img_4.jpg').write_bytes(gray)  # a good grayscale one passes
  assert data_check.check_files(str(data), ['img_2.jpg']) == []  # its headers are intact
  argv = ['--data_dir', data, '--run_dir', run] + TINY
  with pytest.raises(files.DataError) as e:
    prepare_from_argv(argv)
  assert '1 bad image(s)' in str(e.value)
  assert '%s: corrupt JPEG data (libjpeg: ' % (data / 'img_2.jpg') in str(e.value)
  _, paths, _ = prepare_from_argv(argv + ['--skip_bad_images'])
  assert [os.path.basename(p) for p in paths] == ['img_0.jpg', 'img_1.jpg', 'img_3.jpg',
                                                  'img_4.jpg']
  assert data_check.read_skipped(run) == ['img_2.jpg']


def test_the_check_says_which_images_are_grayscale_and_whether_channels_fits(zoo):
  """JPEG components and PNG colour types (an independent reading: PIL's modes) give the
  grayscale and colour counts; BMP and GIF headers say nothing. --channels 3 on only
  grayscale files, or --channels 1 on colour ones, gets a note."""
  folder = zoo[0]
  good = ['good.jpg', 'good_gray.jpg', 'good.png', 'good_palette.png', 'good_rgba.png',
          'good.bmp', 'good_still.gif']
  gray = []
  assert data_check.check_files(folder, good, gray=gray) == []
  for name, g in zip(good, gray):
    if name.endswith(('.bmp', '.gif')):
      assert g is None, name
    else:
      with Image.open(os.path.join(folder, name)) as im:
        assert g == (im.mode in ('L', 'LA')), (name, im.mode)
  assert data_check.colour_summary(gray) == '1 grayscale, 4 colour, 2 not said in the ' \
      'headers (BMP, GIF)'
  assert 'luma' in data_check.colour_summary(gray, channels=1)
  assert '--channels 1 trains them' in data_check.colour_summary([True, None], channels=3)
  assert '--channels' not in data_check.colour_summary([True, False], channels=3)
