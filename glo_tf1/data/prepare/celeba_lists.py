"""CelebA at the paper's 64 and 128 px: the aligned JPEGs are trained on as they are (the
trainer crops and resizes them, as celeba.sh does), so preparing them writes the
partition lists and a record, not another copy of 202,599 images."""
import os

from glo_tf1 import io
from glo_tf1.data import celeba
from glo_tf1.data.prepare.sources import FORMAT_VERSION
from glo_tf1.data.prepare.sources import RECORD_NAME
from glo_tf1.data.prepare.sources import SPLITS
from glo_tf1.data.prepare.sources import hashes

CELEBA_DATASETS = ('celeba64', 'celeba128')
def prepare_celeba(name, source_dir, out_dir):
  """Checks aligned CelebA in `source_dir` (celeba.check_layout) and writes its partition
  lists (train.txt, valid.txt, test.txt, all.txt) and prepare.json into out_dir; returns
  the record. The lists name files of source_dir/img_align_celeba."""
  split = celeba.check_layout(source_dir)
  paths = celeba.write_lists(split, out_dir)
  partition = next(os.path.join(source_dir, p) for p in celeba.PARTITION_FILES
                   if os.path.isfile(os.path.join(source_dir, p)))
  sha256, _ = hashes(partition)
  record = {
      'dataset': name, 'description': 'aligned CelebA, trained on as it is (preset %s)' % name,
      'format_version': FORMAT_VERSION,
      'images_dir': os.path.abspath(os.path.join(source_dir, celeba.IMAGES_DIR)),
      'splits': {s: {'images': len(split[s]), 'list': os.path.basename(paths[s])}
                 for s in SPLITS},
      'sources': [{'name': os.path.basename(partition), 'size': os.path.getsize(partition),
                   'sha256': sha256}],
  }
  io.write_json(os.path.join(out_dir, RECORD_NAME), record)
  return record

