"""glo-tf1's version: a leaf module, so any stage can name it without importing the package's
front door (glo_tf1/__init__.py, whose `load` reaches evaluation). pyproject.toml states the
same number (tests/test_version.py checks they agree)."""
__version__ = '0.3.0'
