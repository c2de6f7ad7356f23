"""What the scripts in reproduce/ write by default is either committed (the --publish
folders, figures/demo and figures/demo_seeds) or ignored by git, so a run leaves
`git status` clean: reproduce/celeba.sh's figures/celeba/ among them."""
import glob
import os
import re
import subprocess

import pytest

from conftest import ROOT


def _git(*args):
  return subprocess.run(['git', '-C', ROOT] + list(args), capture_output=True, text=True,
                        timeout=60)


@pytest.fixture(scope='module')
def checkout():
  if _git('rev-parse', '--is-inside-work-tree').stdout.strip() != 'true':
    pytest.skip('not a git checkout')


def _default_outputs():
  """(script, folder) of every default `${VAR:-runs/...}` or `${VAR:-figures/...}`."""
  found = set()
  for script in sorted(glob.glob(os.path.join(ROOT, 'reproduce', '*.sh'))):
    with open(script) as f:
      for path in re.findall(r':-((?:runs|figures)/[\w.-]*)', f.read()):
        found.add((os.path.basename(script), path))
  return sorted(found)


def _ignored(path):
  return _git('check-ignore', '-q', '--no-index', path).returncode == 0


def test_the_default_outputs_are_found():
  outputs = dict(_default_outputs())
  assert ('celeba.sh', 'figures/celeba') in _default_outputs()
  assert outputs['gpu_check.sh'] == 'runs/gpu_check'


def test_every_default_output_is_committed_or_ignored(checkout):
  for script, folder in _default_outputs():
    tracked = _git('ls-files', folder).stdout.split()
    probe = folder.rstrip('-') + '/some_output.png'
    if tracked:  # a published folder: its files must not be ignored
      assert not _ignored(tracked[0]), (script, folder)
    else:
      assert _ignored(probe), '%s writes %s by default, which git neither tracks nor ignores' % (
          script, folder)


def test_celeba_figures_are_ignored_and_the_published_demo_figures_are_not(checkout):
  assert not _git('ls-files', 'figures/celeba').stdout.strip()
  assert _ignored('figures/celeba/reconstructions.png')
  assert _ignored('figures/celeba/evaluation.md')
  assert not _ignored('figures/demo/reconstructions.png')
  assert not _ignored('figures/demo_seeds/table.md')
