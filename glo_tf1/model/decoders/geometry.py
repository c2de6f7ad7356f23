"""Decoder geometry: how many stride-2 blocks fit an image size, and their filters.

Both decoders grow the code 1x1 -> 4x4 (one stride-1 VALID layer), then double it once per
stride-2 block, then once more in the output layer: 4 * 2**blocks * 2 == image_size. So
the post's 128 px has 4 blocks, 32 px 2 (docs/reference/notebook-facts.md, "Architecture").
"""
import math

from glo_tf1 import settings


def num_upsampling_blocks(image_size):
  """Stride-2 blocks between the 4x4 first layer and the stride-2 output layer.

  Raises:
    settings.ConfigError: image_size is not one of settings.supported_image_sizes().
  """
  if image_size not in settings.supported_image_sizes():
    raise settings.ConfigError(
        '--image_size=%r: the decoder grows 1x1 -> 4x4 and then doubles, so the size must '
        'be one of %s' % (image_size, settings.supported_image_sizes()))
  return int(round(math.log2(image_size))) - 3


def filters_for_size(filters, image_size):
  """Filters of the 4x4 layer and of each stride-2 block for `image_size`.

  filters[0] is the 4x4 layer, filters[1:] the blocks. A list longer than the size needs
  is truncated (the first blocks are kept); a shorter one repeats its last entry. So the
  blog list [256, 128, 64, 64, 32] gives [256, 128, 64] at 32 px and
  [256, 128, 64, 64, 32, 32] at 256 px.
  """
  blocks = num_upsampling_blocks(image_size)
  filters = list(filters)
  if len(filters) < blocks + 1:
    filters += [filters[-1]] * (blocks + 1 - len(filters))
  return filters[:blocks + 1]


def filters_used(cfg):
  """The filters a config's decoder really has (config.json's `decoder_filters_used`,
  settings.to_saved), or None for a config without decoder_filters or image_size."""
  if cfg.get('decoder_filters') is None or not cfg.get('image_size'):
    return None
  return filters_for_size(cfg['decoder_filters'], cfg['image_size'])
