"""Inception-v3 `pool_3` as a tf.compat.v1 graph, built from the weights' module tree, and
the TTUR input (rounded [0, 255], TF1 bilinear resize to 299, (x - 128) / 128)."""

import numpy as np

from glo_tf1 import progress
from glo_tf1.compat import tf
from glo_tf1.evaluation.fid import weights

INPUT_SIZE = 299
FEATURE_DIMS = 2048
BATCH_NORM_EPS = 1e-3


# The pools' settings are constants of the TorchScript source (code/__torch__/torch/nn/
# modules/pooling*.py), not pickled state, so they are keyed by class here.
_POOLS = {
    '__torch__.torch.nn.modules.pooling.MaxPool2d': ('max', 3, 2, 'VALID'),
    '__torch__.torch.nn.modules.pooling.___torch_mangle_6.MaxPool2d': ('max', 3, 1, 'SAME'),
    # padding 1, count_include_pad=False == TensorFlow's SAME average pool.
    '__torch__.torch.nn.modules.pooling.AvgPool2d': ('avg', 3, 1, 'SAME'),
    '__torch__.torch.nn.modules.pooling.___torch_mangle_8.AvgPool2d': ('avg', 8, 8, 'VALID'),
}

# Branches of each block, in the order its forward concatenates them (code/__torch__/
# inceptionv3.py); every branch reads the block's input.
_BLOCK_BRANCHES = {
    'InceptionA': ('conv', 'tower', 'tower_1', 'tower_2'),
    'InceptionB': ('conv', 'tower', 'pool'),
    'InceptionC': ('conv', 'tower', 'tower_1', 'tower_2'),
    'InceptionD': ('tower', 'tower_1', 'pool'),
}


def _short(kind):
  return kind.rsplit('.', 1)[-1]


def _folded_conv(layer):
  """(HWIO kernel, bias) of conv + batch norm (no gamma): w / sqrt(var + eps), beta -
  mean / sqrt(var + eps), computed in float64."""
  scale = 1.0 / np.sqrt(layer.var.astype(np.float64) + BATCH_NORM_EPS)
  kernel = layer.weight.astype(np.float64) * scale[:, None, None, None]
  bias = layer.beta.astype(np.float64) - layer.mean.astype(np.float64) * scale
  return (np.ascontiguousarray(kernel.transpose(2, 3, 1, 0), np.float32),
          bias.astype(np.float32))


def _conv(x, layer):
  kernel, bias = _folded_conv(layer)
  kh, kw = kernel.shape[:2]
  pad = layer.padding
  ph, pw = (pad, pad) if isinstance(pad, int) else tuple(pad)
  if ph == pw == 0:
    padding = 'VALID'
  elif layer.stride == 1 and (2 * ph, 2 * pw) == (kh - 1, kw - 1):
    padding = 'SAME'  # symmetric for odd kernels at stride 1
  else:
    padding = [[0, 0], [ph, ph], [pw, pw], [0, 0]]
  y = tf.nn.conv2d(x, tf.constant(kernel, name='kernel'),
                   strides=[1, layer.stride, layer.stride, 1], padding=padding)
  return tf.nn.relu(tf.nn.bias_add(y, tf.constant(bias, name='bias')))


