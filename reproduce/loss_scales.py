r"""What the progress line's loss is worth: each loss of two trivial decoders on a data set.

  python reproduce/loss_scales.py [DATA_DIR [IMAGE_SIZE [BATCH]]]   # default: the demo's

glo-train prints the training loss of the run's --loss (glo_tf1/model/losses.py) on each
batch. To read it, this prints each loss for a decoder that outputs zeros (the start:
an untrained decoder outputs near 0 in [-1, 1]) and for one that outputs the data set's
mean image (the best any decoder does without using the codes), on batches of BATCH
images of DATA_DIR as the trainer sees them (default: the 180 faces the demo trains on,
32 px, batch 32). A run is learning when its loss falls clearly below the mean-image
value; docs/training.md quotes this script's output.
"""
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from glo_tf1 import settings  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.compat import tf  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.data import embedded  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.data import files  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.data import pipelines  # noqa: E402  pylint: disable=wrong-import-position
from glo_tf1.model import losses  # noqa: E402  pylint: disable=wrong-import-position


def scales(paths, image_size, batch):
  """{loss: (zeros, mean image)}: the mean over full batches of each loss."""
  with tf.Graph().as_default(), tf.Session() as sess:
    x = np.concatenate([b for _, b in pipelines.iterate_in_order(sess, paths, batch,
                                                                 image_size)])
    n = len(x) // batch * batch
    ph = tf.placeholder(tf.float32, [batch, image_size, image_size, 3])
    guess = tf.placeholder(tf.float32, [batch, image_size, image_size, 3])
    out = {}
    for name in settings.CHOICES['loss']:
      cfg = {'loss': name, 'lap1_levels': 4}
      op = losses.reconstruction_loss(ph, guess, cfg)
      values = {}
      for label, constant in (('zeros', np.zeros_like(x[0])), ('mean image', x.mean(0))):
        fill = np.repeat(constant[None], batch, 0)
        values[label] = float(np.mean([sess.run(op, {ph: x[i:i + batch], guess: fill})
                                       for i in range(0, n, batch)]))
      out[name] = values
  return out


def main(argv):
  if len(argv) > 1:
    data = argv[1]
    names = files.list_images(data)
  else:
    data = tempfile.mkdtemp()
    names = [n for n in embedded.write_faces(data) if not n.startswith('lfw_09')]
  size = int(argv[2]) if len(argv) > 2 else 32
  batch = int(argv[3]) if len(argv) > 3 else 32
  result = scales([os.path.join(data, n) for n in names], size, batch)
  print('%d images at %d px, batches of %d' % (len(names), size, batch))
  for name, values in result.items():
    print('  %-9s zeros %.4f   mean image %.4f' % (name, values['zeros'], values['mean image']))
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
