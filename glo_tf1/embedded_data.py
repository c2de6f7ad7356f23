r"""Writes the embedded default data set: real LFW faces shipped inside scikit-image.

scikit-image's wheel carries `skimage/data/lfw_subset.npy`: 200 grayscale 25 x 25 crops,
of which the first 100 are real faces (the rest are non-faces). We write those 100 as
JPEG files, and with --mirror (default) their horizontal mirror images too, so the same
file-based pipeline as CelebA runs with no download.

  python -m glo_tf1.embedded_data --out_dir data/lfw
"""
import os

from absl import flags
import numpy as np

FLAGS = flags.FLAGS
flags.DEFINE_string('out_dir', 'data/lfw', 'Folder to write the faces to.')
flags.DEFINE_bool('mirror', True, 'Also write the mirror image of each face (200 files).')

NUM_FACES = 100


def faces():
  """uint8 [100, 25, 25] grayscale faces."""
  from skimage import data  # pylint: disable=import-outside-toplevel
  x = np.asarray(data.lfw_subset()[:NUM_FACES], np.float64)
  return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def write_faces(out_dir, mirror=True, quality=95):
  """Writes the faces as JPEG files into out_dir; returns the sorted file names.

  Idempotent: files that already exist with the expected name are rewritten identically.
  """
  from PIL import Image  # pylint: disable=import-outside-toplevel
  os.makedirs(out_dir, exist_ok=True)
  names = []
  for i, face in enumerate(faces()):
    variants = [('lfw_%03d.jpg' % i, face)]
    if mirror:
      variants.append(('lfw_%03d_mirror.jpg' % i, face[:, ::-1]))
    for name, pixels in variants:
      path = os.path.join(out_dir, name)
      tmp = path + '.tmp'
      Image.fromarray(np.ascontiguousarray(pixels), mode='L').save(tmp, format='JPEG',
                                                                    quality=quality)
      os.replace(tmp, path)
      names.append(name)
  return sorted(names)


def main(argv):
  del argv
  names = write_faces(FLAGS.out_dir, mirror=FLAGS.mirror)
  print('Wrote %d LFW face images to %s' % (len(names), FLAGS.out_dir))
  return 0


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  app.run(main)
