"""glo_tf1/checks.py: the strict-int, inside-a-folder and writable-folder checks that every
stage asks, each against cases whose answer is known by construction."""
import os

import numpy as np
import pytest

from glo_tf1 import checks


@pytest.mark.parametrize('value', [0, 7, -3, 2 ** 40, np.int32(5), np.int64(-1), np.uint8(3)])
def test_is_int_takes_python_and_numpy_integers(value):
  assert checks.is_int(value)


@pytest.mark.parametrize('value', [True, False, np.bool_(True), 1.0, 2.5, '3', None, [1],
                                   np.float32(1)])
def test_is_int_refuses_bools_floats_and_strings(value):
  assert not checks.is_int(value)


def test_inside_sees_through_dotdot_and_symbolic_links(tmp_path):
  top = tmp_path / 'top'
  (top / 'sub').mkdir(parents=True)
  other = tmp_path / 'other'
  other.mkdir()
  assert checks.inside(str(top), str(top))
  assert checks.inside(str(top / 'sub' / 'x.png'), str(top))
  assert checks.inside(str(top) + '/', str(top))
  # '..' climbs out: top/sub/../../other is other, not under top.
  assert not checks.inside(str(top / 'sub' / '..' / '..' / 'other'), str(top))
  assert checks.inside(str(other / '..' / 'top' / 'sub'), str(top))
  # A name sharing the folder's prefix is not inside it.
  (tmp_path / 'topper').mkdir()
  assert not checks.inside(str(tmp_path / 'topper'), str(top))
  # A link under `other` that leads into `top` is inside top; one out of top is not.
  os.symlink(str(top / 'sub'), str(other / 'into_top'))
  os.symlink(str(other), str(top / 'out_of_top'))
  assert checks.inside(str(other / 'into_top' / 'new'), str(top))
  assert not checks.inside(str(top / 'out_of_top' / 'new'), str(top))
  # The folder itself given through a link.
  os.symlink(str(top), str(tmp_path / 'top_link'))
  assert checks.inside(str(top / 'sub'), str(tmp_path / 'top_link'))


def test_unwritable_answers_none_for_a_folder_it_can_write_and_leaves_nothing(tmp_path):
  assert checks.unwritable(str(tmp_path)) is None
  assert os.listdir(str(tmp_path)) == []


def test_unwritable_creates_only_when_asked(tmp_path):
  new = tmp_path / 'a' / 'b'
  assert checks.unwritable(str(new)) == 'does not exist' and not new.exists()
  assert checks.unwritable(str(new), create=True) is None and new.is_dir()


def test_unwritable_names_a_file_in_place_of_the_folder(tmp_path):
  afile = tmp_path / 'file'
  afile.write_text('x')
  assert checks.unwritable(str(afile)) == 'is a file, not a folder'
  assert checks.unwritable(str(afile), create=True) == 'is a file, not a folder'
  why = checks.unwritable(str(afile / 'sub'), create=True)
  assert why.startswith('cannot be created (') and 'directory' in why, why


def test_unwritable_refuses_a_read_only_file_system_even_to_root():
  """/proc takes no new files, whoever asks (root included: permissions are not the test)."""
  why = checks.unwritable('/proc')
  assert why is not None and why.startswith('is not writable ('), why
  why = checks.unwritable('/proc/glo_checks_test', create=True)
  assert why is not None and why.startswith('cannot be created ('), why
