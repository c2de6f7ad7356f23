"""Every script of reproduce/ answers --help with its header comment (usage, arguments,
environment) at once, installing and running nothing (reproduce/help.sh)."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCED = ('env.sh', 'stack.sh', 'help.sh', 'children.sh', 'owned.sh')  # sourced by the others, never run
SCRIPTS = sorted(n for n in os.listdir(os.path.join(ROOT, 'reproduce'))
                 if n.endswith('.sh') and n not in SOURCED)


def _header(path):
  lines = []
  with open(path) as f:
    for i, line in enumerate(f):
      if i == 0 and line.startswith('#!'):
        continue
      if not line.startswith('#'):
        break
      lines.append(line[2:] if line.startswith('# ') else line[1:])
  return ''.join(lines)


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('flag', ['--help', '-h'])
def test_every_script_prints_its_header_for_help_and_does_nothing_else(script, flag,
                                                                       tmp_path):
  path = os.path.join(ROOT, 'reproduce', script)
  venv = str(tmp_path / 'venv')
  proc = subprocess.run(['bash', path, flag], capture_output=True, text=True, timeout=30,
                        cwd=str(tmp_path), env=dict(os.environ, GLO_VENV=venv))
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout == _header(path) and len(proc.stdout.splitlines()) >= 2
  assert not os.path.exists(venv) and os.listdir(str(tmp_path)) == []  # nothing made


def test_celeba_refuses_an_option_as_its_data_folder(tmp_path):
  proc = subprocess.run(['bash', os.path.join(ROOT, 'reproduce', 'celeba.sh'), '--data'],
                        capture_output=True, text=True, timeout=30, cwd=str(tmp_path))
  assert proc.returncode == 2 and 'usage: bash reproduce/celeba.sh' in proc.stderr
  assert os.listdir(str(tmp_path)) == []
