"""glo_tf1/io.py: writes are whole or absent, temp names never collide, JSON errors name
the file."""
import os
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
