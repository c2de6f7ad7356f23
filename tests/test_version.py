"""One version number: glo_tf1/version.py (what provenance.json and reports record) and
pyproject.toml (what pip installs) agree, and the package's front door re-exports it."""
import os
import tomllib

import glo_tf1
from conftest import ROOT
from glo_tf1.version import __version__


def test_the_version_module_agrees_with_pyproject_and_the_package():
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    assert tomllib.load(f)['project']['version'] == __version__
  assert glo_tf1.__version__ is __version__
