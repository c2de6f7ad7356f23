"""The publishers' checksums, and the check of a conversion's sources against them.

Two kinds: the file as distributed (the container: a .gz or .tar.gz, by its MD5 or size)
and the payload a reader parses (an IDX file's decompressed bytes). Where a payload
checksum is listed it decides: a mirror or a distribution package that re-compresses the
same IDX bytes (another gzip header, so another container MD5) is the publisher's data,
and so is the uncompressed file torchvision keeps under raw/. The container's check is
then kept as information, said in the log and prepare.json.
"""
import os

from glo_tf1.data.prepare.cifar10 import CIFAR_ARCHIVE
from glo_tf1.data.prepare.sources import CIFAR_PAGE
from glo_tf1.data.prepare.sources import FASHION_README
from glo_tf1.data.prepare.sources import MNIST_PAGE
from glo_tf1.data.prepare.sources import SVHN_PAGE
from glo_tf1.data.prepare.sources import SourceError
from glo_tf1.data.prepare.sources import hashes

# Published checksums, each with the page that publishes it. MNIST's page publishes the
# four files' sizes in bytes, no checksum; SVHN's page publishes neither (nothing is
# checked for it); CIFAR-10 publishes the MD5 of the archive only (not of its members).
PUBLISHED = {
    'mnist': {
        'train-images-idx3-ubyte.gz': {'size': 9912422, 'source': MNIST_PAGE},
        'train-labels-idx1-ubyte.gz': {'size': 28881, 'source': MNIST_PAGE},
        't10k-images-idx3-ubyte.gz': {'size': 1648877, 'source': MNIST_PAGE},
        't10k-labels-idx1-ubyte.gz': {'size': 4542, 'source': MNIST_PAGE},
    },
    'fashion_mnist': {
        'train-images-idx3-ubyte.gz': {'md5': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
                                       'source': FASHION_README},
        'train-labels-idx1-ubyte.gz': {'md5': '25c81989df183df01b3e8a0aad5dffbe',
                                       'source': FASHION_README},
        't10k-images-idx3-ubyte.gz': {'md5': 'bef4ecab320f06d8554ea6380940ec79',
                                      'source': FASHION_README},
        't10k-labels-idx1-ubyte.gz': {'md5': 'bb300cfdad3c16e7a12a480ee83cd310',
                                      'source': FASHION_README},
    },
    'svhn': {},
    'cifar10': {CIFAR_ARCHIVE: {'md5': 'c32a1d4ab5d03f1284b67883e8d87530',
                                'source': CIFAR_PAGE}},
}

# Payload checksums: the MD5 and size of each IDX file after decompression.
# - MNIST: the sizes follow from the page's format description (a 16-byte header and
#   28 x 28 bytes per image, an 8-byte header and a byte per label; 60,000 and 10,000);
#   the page publishes no MD5. The MD5s of the uncompressed files are the ones public
#   dataset tools list beside those sizes (e.g. 6bbc9ace... for train-images-idx3-ubyte,
#   47,040,016 bytes); no publisher's page lists them.
# - Fashion-MNIST: Zalando's README publishes the .gz MD5s only; the uncompressed files'
#   MD5s are those listed as `raw_data` (f4a8712d... for train-images-idx3-ubyte) by the
#   FashionMNIST data set classes built on torchvision, which check the files kept
#   uncompressed under raw/ with them (torchvision's own torchvision/datasets/mnist.py
#   lists the .gz MD5s of `resources` only), and by md5sum listings of the gunzipped files.
# - SVHN: its page publishes no checksum; the .mat files are distributed as they are (no
#   container), so their own MD5s are the payload's: those torchvision checks them with
#   (torchvision/datasets/svhn.py, SVHN.split_list: train e26dedcc..., test eb5a983b...).
# CIFAR-10: no payload checksum is published (its page gives the archive's MD5 only,
# checked above); prepare.json records the members' sizes.
_MNIST_LISTED = 'MD5 of the uncompressed file as public dataset tools list it; size from '
_FASHION_LISTED = ('MD5 of the uncompressed file as listed by torchvision-style '
                   'FashionMNIST raw_data checks (not on Zalando\'s README: ' +
                   FASHION_README + ')')
