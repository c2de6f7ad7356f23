"""Images: decode, crop and resize as the post did, the one map between [-1, 1] and
uint8 (cache files, figures, FID inputs), and the one grid layout (training summaries,
JPEG dumps, figures)."""
import numpy as np

from glo_tf1.compat import tf

TIGHT_CROP_SIZE = 108


# ITU-R BT.601 luma, the weights of PIL's convert('L') and of libjpeg; they sum to 1, so a
# gray image (R = G = B) keeps its values.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def preprocess_inputs(image, image_size, tight_crop=False, channels=3):
  """The post's `preprocess_inputs`: uint8 [H, W, 3] -> float32 [S, S, channels] in [-1, 1].

  convert_image_dtype to [0, 1], then (x - 0.5) * 2; central crop to the shorter side
  (or to 108 x 108 with `tight_crop`, as the post offers for CelebA); bilinear resize
  with TensorFlow 1's `resize_images` (align_corners=False, no half-pixel centres).
  `channels=1` (ours, for MNIST-like data): the BT.601 luma of the RGB decode.
  """
  with tf.name_scope('preprocess'):
    image = tf.image.convert_image_dtype(image, tf.float32)
    if channels == 1:
      image = tf.reduce_sum(image * tf.constant(LUMA_WEIGHTS, tf.float32), axis=-1,
                            keepdims=True)
    elif channels != 3:
      raise ValueError('channels must be 1 or 3, got %r' % (channels,))
    image = (image - 0.5) * 2.0
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    if tight_crop:
      side = tf.minimum(side, TIGHT_CROP_SIZE)
    top = (shape[0] - side) // 2
    left = (shape[1] - side) // 2
    image = image[top:top + side, left:left + side, :]
    image = tf.image.resize_images(image, [image_size, image_size],
                                   method=tf.image.ResizeMethod.BILINEAR)
    image.set_shape([image_size, image_size, channels])
  return image


def decode_any(contents):
  """JPEG, PNG or BMP bytes -> uint8 [H, W, 3]; grayscale and RGBA become RGB (decoding
  straight to one channel fails for BMP and GIF; preprocess_inputs makes one channel)."""
  image = tf.io.decode_image(contents, channels=3, expand_animations=False)
  image.set_shape([None, None, 3])
  return image


def decode_files(paths, image_size, tight_crop=False, channels=3):
  """[B] string tensor of paths -> [B, S, S, channels] float32 in [-1, 1], in order.

  The same decode, crop and resize as training, for one-pass work over the data set in
  index order (PCA initialisation, nearest neighbours, evaluation).
  """
  def one(path):
    return preprocess_inputs(decode_any(tf.io.read_file(path)), image_size, tight_crop,
                             channels)
  return tf.map_fn(one, paths, dtype=tf.float32, parallel_iterations=8, back_prop=False)




def grid(images, rows, cols, pad=0, fill=-1.):
  """The one grid layout: images [n, H, W, C] (a tensor) -> [rows * H + (rows - 1) * pad,
  cols * W + (cols - 1) * pad, C], row by row, the first rows * cols images; cells past n
  and the `pad` pixels between cells hold `fill` (-1: black in [-1, 1]). The notebook's
  `image_grid` is grid(x, 5, 5); model/towers.py builds its summaries with it and
  evaluation/figures.py its mosaics."""
  n, h, w, c = images.get_shape().as_list()
  cells = rows * cols
  images = images[:cells]
  fill = tf.cast(fill, images.dtype)
  if n < cells:  # show what there is; fill the other cells
    images = tf.concat([images, tf.fill([cells - n, h, w, c], fill)], axis=0)
  if pad:
    images = tf.pad(images, [[0, 0], [0, pad], [0, pad], [0, 0]], constant_values=fill)
  hp, wp = h + pad, w + pad
  out = tf.reshape(tf.transpose(tf.reshape(images, [rows, cols, hp, wp, c]),
                                [0, 2, 1, 3, 4]), [rows * hp, cols * wp, c])
  return out[:rows * hp - pad, :cols * wp - pad] if pad else out


