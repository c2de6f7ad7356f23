"""numpy reference of TensorFlow 1's bilinear resize (numpy only; shared by
tests/test_fid.py and make_fid_reference.py, which runs without TensorFlow)."""
import numpy as np


def tf1_bilinear(x, out_h, out_w):
  """TF1 `resize_bilinear` with align_corners=False and no half-pixel centres, the op in
  the `inception-2015-12-05` graph that TTUR ran: output pixel i samples the input at
  i * in / out, clamped at the last row / column. [N, H, W, C] -> [N, out_h, out_w, C]."""
  x = np.asarray(x, np.float64)
  _, h, w, _ = x.shape
  ys, xs = np.arange(out_h) * (h / out_h), np.arange(out_w) * (w / out_w)
  y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
  y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
  dy, dx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
  top = x[:, y0][:, :, x0] * (1 - dx) + x[:, y0][:, :, x1] * dx
  bottom = x[:, y1][:, :, x0] * (1 - dx) + x[:, y1][:, :, x1] * dx
  return top * (1 - dy) + bottom * dy