PAYLOAD = {
    'mnist': {
        'train-images-idx3-ubyte': {'md5': '6bbc9ace898e44ae57da46a324031adb',
                                    'size': 47040016},
        'train-labels-idx1-ubyte': {'md5': 'a25bea736e30d166cdddb491f175f624',
                                    'size': 60008},
        't10k-images-idx3-ubyte': {'md5': '2646ac647ad5339dbf082846283269ea',
                                   'size': 7840016},
        't10k-labels-idx1-ubyte': {'md5': '27ae3e4e09519cfbb04c329615203637',
                                   'size': 10008},
    },
    'fashion_mnist': {
        'train-images-idx3-ubyte': {'md5': 'f4a8712d7a061bf5bd6d2ca38dc4d50a',
                                    'size': 47040016},
        'train-labels-idx1-ubyte': {'md5': '9018921c3c673c538a1fc5bad174d6f9',
                                    'size': 60008},
        't10k-images-idx3-ubyte': {'md5': '8181f5470baa50b63fa0f6fddb340f0a',
                                   'size': 7840016},
        't10k-labels-idx1-ubyte': {'md5': '15d484375f8d13e6eb1aabb0c3f46965',
                                   'size': 10008},
    },
}
for _name, _table in PAYLOAD.items():
  for _entry in _table.values():
    _entry['source'] = (_MNIST_LISTED + MNIST_PAGE if _name == 'mnist' else _FASHION_LISTED)
PAYLOAD['svhn'] = {
    name: {'md5': md5, 'source': 'MD5 torchvision checks the file with '
                                 '(torchvision/datasets/svhn.py, SVHN.split_list; not on '
                                 + SVHN_PAGE + ')'}
    for name, md5 in (('train_32x32.mat', 'e26dedcc434d2e4c54c9b2d4a06d8373'),
                      ('test_32x32.mat', 'eb5a983be6a315427106f1b164d9cef3'))}


def _compare(published, got):
  """[(key, published, found)] of the keys of `published` (md5, size) that differ."""
  return [(k, published[k], got[k]) for k in ('md5', 'size')
          if k in published and published[k] != got[k]]


def _said(bad, what=''):
  return '; '.join('%s%s %s, its publisher gives %s' % (what, k, got, want)
                   for k, want, got in bad)


def _check_container(entry, published):
  """entry['published'] (with `matches`); the differences, [] when it matches."""
  if not published:
    return None
  bad = _compare(published, entry)
  entry['published'] = dict(published, matches=not bad)
  return bad


def _check_payload(entry, payload, listed):
  """entry['payload'] (with its listed checksum and `matches`); the differences."""
  if payload is None:
    return None
  entry['form'] = payload['form']
  entry['payload'] = dict(payload, published=None)
  if not listed:
    return None
  bad = _compare(listed, payload)
  entry['payload']['published'] = dict(listed, matches=not bad)
  return bad


def _entry(source):
  """A source's prepare.json entry before any check: name, size, hashes, images."""
  sha256, md5 = hashes(source.path)
  entry = {'name': os.path.basename(source.path), 'size': os.path.getsize(source.path),
           'sha256': sha256, 'md5': md5, 'images': source.images, 'published': None}
  if source.members is not None:
    entry['members'] = source.members
  return entry


def _verdict(source, entry, container_bad, payload_bad):
  """(message or None, note or None): the refusal of a file that differs from its
  publisher's, and the note on a re-compressed copy whose payload is the publisher's."""
  if payload_bad is not None:  # a listed payload checksum decides
    if not payload_bad:
      note = None
      if container_bad:
        note = ('%s is not the publisher\'s container (%s) but its payload %s is (md5 %s, '
                'as listed): a re-compressed copy, accepted' % (
                    source.path, _said(container_bad), source.payload['name'],
                    source.payload['md5']))
      return None, note
    what = _said(container_bad or []) + ('; ' if container_bad else '') + _said(
        payload_bad, 'payload %s ' % source.payload['name'])
    return (what, entry['payload']['published']['source']), None
  if container_bad:
    return (_said(container_bad), entry['published']['source']), None
  return None, None


def describe_sources(ds, sources, allow_checksum_mismatch, log):
  """prepare.json's "sources": name, size, hashes, images, the published container
  checksum and, for a reader that reports its payload, the form found (gzip or
  uncompressed) and the payload's checksum against the listed one; raises SourceError on
  a file that differs from what its publisher gives (unless allow_checksum_mismatch)."""
  out = []
  for source in sources:
    entry = _entry(source)
    container_bad = _check_container(entry, PUBLISHED[ds.name].get(entry['name']))
    listed = PAYLOAD.get(ds.name, {}).get(source.payload['name']) if source.payload else None
    payload_bad = _check_payload(entry, source.payload, listed)
    differs, note = _verdict(source, entry, container_bad, payload_bad)
    if note:
      log('note: %s.' % note)
    if differs:
      message = ('%s differs from the file its publisher distributes (%s; %s): a damaged '
                 'or different download' % (source.path, differs[0], differs[1]))
      if not allow_checksum_mismatch:
        raise SourceError(message + '. Download it again, or convert it anyway with '
                          '--allow_checksum_mismatch (prepare.json records the mismatch).')
      log('warning: %s; converting it anyway (--allow_checksum_mismatch).' % message)
    out.append(entry)
  return out