def _apply(x, module, name):
  kind = module.kind
  with tf.name_scope(name):
    if _short(kind) == 'Conv2dLayer':
      return _conv(x, module)
    if kind in _POOLS:
      op, k, s, padding = _POOLS[kind]
      pool = tf.nn.max_pool2d if op == 'max' else tf.nn.avg_pool2d
      return pool(x, ksize=k, strides=s, padding=padding)
    if _short(kind) == 'Sequential':
      for child_name, child in module.children():
        x = _apply(x, child, child_name)
      return x
    if _short(kind) in _BLOCK_BRANCHES:
      return tf.concat([_apply(x, getattr(module, b), b)
                        for b in _BLOCK_BRANCHES[_short(kind)]], axis=3)
    if _short(kind) == 'InceptionE':
      a = _apply(x, module.tower_conv, 'tower_conv')
      b = _apply(_apply(x, module.tower_1_conv, 'tower_1_conv'),
                 module.tower_1_conv_1, 'tower_1_conv_1')
      pooled = _apply(x, module.tower_2_pool, 'tower_2_pool')
      return tf.concat([
          _apply(x, module.conv, 'conv'),
          _apply(a, module.tower_mixed_conv, 'tower_mixed_conv'),
          _apply(a, module.tower_mixed_conv_1, 'tower_mixed_conv_1'),
          _apply(b, module.tower_1_mixed_conv, 'tower_1_mixed_conv'),
          _apply(b, module.tower_1_mixed_conv_1, 'tower_1_mixed_conv_1'),
          _apply(pooled, module.tower_2_conv, 'tower_2_conv')], axis=3)
  raise weights.FidUnavailable('unexpected module %s in the FID network' % kind)


def inception_pool3(inputs, network=None):
  """Inception-v3 pool_3 features: [B, 299, 299, 3] float32 scaled (x - 128) / 128 ->
  [B, 2048]. The weights are graph constants (nothing to initialise or restore)."""
  network = network or weights.load_network()
  with tf.name_scope('fid_inception'):
    x = _apply(inputs, network.layers, 'layers')
    return tf.reshape(x, [-1, FEATURE_DIMS], name='pool_3')


def to_inception_inputs(images):
  """[B, H, W, C] images in [-1, 1] -> the network's input [B, 299, 299, 3].

  One channel (--channels 1) is tiled to three, as GLANN's FID of MNIST does (gray as
  R = G = B, what a grayscale PNG decodes to); [-1, 1] -> [0, 255] rounded to integers
  (as saved PNG files are),
  TensorFlow 1 bilinear resize to 299 x 299 (align_corners=False, no half-pixel centres:
  the 2015 graph's ResizeBilinear that TTUR ran), then (x - 128) / 128.
  """
  with tf.name_scope('fid_inputs'):
    images = tf.cast(images, tf.float32) * tf.ones([1, 1, 1, 3])  # C = 1 -> 3; 3 stays
    x = tf.clip_by_value(tf.round((tf.cast(images, tf.float32) + 1.0) * 127.5), 0.0, 255.0)
    x = tf.image.resize_bilinear(x, [INPUT_SIZE, INPUT_SIZE], align_corners=False,
                                 half_pixel_centers=False)
    return (x - 128.0) / 128.0


def features_graph(images, network=None):
  """Images in [-1, 1] [B, H, W, C] (C: 1 or 3) -> pool_3 features [B, 2048]."""
  return inception_pool3(to_inception_inputs(images), network)


def build_extractor(network=None):
  """The feature extractor in the default graph: {'images': placeholder [B, H, W, C] in
  [-1, 1] (C: 1 or 3), 'features': [B, 2048]}."""
  images = tf.placeholder(tf.float32, [None, None, None, None], name='fid_images')
  return {'images': images, 'features': features_graph(images, network)}


def extract(sess, ops, batches, total, label, batch_size=50, every_secs=20.0):
  """pool_3 features [N, 2048] of an iterable of image batches ([n, H, W, C] numpy in
  [-1, 1], any n), run `batch_size` images at a time.

  Prints progress (images done, images/s, ETA) at most every `every_secs` and at the end.
  """
  out, done = [], 0
  report = progress.Progress('  FID features, %s:' % label, total, 'images', every_secs)
  for batch in batches:
    for start in range(0, len(batch), batch_size):
      chunk = batch[start:start + batch_size]
      out.append(sess.run(ops['features'], {ops['images']: chunk}))
      done += len(chunk)
      report.update(done)
  if not out:
    return np.zeros([0, FEATURE_DIMS], np.float32)
  return np.concatenate(out, 0)
