"""glo_tf1/io.py: writes are whole or absent, temp names never collide, JSON errors name
the file."""
import collections
import os
import re
import shutil
import stat
import threading

import pytest

from glo_tf1 import io


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
  path = str(tmp_path / 'config.json')
  io.write_json(path, {'a': 1})
  with pytest.raises(RuntimeError):
    with io.atomic_open(path) as f:
      f.write('{"half": ')
      raise RuntimeError('crash mid-write')
  assert io.read_json(path) == {'a': 1}
  assert os.listdir(tmp_path) == ['config.json']


def test_concurrent_writers_never_share_a_temp_file(tmp_path):
  path = str(tmp_path / 'manifest.tsv')
  texts = ['%d\n' % i * 20000 for i in range(8)]
  threads = [threading.Thread(target=io.write_text_atomic, args=(path, t)) for t in texts]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  with open(path) as f:
    assert f.read() in texts  # one writer's whole text, never a mixture
  assert os.listdir(tmp_path) == ['manifest.tsv']


def test_read_json_missing_invalid_and_wrong_type(tmp_path):
  assert io.read_json(str(tmp_path / 'nope.json')) is None
  assert io.read_json(str(tmp_path / 'nope.json'), missing={}) == {}
  bad = tmp_path / 'bad.json'
  bad.write_text('{"a": ')
  with pytest.raises(io.FileFormatError, match=str(bad)):
    io.read_json(str(bad))
  listed = tmp_path / 'list.json'
  listed.write_text('[1, 2]')
  with pytest.raises(io.FileFormatError, match='should hold a JSON object, found list'):
    io.read_json(str(listed))
  assert io.read_json(str(listed), expect=list) == [1, 2]
  binary = tmp_path / 'binary.json'
  binary.write_bytes(b'\xff\xfe\x00')
  with pytest.raises(io.FileFormatError, match='binary.json'):
    io.read_json(str(binary))


@pytest.mark.parametrize('umask', [0o022, 0o077, 0o002])
def test_written_files_get_the_umasks_mode_not_0600(tmp_path, umask):
  """What open() would give (0666 less the umask): a shared run directory's config.json,
  manifest and reports stay readable where the umask allows."""
  old = os.umask(umask)
  try:
    path = str(tmp_path / 'a.json')
    io.write_json(path, {'a': 1})
    plain = str(tmp_path / 'plain')
    open(plain, 'w').close()
  finally:
    os.umask(old)
  assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
  assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_temporary_target_names_what_an_unfinished_atomic_write_was_to_become(tmp_path):
  """The temporary atomic_open writes in is recognised by temporary_target (a resume that
  cleans up after a killed writer reads the rule beside the writer that makes the names)."""
  target = str(tmp_path / 'train.txt')
  with io.atomic_open(target) as f:
    (temp,) = [n for n in os.listdir(str(tmp_path)) if n != 'train.txt']
    assert io.temporary_target(temp) == 'train.txt'
    f.write('x')
  for name in ('train.txt', '.tmp', '.train.tmp', 'train.txt.abc.tmp', '.abc.txt'):
    assert io.temporary_target(name) is None, name


def fake_free(monkeypatch, free):
  """shutil.disk_usage reports `free` bytes free on every file system (records the paths
  it was asked about)."""
  asked = []
  usage = collections.namedtuple('usage', 'total used free')

  def disk_usage(path):
    asked.append(path)
    return usage(10 * free + 1, 9 * free + 1, free)
  monkeypatch.setattr(shutil, 'disk_usage', disk_usage)
  return asked