GRID_ROWS = 5  # the notebook's NUM_ROWS: 5 x 5 grids


def square_grid(images, rows=GRID_ROWS):
  """The notebook's `image_grid`: the first rows * rows images [n, S, S, C] in [-1, 1], row
  by row, as one image [1, rows * S, rows * S, C] in [-1, 1]; missing cells black."""
  return grid(images, rows, rows)[None]


def comparison_grid(images, reconstructions, rows=GRID_ROWS):
  """The notebook's `comparison_image_grid`: `rows` rows of `rows` original |
  reconstruction pairs of the first rows * rows images, [1, rows * S, 2 * rows * S, 3] in
  [-1, 1]; missing cells black."""
  n = rows * rows
  pairs = tf.concat([images[:n], reconstructions[:n]], axis=2)  # [n, S, 2S, 3]
  return grid(pairs, rows, rows)[None]


def to_uint8(images):
  """float [-1, 1] -> uint8 [0, 255] by the fixed linear map round((x + 1) * 127.5),
  clipped: the nearest of the 256 levels that `to_float` maps back to.

  Computed in float32 and rounded half to even, as the graph's tf.round does where FID's
  network rounds its input (evaluation/fid/inception.py, to_inception_inputs), so every
  PNG, grid and input-cache byte holds the levels that network is fed. In float64 a
  product within half a float32 ulp of a half level can round the other way (72.5 in
  float32 -> 72, 72.50000003 in float64 -> 73): 798 of the 552,960 pixels (0.14%) of the
  demo faces resized to 32 px (figures/fid_external.md; issue 30)."""
  x = np.asarray(images, np.float32)
  return np.clip(np.round((x + np.float32(1.)) * np.float32(127.5)), 0, 255).astype(np.uint8)


def stretch_to_uint8(image):
  """float image -> uint8 stretched min-max to [0, 255] (scipy.misc.imsave's bytescale, what
  the notebook's JPEG dumps did): (x - min) * 255 / (max - min), rounded half up."""
  x = np.asarray(image, np.float64)
  lo, hi = x.min(), x.max()
  scale = 255.0 / (hi - lo) if hi > lo else 1.0
  return np.clip((x - lo) * scale + 0.5, 0, 255).astype(np.uint8)


# The notebook's scipy.misc.imsave saved through PIL without a quality, so at PIL's
# default, 75 (the quantization tables of its published dumps, *_960001.jpg, are those).
JPEG_QUALITY = 75


def to_pil(image_u8):
  """uint8 [H, W, 3] or [H, W, 1] -> a PIL image (RGB, or L for one channel)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  image_u8 = np.asarray(image_u8)
  if image_u8.ndim == 3 and image_u8.shape[-1] == 1:
    return Image.fromarray(np.ascontiguousarray(image_u8[..., 0]), mode='L')
  return Image.fromarray(image_u8)


def grid_jpeg(grid, stretch=False):
  """JPEG bytes (quality JPEG_QUALITY, the notebook's) of one image [H, W, C] in [-1, 1],
  as the training run's grid dumps are written: the fixed map of `to_uint8`, or with
  `stretch` the min-max stretch of the notebook's scipy.misc.imsave."""
  import io as bytes_io  # pylint: disable=import-outside-toplevel
  buf = bytes_io.BytesIO()
  to_pil(stretch_to_uint8(grid) if stretch else to_uint8(grid)).save(
      buf, format='JPEG', quality=JPEG_QUALITY)
  return buf.getvalue()


def to_float(images_u8):
  """uint8 tensor -> float32 tensor in [-1, 1], the inverse of `to_uint8` on its levels."""
  return tf.cast(images_u8, tf.float32) * (2. / 255.) - 1.
