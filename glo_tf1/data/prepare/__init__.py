r"""Benchmark data sets, converted from their publishers' files to lossless image folders.

  glo-prepare-data DATASET --source DIR --out_dir OUT

DATASET is a name of `DATASETS` (mnist, fashion_mnist, svhn, cifar10). Each entry says
which official files it reads from DIR, as their publishers distribute them (downloaded
by hand: no machine of ours can), and where to get them:

  mnist, fashion_mnist  train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                        t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (IDX, gzip),
                        or the same files uncompressed (no .gz; as torchvision's raw/)
  svhn                  train_32x32.mat, test_32x32.mat (MATLAB v5; "Format 2")
  cifar10               cifar-10-binary.tar.gz, or its cifar-10-batches-bin/ folder
                        (data_batch_1.bin .. data_batch_5.bin, test_batch.bin); never the
                        Python (pickle) version, which is refused by name

Writes OUT/train/NNNNN.png and OUT/test/NNNNN.png (index order of the source; 1-channel
PNG for the grayscale sets, RGB otherwise), then OUT/train.txt and OUT/test.txt (paths
relative to OUT, for `glo-train --data_dir OUT --file_list OUT/train.txt`),
OUT/train_labels.txt and OUT/test_labels.txt (one class 0-9 a line, in list order) and
last OUT/prepare.json: each source file's name, size, SHA-256 and MD5, its image count,
and the publisher's checksum where the publisher gives one; for MNIST's layout and SVHN
also the form found ("gzip" or "uncompressed"; "mat") and the payload (the decompressed
IDX bytes, or the .mat file: size, MD5) against its listed MD5, which decides where it
is listed (checksums.py: a
re-compressed copy of the publisher's bytes is accepted, and said). A file that differs
is refused unless `allow_checksum_mismatch`.

Resuming: every image is written atomically (io.atomic_open), so a file that exists is
whole; a rerun keeps each existing image whose pixels equal the source's and rewrites the
others, then writes the lists and the record. Before writing it refuses any file in OUT
or its split folders that the conversion does not write, naming it (a resume neither
deletes what the user put there nor leaves it beside the lists' images), and removes the
temporaries of its own files that a killed process left (io.atomic_open's names). On
Ctrl-C the queued images are dropped and the ones being written finished.
OUT/.prepare-sources.json, written first and kept, names the sources (name, size,
SHA-256), so a rerun against other sources (or an OUT holding other files) is refused
instead of mixing two conversions.

One module a job: sources.py (what the readers share), idx.py (MNIST, Fashion-MNIST),
svhn.py, cifar10.py, checksums.py (the publishers' checksums and their check),
registry.py (DATASETS), writer.py (the resumable writer) and celeba_lists.py (CelebA).
"""
# pylint: disable=unused-import
from glo_tf1.data.prepare import writer
from glo_tf1.data.prepare.celeba_lists import CELEBA_DATASETS
from glo_tf1.data.prepare.celeba_lists import prepare_celeba
from glo_tf1.data.prepare.checksums import PAYLOAD
from glo_tf1.data.prepare.checksums import PUBLISHED
from glo_tf1.data.prepare.cifar10 import parse_cifar_batch
from glo_tf1.data.prepare.idx import parse_idx
from glo_tf1.data.prepare.registry import DATASETS
from glo_tf1.data.prepare.registry import dataset
from glo_tf1.data.prepare.sources import FORMAT_VERSION
from glo_tf1.data.prepare.sources import RECORD_NAME
from glo_tf1.data.prepare.sources import SPLITS
from glo_tf1.data.prepare.sources import Dataset
from glo_tf1.data.prepare.sources import Source
from glo_tf1.data.prepare.sources import SourceError
from glo_tf1.data.prepare.writer import AUTO_PAD
from glo_tf1.data.prepare.writer import SOURCES_NAME
from glo_tf1.data.prepare.writer import pad_image
from glo_tf1.data.prepare.writer import pad_size
from glo_tf1.data.prepare.writer import prepare
