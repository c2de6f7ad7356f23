"""One trainer writes into a run directory at a time (issue 14): a second stops at once
naming the first, a holder killed with -9 leaves no stale lock, and a lock file removed
by its holder is never held twice."""
import builtins
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from conftest import TINY
from conftest import run_module
from conftest import write_index_images
from glo_tf1 import rundir
from glo_tf1.rundir import lock as run_lock


def _args(data, run, *extra):
  return ['--data_dir', data, '--run_dir', run] + TINY + [str(e) for e in extra]


def test_a_lock_removed_by_its_holder_is_never_held_twice(tmp_path, monkeypatch):
  """A failed start removes its lock file; a trainer that opened that file just before
  locks a file no longer at RUN/lock, so it must notice and lock the new one, or two
  trainers would each hold 'the' lock."""
  run = str(tmp_path / 'run')
  os.makedirs(run)
  path = os.path.join(run, rundir.LOCK_NAME)
  stale = open(path, 'a+')  # opened, then its holder ended and removed it
  os.unlink(path)
  real_open = open
  monkeypatch.setattr(builtins, 'open', lambda name, *a, **k: stale if (
      name == path and not stale.closed) else real_open(name, *a, **k))
  with run_lock.exclusive(run):
    assert stale.closed and os.path.exists(path)  # dropped once seen not to be RUN/lock
    with pytest.raises(rundir.RunDirError, match='in use by pid %d' % os.getpid()):
      run_lock._lock(run, path)  # pylint: disable=protected-access


@pytest.mark.e2e
def test_second_trainer_stops_at_once_naming_the_first(tmp_path):
  """Issue 14, problem 2: two trainers in one run directory both ran. The lock is held
  while a trainer runs (here: this process), and released by the kernel on kill -9."""
  data = str(tmp_path / 'data')
  write_index_images(data, 8)
  run = str(tmp_path / 'run')
  with run_lock.exclusive(run):
    started = time.time()
    proc = run_module('glo_tf1.cli.train', *_args(data, run, '--num_steps=2'), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'in use by pid %d' % os.getpid() in proc.stderr
    assert time.time() - started < 60
    assert not os.path.exists(os.path.join(run, 'manifest.tsv'))  # wrote nothing
  # A holder killed with -9 leaves no stale lock.
  code = ('import sys, time; sys.path.insert(0, %r)\n'
          'from glo_tf1.rundir import lock\n'
          'with lock.exclusive(%r):\n  print("held", flush=True); time.sleep(60)\n'
          % (ROOT, run))
  holder = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    with pytest.raises(rundir.RunDirError, match='in use by pid %d' % holder.pid):
      with run_lock.exclusive(run):
        pass
  finally:
    holder.kill()
    holder.wait(30)
  with run_lock.exclusive(run):
    pass
