r"""The embedded default data set: real LFW faces shipped inside scikit-image.

scikit-image's wheel carries `skimage/data/lfw_subset.npy`: 200 grayscale 25 x 25 crops,
of which the first 100 are real faces (the rest are non-faces). We write those 100 as
JPEG files, and with --mirror (default) their horizontal mirror images too, so the same
file-based pipeline as CelebA runs with no download.

  glo-write-faces --out_dir data/lfw
"""
import os

import numpy as np

from glo_tf1 import io

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
      with io.atomic_open(path, 'wb') as f:
        Image.fromarray(np.ascontiguousarray(pixels), mode='L').save(f, format='JPEG',
                                                                      quality=quality)
      names.append(name)
  return sorted(names)