def test_check_room_refuses_naming_folder_size_and_free_space(tmp_path, monkeypatch):
  asked = fake_free(monkeypatch, 50 * 10 ** 6)
  target = str(tmp_path / 'new' / 'deeper')  # not there yet: its nearest folder is asked
  with pytest.raises(io.NoRoomError) as e:
    io.check_room(target, 40 * 10 ** 9, 'the export of 9999999 images')
  assert asked == [str(tmp_path)]
  text = str(e.value)
  assert text.startswith(target + ': not enough free space in %s' % tmp_path)
  assert re.search(r'needs about 40\.0 GB \(42\.0 GB with a margin of 5% and 16\.8 MB\), '
                   r'50\.0 MB free', text), text
  assert '\n' not in text
  # The margin: 5% of the estimate plus ROOM_RESERVE stay free.
  fits = int((50 * 10 ** 6 - io.ROOM_RESERVE) / (1 + io.ROOM_MARGIN))
  assert io.check_room(target, fits - 1, 'x') == 50 * 10 ** 6
  with pytest.raises(io.NoRoomError):
    io.check_room(target, fits + 100, 'x')
  assert not os.path.exists(target)


def test_png_bound_holds_for_noise_and_used_bytes_counts_blocks(tmp_path):
  """png_bytes bounds the room of the least compressible PNG (noise) of each shape, within
  a factor of 2 of it; used_bytes adds up the files' blocks."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  rng = np.random.RandomState(0)
  for i, shape in enumerate([(16, 16, 1), (32, 32, 3), (64, 64, 3), (150, 150, 3)]):
    pixels = rng.randint(0, 256, shape).astype(np.uint8)
    path = str(tmp_path / ('%d.png' % i))
    Image.fromarray(pixels.squeeze()).save(path)
    actual = os.stat(path).st_blocks * 512
    assert actual <= io.png_bytes(*shape) <= 2 * max(actual, io.BLOCK), shape
  assert io.used_bytes(str(tmp_path)) == sum(
      os.stat(str(p)).st_blocks * 512 for p in tmp_path.iterdir())
  assert io.used_bytes(str(tmp_path / 'none')) == 0


def test_claim_refuses_a_file_it_did_not_write_and_records_what_it_writes(tmp_path):
  """io.claim: a user's file of an output's name is refused, named, and left as it was;
  a recorded or recognised (adopted) file may be replaced; a check alone records nothing."""
  out = tmp_path / 'out'
  out.mkdir()
  (out / 'report.md').write_text('my notes')
  targets = [str(out / 'report.md'), str(out / 'report.json')]
  with pytest.raises(io.NotOursError) as e:
    io.claim(targets, '--out_dir')
  assert str(e.value).startswith('--out_dir: %s already exists and glo-tf1 did not write it'
                                 % (out / 'report.md'))
  assert 'report.json' not in str(e.value)  # absent: nothing to refuse
  assert sorted(os.listdir(out)) == ['report.md']  # no record written on a refusal
  assert (out / 'report.md').read_text() == 'my notes'
  adopt = lambda path: open(path).read().startswith('| ours')
  (out / 'report.md').write_text('| ours, from before the record')
  io.claim(targets, '--out_dir', adopt, record=False)
  assert sorted(os.listdir(out)) == ['report.md']  # a check alone records nothing
  io.claim(targets, '--out_dir', adopt)
  assert io.read_json(str(out / io.WRITTEN)) == {'written': ['report.json', 'report.md']}
  (out / 'report.md').write_text('edited by hand, still ours by the record')
  io.claim(targets, '--out_dir')  # recorded: no adopt needed
  new = tmp_path / 'new' / 'sub'  # a folder that does not exist yet
  io.claim([str(new / 'a.csv')], '--out')
  assert io.read_json(str(new / io.WRITTEN)) == {'written': ['a.csv']}
  (out / io.WRITTEN).write_text('{"written": "all"}')
  with pytest.raises(io.FileFormatError, match=re.escape(str(out / io.WRITTEN))):
    io.claim(targets, '--out_dir')
  assert io.starts_with(str(out / 'report.md'), [b'edited', b'x'])
  assert not io.starts_with(str(out), [b'x']) and not io.starts_with(str(out / 'no'), [b'x'])
