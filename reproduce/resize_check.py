r"""What the training pipeline's resize does to large images: figures/bench/resize.md.

  python reproduce/resize_check.py            # prints the table
  python reproduce/resize_check.py --write    # writes figures/bench/resize.md and .json

The pipeline (glo_tf1/data/images.py, the post's preprocess_inputs) crops to the shorter
side and shrinks with TensorFlow 1's bilinear `resize_images`, which reads the 2 x 2
pixels around each output pixel and no others: it does not low-pass first, so a large
image shrunk to 32 or 64 px keeps detail finer than the new pixel grid as aliasing. Here
each test image (scikit-image's bundled colour photographs, 300 to 512 px on the shorter
side) goes through the pipeline's own op and through an area average of the
same crop (every source pixel weighted equally, PIL's box filter: no aliasing); the
table gives the PSNR between the two (dB on [0, 1]; higher: closer to the antialiased
image), the same against an area average aligned as TF1 samples (the legacy resize reads
output pixel i at source i * shrink, an offset of (shrink - 1) / 2 source pixels: what
remains is aliasing alone), and the share of the pipeline's variance above the aligned
average's: detail finer than the grid, folded back as aliasing. Deterministic, no randomness, about a minute on 2 cores.
"""
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from glo_tf1 import io  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.compat import tf  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.data import images  # noqa: E402  pylint: disable=wrong-import-position

SIZES = (32, 64, 128)
OUT = os.path.join(ROOT, 'figures', 'bench', 'resize')


def sources():
  """[(name, uint8 [H, W, 3])]: scikit-image's bundled colour photographs (no download)."""
  from skimage import data  # pylint: disable=import-outside-toplevel
  return [(name, np.asarray(getattr(data, name)())[..., :3]) for name in
          ('astronaut', 'coffee', 'chelsea')]


def area_reference(image, size, aligned=False):
  """The centre crop to the shorter side, area-averaged to size x size, in [0, 1]. aligned:
  each output pixel's area starts where TF1's resize samples it (output pixel i reads
  source i * shrink, not the area's centre; the crop shifted by (shrink - 1) / 2 source
  pixels, rounded, edges repeated), so only the aliasing differs, not the alignment."""
  h, w = image.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  crop = image[top:top + side, left:left + side]
  if aligned:
    k = int(round((side / size - 1) / 2.))
    crop = np.pad(crop, ((k, 0), (k, 0), (0, 0)), mode='edge')[:side, :side]
  return np.asarray(Image.fromarray(crop).resize((size, size), Image.BOX), np.float64) / 255.


def measure():
  rows = []
  with tf.Graph().as_default(), tf.Session() as sess:
    ph = tf.placeholder(tf.uint8, [None, None, 3])
    ops = {s: images.preprocess_inputs(ph, s) for s in SIZES}
    for name, image in sources():
      for size in SIZES:
        ours = (sess.run(ops[size], {ph: image}).astype(np.float64) + 1.) / 2.
        ref = area_reference(image, size)
        aligned = area_reference(image, size, aligned=True)
        psnr = lambda a: float(10 * np.log10(1. / np.mean((ours - a) ** 2)))
        excess = max(0., np.var(ours) - np.var(aligned)) / np.var(ours)
        rows.append({'image': name, 'source': '%dx%d' % image.shape[1::-1], 'size': size,
                     'shrink': round(min(image.shape[:2]) / size, 1),
                     'psnr_vs_area_db': psnr(ref), 'psnr_vs_aligned_area_db': psnr(aligned),
                     'excess_variance': float(excess)})
  return rows


def markdown(rows):
  lines = ['TF1 bilinear `resize_images` (the pipeline) against an area average of the same '
           'centre crop; `python reproduce/resize_check.py --write`.', '',
           '| image | source px | to | shrink | PSNR vs area average | the same, aligned as TF1 '
           'samples | pipeline variance above the aligned average |',
           '| --- | --- | ---: | ---: | ---: | ---: | ---: |']
  for r in rows:
    lines.append('| %s | %s | %d | %.1fx | %.1f dB | %.1f dB | %.0f%% |' % (
        r['image'], r['source'], r['size'], r['shrink'], r['psnr_vs_area_db'],
        r['psnr_vs_aligned_area_db'], 100. * r['excess_variance']))
  return '\n'.join(lines) + '\n'


def main(argv):
  rows = measure()
  text = markdown(rows)
  if '--write' in argv:
    io.write_json(OUT + '.json', rows)
    io.write_text_atomic(OUT + '.md', text)
    print('Wrote %s.md and %s.json' % (OUT, OUT))
  print(text, end='')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
