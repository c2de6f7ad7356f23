"""The registry of glo-prepare-data's benchmark data sets: each entry names the official
files it reads, where to get them, its image shape, its standard counts and its reader."""
import collections

from glo_tf1.data.prepare.cifar10 import CIFAR_ARCHIVE
from glo_tf1.data.prepare.cifar10 import CIFAR_BATCHES
from glo_tf1.data.prepare.cifar10 import CIFAR_FOLDER
from glo_tf1.data.prepare.cifar10 import read_cifar10
from glo_tf1.data.prepare.idx import IDX_FILES
from glo_tf1.data.prepare.idx import read_idx_set
from glo_tf1.data.prepare.sources import CIFAR_PAGE
from glo_tf1.data.prepare.sources import FASHION_README
from glo_tf1.data.prepare.sources import MNIST_PAGE
from glo_tf1.data.prepare.sources import SPLITS
from glo_tf1.data.prepare.sources import SVHN_PAGE
from glo_tf1.data.prepare.sources import Dataset
from glo_tf1.data.prepare.sources import SourceError
from glo_tf1.data.prepare.svhn import read_svhn


def _idx_hint(title, page, urls):
  return ('Download %s\'s four files by hand from %s: %s. Put them in {d}/, gzipped '
          'as downloaded or uncompressed (so that {d}/train-images-idx3-ubyte.gz, or '
          '{d}/train-images-idx3-ubyte, exists).'
          % (title, page, ', '.join(urls)))


_MNIST_FILES = [n for split in SPLITS for n in IDX_FILES[split]]

DATASETS = collections.OrderedDict((d.name, d) for d in [
    Dataset('mnist', 'MNIST handwritten digits, 28 x 28 grayscale',
            ', '.join(_MNIST_FILES) + ' (IDX, gzipped or uncompressed)',
            _idx_hint('MNIST', MNIST_PAGE, [MNIST_PAGE + n for n in _MNIST_FILES]) +
            ' (The same files are mirrored, with Yann LeCun\'s permission, at '
            'https://storage.googleapis.com/cvdf-datasets/mnist/.)',
            (28, 28, 1), (60000, 10000), read_idx_set),
    Dataset('fashion_mnist', 'Fashion-MNIST (Zalando articles), 28 x 28 grayscale',
            ', '.join(_MNIST_FILES) + ' (IDX, gzipped or uncompressed)',
            _idx_hint('Fashion-MNIST', FASHION_README,
                      ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/' + n
                       for n in _MNIST_FILES]) +
            ' (They are also in the repository\'s data/fashion/ folder.)',
            (28, 28, 1), (60000, 10000), read_idx_set),
    Dataset('svhn', 'SVHN cropped digits ("Format 2"), 32 x 32 RGB',
            'train_32x32.mat, test_32x32.mat (MATLAB v5)',
            'Download SVHN\'s cropped digits ("Format 2") by hand from %s: %strain_32x32.mat '
            'and %stest_32x32.mat. Put both in {d}/.' % (SVHN_PAGE, SVHN_PAGE, SVHN_PAGE),
            (32, 32, 3), (73257, 26032), read_svhn),
    Dataset('cifar10', 'CIFAR-10, 32 x 32 RGB',
            '%s, or its extracted %s/ (%s); not the Python version'
            % (CIFAR_ARCHIVE, CIFAR_FOLDER,
               ', '.join(CIFAR_BATCHES['train'] + CIFAR_BATCHES['test'])),
            'Download CIFAR-10\'s binary version ("CIFAR-10 binary version (suitable for C '
            'programs)") by hand from %s: https://www.cs.toronto.edu/~kriz/%s. Put it in '
            '{d}/ (as {d}/%s, or extracted, as {d}/%s/data_batch_1.bin ...).'
            % (CIFAR_PAGE, CIFAR_ARCHIVE, CIFAR_ARCHIVE, CIFAR_FOLDER),
            (32, 32, 3), (50000, 10000), read_cifar10),
])


# CelebA at the paper's 64 and 128 px: the aligned JPEGs are trained on as they are (the
# trainer crops and resizes them, as celeba.sh does), so preparing them writes the


def dataset(name):
  """The registry entry `name`; SourceError naming the accepted names otherwise."""
  if name not in DATASETS:
    raise SourceError('unknown data set %r: accepted names are %s'
                      % (name, ', '.join(DATASETS)))
  return DATASETS[name]

