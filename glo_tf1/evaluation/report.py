r"""Held-out evaluation: how well the frozen decoder reconstructs images it never saw.

  glo-evaluate --run_dir RUN [--data_dir HELDOUT [--file_list LIST]]
               [--steps 1000] [--seed 0] [--out_dir RUN/eval]

GLO has no encoder, so an image's reconstruction is found by optimisation: fresh codes
are fitted to the images with the decoder frozen (inference-mode batch norm), using the
run's own loss, projection, codes optimizer and learning rate (its family and settings:
Adam 1e-3 for the blog preset, SGD 10 for the paper's), for a fixed number of steps,
batch by batch. The same procedure is run on a subset of the training images, so the
held-out and training numbers differ only by the images; the error of the learned
training codes is reported too. The post reports none of this.

The linear baseline (the GLO paper's comparison; pca.py): the first latent_dims principal
components of at most --pca_max_images training images (a seeded subset), with the
`pca_*` sections measured on the same training and held-out images as GLO's.

FID (glo_tf1/evaluation/fid/; by default when its weights are installed, --nofid to skip)
adds the `fid_*` sections: samples of each sampler, reconstructions and held-out reconstructions
(GLO's and PCA's) against the real training (and held-out) images, with their image counts,
and, on the same Inception features, KID, precision/recall and memorisation.

Writes OUT_DIR/evaluation.json and OUT_DIR/evaluation.md. The report is a dict whose
'sections' map a name to one set of numbers. Each section is one metric of one image set
made by one reconstructor, derived from the metrics' declarations (metrics.sections(),
also SECTIONS here): `evaluate` runs each image set once, batch by batch, through each of
its reconstructors, and feeds every section's metric. Every section has num_images and
steps (an integer, or None where no codes are fitted; FORMAT_VERSION).

Numbers (images as the trainer sees them: cropped, resized, float, no quantisation):
  mse_pm1  mean over images and pixels of (x - x')^2 with pixels in [-1, 1].
  mse_01   the same with pixels in [0, 1] (= mse_pm1 / 4).
  psnr_db  mean over images of 10 log10(1 / mse_01 of the image) (peak 1 on [0, 1]).
  fid_*    FID against the training (and held-out) images (fid/); kid_*, precision,
           recall, memorised_*: metrics.py and fid/distances.py.
"""
import contextlib
import os
import sys
import time

import numpy as np

from glo_tf1 import io
from glo_tf1 import progress
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.evaluation import estimate
from glo_tf1.evaluation import fid
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import pca as pca_lib
from glo_tf1.evaluation import runs
from glo_tf1.evaluation import trained
from glo_tf1.model import samplers
from glo_tf1.rundir import checkpoints as run_checkpoints
from glo_tf1.rundir import config as run_config
from glo_tf1.version import __version__


# The report's format: 2 since `steps` is an integer or null in every section (1: the
# string "trained" for learned codes, no `steps` in PCA and FID sample sections).
# glo-compare reads both.
FORMAT_VERSION = 2


def __getattr__(name):
  """SECTIONS: every section the registries make (metrics.sections()), derived each time
  so a metric or sampler registered later is in it."""
  if name == 'SECTIONS':
    return tuple(metrics.sections())
  raise AttributeError('module %r has no attribute %r' % (__name__, name))


def columns():
  """The markdown table's columns, (key in a section, header, format): the image count and
  code steps, then every registered metric's (metrics.columns())."""
  return [('num_images', 'images', '%d'), ('steps', 'code steps', '%s')] + [
      (c.key, c.header, c.fmt) for c in metrics.columns()]


# ----------------------------------------------------------------------------- procedures

class ImageSet:
  """Images to measure, in batches: `paths` (with their training `indices` when they are
  training images) or `num_samples` noise vectors of `dims` from `rng`; `extras` go into each
  of its sections; `rng` also draws the optimised reconstructor's initial codes."""

  def __init__(self, label, batch_size, paths=None, indices=None, num_samples=0, dims=0,
               rng=None, extras=None, reference=None):
    self.label, self.batch_size, self.paths, self.indices = label, batch_size, paths, indices
    self.reference = reference  # a FID reference's name: its images, already measured
    self.num_samples, self.dims, self.rng = num_samples, dims, rng
    self.extras = extras or {}
    self.size = len(paths) if paths is not None else num_samples

  def batches(self, load):
    """Yields Batch objects; `load(paths)` -> images, called only when a batch's images
    are read."""
    for start in range(0, self.size, self.batch_size):
      end = min(start + self.batch_size, self.size)
      yield Batch(self, start, end, load)


class Batch:
  """One batch of an ImageSet: `images` (loaded on first use), `indices`, `noise`."""

  def __init__(self, image_set, start, end, load):
    self.image_set, self.start, self.end = image_set, start, end
    self._load, self._images = load, None
    s = image_set
    self.indices = s.indices[start:end] if s.indices is not None else None
    self.noise = s.rng.standard_normal((end - start, s.dims)) if s.paths is None else None

  @property
  def images(self):
    if self._images is None:
      self._images = self._load(self.image_set.paths[self.start:self.end])
    return self._images


def reconstructors(sess, gen, fit, cfg, num_train, steps, pca_model=None):
  """{name: (function Batch -> images in [-1, 1], extras of its sections)}: learned,
  optimised, pca (with a model) and one per registered sampler (model/samplers.py).
  `steps` is the code steps, None where no codes are fitted."""
  learned = lambda b: generation.training_codes(sess, gen, b.indices)
  out = {
      'learned': (lambda b: generation.decode_codes(sess, gen, learned(b)), {'steps': None}),
      'optimised': (lambda b: trained.fit_codes(sess, fit, cfg, b.images, steps, num_train,
                                                b.image_set.rng)[1], {'steps': steps}),
  }
  if cfg['normalizer'] == 'batch_norm':  # the moving statistics' check: each batch's own
    out['learned_batch_stats'] = (
        lambda b: generation.decode_codes(sess, gen, learned(b), batch_stats=True),
        {'steps': None, 'batch_norm': 'batch statistics'})
  if pca_model is not None:
    info = pca_lib.describe(pca_model)
    out['pca'] = (lambda b: pca_lib.reconstruct(pca_model, b.images),
                  {'components': info['components'], 'fit_images': info['fit_images']})
  for sampler in metrics.expand(['samplers']):
    out[sampler] = ((lambda b, s=sampler: generation.sample(sess, gen, s, b.noise)[1]), {})
  out['real'] = (None, {})  # a reference's own images: its features are already computed
  return out


def _todo(sections, set_name, recons, contexts):
  """The sections of one image set whose reconstructor is given and whose metric's context
  is (None: needs none)."""
  return [s for s in sections if s.image_set == set_name and s.reconstructor in recons
          and metrics.METRICS[s.metric].context in (None,) + tuple(contexts)]


def measure(image_sets, recons, contexts, load, sections=None, clock=None):
  """{section: numbers} of every section whose image set, reconstructor and metric's
  context (`contexts`: context name -> context) are given, in `sections` order. Each image
  set is read once, batch by batch; each of its reconstructors runs once per batch and
  feeds every metric measuring it; metrics of one section name fill one dict. An image set
  with a `reference` is a FID reference's own images: measured from its features, not
  read. Every section has num_images and steps (None where no codes are fitted).
  sections: default metrics.sections(); clock: an estimate.Clock timing each part."""
  sections = metrics.sections() if sections is None else sections
  clock = clock or estimate.Clock()
  out = {}
  for set_name, image_set in image_sets.items():
    todo = _todo(sections, set_name, recons, contexts)
    if not todo:
      continue
    accs = [metrics.METRICS[s.metric].accumulator(contexts.get(metrics.METRICS[s.metric].context))
            for s in todo]
    if image_set.reference:
      for acc in accs:
        acc.use_reference(image_set.reference)
    else:
      _feed(image_set, load, todo, accs, recons, clock)
    for s, acc in zip(todo, accs):
      with clock.part(estimate.metric_part(metrics.METRICS[s.metric])):
        values = dict(acc.values(), **image_set.extras, **recons[s.reconstructor][1])
      out.setdefault(s.name, {'steps': None}).update(values)
  return {name: out[name] for name in dict.fromkeys(s.name for s in sections) if name in out}


def _feed(image_set, load, todo, accs, recons, clock):
  """Runs each batch of `image_set` through each reconstructor of `todo` once, into every
  accumulator; `clock` times each part (estimate.py's names)."""
  meter = progress.Progress('  ' + image_set.label, image_set.size, 'images', every_secs=10)
  for batch in image_set.batches(load):
    if image_set.paths is not None:
      with clock.part(estimate.LOADING):
        batch.images  # pylint: disable=pointless-statement
    outputs = {}
    for s, acc in zip(todo, accs):
      metric = metrics.METRICS[s.metric]
      if s.reconstructor not in outputs:
        with clock.part(estimate.recon_part(s.image_set, s.reconstructor)):
          outputs[s.reconstructor] = recons[s.reconstructor][0](batch)
      with clock.part(estimate.inception_part(s.label) if metric.context == 'inception'
                      else estimate.metric_part(metric)):
        acc.add(batch.images if metric.pairs else None, outputs[s.reconstructor])
    meter.update(batch.end)


def _image_batches(sess, gen, paths, chunk=128):
  """The images of `paths` as training preprocesses them, `chunk` at a time."""
  for start in range(0, len(paths), chunk):
    yield generation.load_images(sess, gen, paths[start:start + chunk])


def fit_pca(sess, gen, run, max_images, seed):
  """The PCA baseline (pca.fit) of the run's latent_dims components, fitted on at most
  `max_images` training images (0: all), a subset drawn with `seed`."""
  paths = run['paths']
  idx = files.seeded_subset(len(paths), max_images, np.random.RandomState([seed, 6]))
  fit_paths = [paths[i] for i in idx]
  print('PCA baseline: %d components fitted on %d training images'
        % (run['cfg']['latent_dims'], len(fit_paths)), flush=True)
  return pca_lib.fit(lambda: _image_batches(sess, gen, fit_paths), len(fit_paths),
                     run['cfg']['latent_dims'], seed=seed)


def _check_arguments(data_dir, file_list, steps, max_images, pca_max_images, seed,
                     batch_size, fid_protocol, fid_num_images):
  if file_list and not data_dir:
    raise settings.ConfigError('--file_list needs --data_dir')
  if steps < 0:
    raise settings.ConfigError('--steps must be non-negative, got %d' % steps)
  if max_images < 0:
    raise settings.ConfigError('--max_images must be non-negative, got %d' % max_images)
  if pca_max_images is not None and (pca_max_images < 0 or pca_max_images == 1):
    raise settings.ConfigError('--pca_max_images must be 0 (all) or at least 2, got %d'
                               % pca_max_images)
  if fid_protocol != 'ours' and fid_num_images and not data_dir:
    raise settings.ConfigError(
        '--fid_protocol %s compares with random test images: give --data_dir (and '
        '--file_list) of the test split' % fid_protocol)
  if seed < 0:
    raise settings.ConfigError('--seed must be non-negative, got %d' % seed)
  if batch_size is not None and batch_size < 1:
    raise settings.ConfigError('--batch_size must be positive, got %d' % batch_size)


def _check_batch_size(batch_size, num_train, num_heldout):
  largest = max(num_train, num_heldout)
  if batch_size is not None and batch_size > largest:
    raise settings.ConfigError(
        '--batch_size %d is larger than the largest image set evaluated (%d images): every '
        'batch would be padded to %d; give at most %d' % (batch_size, largest, batch_size,
                                                         largest))


def heldout_images(data_dir, names, max_images, seed, verify):
  """The held-out file names to measure: a seeded subset of at most max_images of
  `names` (data_dir's listing), checked for decoding when `verify`."""
  names = [names[i] for i in
           files.seeded_subset(len(names), max_images, np.random.RandomState([seed, 1]))]
  if verify:
    data_check.check_decodable(data_dir, names, 'held-out')
  return names


def _identical_to_training(manifest, data_dir, names):
  """(how many of the held-out files are byte-identical to the training files of
  `manifest` (warns), a digest of the held-out files' names, sizes and contents:
  glo-compare's check that reports were evaluated on the same images)."""
  train_hashes = {h for _, _, _, h in manifest}
  rows = files.build_manifest(data_dir, names)
  overlap = sum(h in train_hashes for _, _, _, h in rows)
  if overlap:
    print('warning: %d of the %d held-out images are byte-identical to training images'
          % (overlap, len(names)), file=sys.stderr)
  return overlap, files.manifest_digest(rows)


def _new_report(run, run_dir, cfg, seed, steps, batch_size):
  return {
      'format_version': FORMAT_VERSION,
      'glo_tf1_version': __version__,
      'created': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
      'run_dir': os.path.abspath(run_dir),
      'checkpoint': None,  # set when restored (a trainer may prune the one seen now)
      'step': None,
      'seed': seed,
      'protocol': {
          'decoder': 'frozen, batch norm in inference mode (moving statistics)',
          'loss': cfg['loss'], 'projection': cfg['projection'],
          'project_stored_codes': cfg['project_stored_codes'],
          'codes_init': cfg['codes_init'], 'codes_optimizer': cfg['codes_optimizer'],
          'codes_learning_rate': cfg['codes_learning_rate'], 'steps': steps,
          'batch_size': batch_size,
          'metrics': metrics.METRICS['pixel'].protocol,
      },
      'config': run_config.saved_config(cfg),  # as config.json: glo-compare migrates it
      'provenance': run['provenance'],
      # The training files (names, sizes, contents of manifest.tsv): glo-compare averages
      # only reports of the same training data as seeds.
      'training_data_sha256': files.manifest_digest(run['manifest']),
      'sections': {},
  }


def evaluate(run_dir, data_dir=None, file_list=None, train_data_dir=None, checkpoint=None,
             steps=1000, max_images=1000, batch_size=None, seed=0, verify=True,
             fid_num_images=0, fid_cache_dir=None, fid_method='eigh', pca_max_images=10000,
             fid_num_samples=None, fid_protocol='ours', estimate_only=False):
  """Runs the evaluation; returns the report dict (see module doc). With
  fid_num_images > 0 it adds the FID sections (and their KID, precision/recall and
  memorisation columns): the references of n = min(fid_num_images, real images) real
  images each (the cap is on the real images only), fid_num_samples samples of each
  sampler (any count, not capped by the training set; default n), the learned and PCA
  reconstructions of the training reference's images, and the held-out reconstructions;
  with pca_max_images not None the PCA baseline's (0: fitted on every training image).
  fid_protocol: 'ours' (the counts as given) or a name of fid.PROTOCOLS, whose counts the
  caller passed; the report records it (fid.describe). Before the work it prints the
  estimated time of each part (estimate.py), and the report's `cost` holds it with the
  measured times; with `estimate_only` it returns that entry (estimate.record) after
  printing it, and does nothing else."""
  _check_arguments(data_dir, file_list, steps, max_images, pca_max_images, seed, batch_size,
                   fid_protocol, fid_num_images)
  run = runs.read_run(run_dir, train_data_dir, verify=verify)
  cfg = run['cfg']
  run_checkpoints.latest_checkpoint(run_dir, checkpoint)  # before any work: is there one?
  all_heldout = files.list_images(data_dir, file_list) if data_dir else []
  names = heldout_images(data_dir, all_heldout, max_images, seed, verify) if data_dir else []
  train_idx = files.seeded_subset(len(run['paths']), max_images,
                                  np.random.RandomState([seed, 2]))
  _check_batch_size(batch_size, len(train_idx), len(names))
  batch_size = batch_size or cfg['batch_size']
  report = _new_report(run, run_dir, cfg, seed, steps, batch_size)
  image_sets = _image_sets(run, train_idx, data_dir, file_list, names, batch_size, seed)
  if fid_protocol != 'ours' and fid_num_images:  # as many samples as test images (GLANN)
    fid_num_samples = min(fid_num_samples or fid_num_images, fid_num_images, len(all_heldout))
  fid_ops = _prepare_fid(fid_num_images, run, data_dir, all_heldout, seed, verify)
  heldout_refs = (data_dir, all_heldout) if data_dir else None
  counts = _counts(run, image_sets, steps, batch_size, pca_max_images, fid_num_images,
                   fid_num_samples, heldout_refs, seed, fid_cache_dir)
  with trained.TrainedRun(run_dir, checkpoint, batch_size=batch_size, run=run) as loaded, \
      _fid_session(fid_ops) as fid_sess:
    sess, gen = loaded.session, loaded.ops
    report.update(checkpoint=loaded.checkpoint, step=loaded.step)
    rates = estimate.probe(sess, gen, loaded.fit, cfg, image_sets['train'].paths,
                           len(run['paths']), fid_sess, fid_ops, seed)
    estimated = estimate.parts(rates, counts)
    print(estimate.describe(estimated, rates, 'measured now on this %s' % _device()),
          flush=True)
    if estimate_only:
      return estimate.record(estimated, rates)
    print('Evaluating %s at step %s: %d training and %d held-out images, %d code steps'
          % (run_dir, report['step'], len(train_idx), len(names), steps), flush=True)
    clock = estimate.Clock()
    _measure(report, (sess, gen, loaded.fit), (fid_sess, fid_ops), run, image_sets, clock,
             steps, seed, pca_max_images, fid_num_images, fid_num_samples, fid_cache_dir,
             fid_method, fid_protocol, heldout_refs, len(names))
    report['cost'] = estimate.record(estimated, rates, clock.seconds)
  return report


def _measure(report, model_ops, fid_ops, run, image_sets, clock, steps, seed, pca_max_images,
             fid_num_images, fid_num_samples, fid_cache_dir, fid_method, fid_protocol,
             heldout_refs, num_heldout):
  """The evaluation's work, each part timed by `clock`: the PCA baseline, FID's
  references, every section (measure); fills report's pca, sections, warnings and fid."""
  (sess, gen, fit), (fid_sess, ops), cfg = model_ops, fid_ops, run['cfg']
  with clock.part(estimate.PCA):
    model = fit_pca(sess, gen, run, pca_max_images, seed) if pca_max_images is not None \
        else None
  if model is not None:
    report['pca'] = pca_lib.describe(model)
  t0, contexts, refs = time.time(), {}, None
  if ops:
    refs = fid.references(fid_sess, ops, run, fid_num_images, seed, fid_cache_dir,
                          heldout_refs, timer=lambda n: clock.part(estimate.reference_part(n)))
    contexts['inception'] = _inception_context(fid_sess, ops, refs, fid_method, seed)
    image_sets.update(_fid_image_sets(run, refs, seed, fid_num_samples))
  recons = reconstructors(sess, gen, fit, cfg, len(run['paths']), steps, model)
  report['sections'] = measure(image_sets, recons, contexts,
                               lambda paths: generation.load_images(sess, gen, paths),
                               clock=clock)
  report['warnings'] = _warnings(report, cfg)
  if ops:
    report['fid'] = fid.describe(refs, fid_num_images, seed, fid_method, time.time() - t0,
                                 fid_protocol, image_sets['samples'].size, num_heldout)


def _counts(run, image_sets, steps, batch_size, pca_max_images, fid_num_images,
            fid_num_samples, heldout_refs, seed, cache_dir):
  """What estimate.parts counts: the images of each part of this evaluation."""
  cfg, num_train = run['cfg'], len(run['paths'])
  counts = {'train': image_sets['train'].size,
            'heldout': image_sets['heldout'].size if 'heldout' in image_sets else 0,
            'steps': steps, 'batch_size': batch_size, 'latent_dims': cfg['latent_dims'],
            'pixels': cfg['image_size'] ** 2 * cfg['channels'],
            'batch_stats': cfg['normalizer'] == 'batch_norm',
            'pca_images': (min(pca_max_images or num_train, num_train)
                           if pca_max_images is not None else None), 'fid': None}
  if fid_num_images:
    n = min(fid_num_images, len(run['names']))
    sources = {'train': (run['data_dir'], run['names'])}
    if heldout_refs and heldout_refs[1]:
      sources['heldout'] = heldout_refs
    cached = [k for k, (d, names) in sources.items() if fid.is_cached(
        cache_dir, d, names, fid_num_images, seed, cfg['image_size'], cfg['tight_crop'],
        cfg['channels'])]
    counts['fid'] = {'train': n, 'samples': fid_num_samples or n, 'cached': cached,
                     'heldout': min(fid_num_images, len(sources['heldout'][1]))
                                if 'heldout' in sources else 0,
                     'samplers': list(samplers.SAMPLER_FNS)}
  return counts


def _device():
  """'GPU' when TensorFlow sees one (the decoder and Inception then run there), else
  'CPU'."""
  return 'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'


def _image_sets(run, train_idx, data_dir, file_list, names, batch_size, seed):
  """{'train': ImageSet[, 'heldout': ImageSet]}: the training and held-out images whose
  reconstructions are measured."""
  out = {'train': ImageSet(
      'training images', batch_size, [run['paths'][i] for i in train_idx], train_idx,
      rng=np.random.RandomState([seed, 3]), extras={'data_dir': run['data_dir']})}
  if names:
    overlap, digest = _identical_to_training(run['manifest'], data_dir, names)
    out['heldout'] = ImageSet(
        'held-out images', batch_size,
        [os.path.abspath(os.path.join(data_dir, n)) for n in names],
        rng=np.random.RandomState([seed, 4]),
        extras={'data_dir': os.path.abspath(data_dir), 'file_list': file_list,
                'identical_to_training': overlap, 'data_sha256': digest})
  return out


def _prepare_fid(fid_num_images, run, data_dir, all_heldout, seed, verify):
  """The FID network's ops (None without FID), after checking the held-out references'
  files (what FID will cost is estimate.py's, printed with the rest)."""
  if not fid_num_images:
    return None
  ops = _fid_extractor()
  if verify and all_heldout:  # FID reads up to fid_num_images of them, not only `names`
    data_check.check_decodable(data_dir, [all_heldout[i] for i in fid.choose_subset(
        len(all_heldout), fid_num_images, seed)], 'held-out (FID reference)')
  return ops


def _inception_context(sess, ops, refs, method, seed):
  """The Inception metrics' context: each reference's Gaussian, features and count."""
  return metrics.InceptionContext(sess, ops, {
      k: dict(g, num_images=info['num_images']) for k, (g, info) in refs.items()},
                                  method, 50, seed)


def _warnings(report, cfg):
  """Warnings about the report's numbers (printed, and under the markdown table): the
  moving batch-norm statistics that lag the decoder (trained.batch_norm_warning)."""
  s = report['sections']
  out = []
  if 'train_learned_batch_stats' in s:
    text = trained.batch_norm_warning(s['train_learned']['mse_pm1'],
                                      s['train_learned_batch_stats']['mse_pm1'], cfg,
                                      report['step'])
    if text:
      out.append(text)
  for text in out:
    print('warning: %s' % text, file=sys.stderr)
  return out


def _fid_image_sets(run, refs, seed, num_samples=None, chunk=500):
  """The FID image sets: num_samples samples (any count: a sample set is not capped by
  the training set; default as many as the training reference's images) and the training
  reference's real images; `chunk` decoded images in memory at a time."""
  n = refs['train'][1]['num_images']
  num_samples = num_samples or n
  idx = fid.choose_subset(len(run['names']), n, seed)  # the reference's images
  out = {'samples': ImageSet('samples', chunk, num_samples=num_samples,
                             dims=run['cfg']['latent_dims'],
                             rng=np.random.RandomState([seed, 5])),
         'fid_train': ImageSet('FID training images', chunk, [run['paths'][i] for i in idx],
                               idx, extras={'data_dir': run['data_dir']})}
  if 'heldout' in refs:  # the held-out reference's own images, against the training one
    out['fid_heldout'] = ImageSet('FID held-out images', chunk, reference='heldout')
  return out


def _fid_extractor():
  """The FID network's ops, in a graph of their own (constants only, nothing to restore)."""
  with tf.Graph().as_default():
    return fid.build_extractor()


def _fid_session(ops):
  """A session on the FID network's graph, or a null context without FID."""
  return tf.Session(graph=ops['features'].graph) if ops else contextlib.nullcontext()


def markdown(report):
  """The report's numbers as a markdown table, with what is needed to cite them."""
  sections = _ordered(report['sections'])
  # Only the columns some section has (no empty FID columns without FID).
  shown = [c for c in columns() if any(c[0] in s for s in sections.values())]
  known = {s.name: s for s in metrics.sections()}
  lines = ['| evaluation | ' + ' | '.join(h for _, h, _ in shown) + ' |',
           '| --- | ' + ' | '.join('---:' for _ in shown) + ' |']
  for name, section in sections.items():
    cells = [_cell(known.get(name), section, key, fmt) for key, _, fmt in shown]
    lines.append('| %s | %s |' % (known[name].label if name in known else name,
                                   ' | '.join(cells)))
  lines += ['', _citation(report, shown)]
  if 'train_learned_batch_stats' in report['sections']:
    lines += ['', 'The batch-statistics row decodes the same learned codes in training mode '
              '(each batch of %s normalised by its own statistics): far better than the '
              'learned-codes row means the moving statistics lag the decoder.'
              % report['protocol']['batch_size']]
  for warning in report.get('warnings', []):
    lines += ['', '**Warning**: %s' % warning]
  if report.get('pca'):
    lines += ['', pca_note(report['pca'], report['seed'])]
  if report.get('fid'):
    lines += ['', fid.markdown_note(report['fid'])]
  notes = _metric_notes(shown, inline=False)
  if notes:
    lines += ['', '%s.' % '. '.join(notes)]
  return '\n'.join(lines) + '\n'


def _ordered(sections):
  """`sections` in the registries' order (a report read back from JSON is sorted by
  name), unknown names last."""
  order = metrics.section_order()
  return dict(sorted(sections.items(), key=lambda kv: order.get(kv[0], len(order))))


def _cell(section_info, section, key, fmt):
  """A markdown cell: the value at its format; for code steps, "trained" where the
  reconstructor's codes are the trained ones (steps null; format 1 said "trained")."""
  if key not in section:
    return ''
  if key == 'steps' and section[key] is None:
    trained_codes = section_info and metrics.reconstructor(section_info.reconstructor).trained
    return 'trained' if trained_codes else ''
  return metrics.shown(key, section[key], fmt)


def _metric_notes(shown, inline):
  """The notes of the metrics with a column in `shown`: with `inline`, of those that need
  no context (the citation line's clause), else of the others (a paragraph)."""
  keys = {c[0] for c in shown}
  return [m.note for m in metrics.METRICS.values() if m.note and
          (m.context is None) == inline and any(c.key in keys for c in m.columns)]


def _citation(report, shown):
  """The line under the table: version, preset, steps and seeds, the protocol."""
  cfg = report['config']
  text = ('glo-tf1 %s, preset `%s`, checkpoint step %s, training seed %s, evaluation seed '
          '%s, %s loss, codes optimised with %s (lr %g) for %s steps, decoder frozen'
          % (report['glo_tf1_version'], cfg['preset'], report['step'], cfg['seed'],
             report['seed'], cfg['loss'], cfg['codes_optimizer'], cfg['codes_learning_rate'],
             report['protocol']['steps']))
  text += ''.join('; %s' % n for n in _metric_notes(shown, inline=True)) + '.'
  commit = report['provenance'].get('git_commit')
  return text + (' Trained at commit %s.' % commit if commit else '')


def pca_note(info, seed):
  """One line for the markdown report: what the PCA rows are."""
  return ('PCA: the linear baseline of the GLO paper with the same code size, the first %d '
          'principal components of %d training images (seed %d, %s fit), %.1f%% of their '
          'variance; reconstruction mean + V V^T (x - mean) in float64, not clipped.'
          % (info['components'], info['fit_images'], seed,
             'exact' if info['method'] == 'exact' else 'randomized %d-pass' % info['passes'],
             100. * info['explained_variance_ratio']))


def report_paths(out_dir):
  """(evaluation.json, evaluation.md) in out_dir."""
  return os.path.join(out_dir, 'evaluation.json'), os.path.join(out_dir, 'evaluation.md')


def is_own_report(path):
  """Whether `path` is a report file glo-evaluate wrote before `io.claim` kept a record
  (`claim`'s adopt): an evaluation.json holding a glo-tf1 report (its version, run
  directory, step and sections; another method's hand-written report has none of the
  first three), an evaluation.md beginning with the report's table."""
  if os.path.basename(path) == 'evaluation.md':
    return io.starts_with(path, [b'| evaluation | '])
  try:
    report = io.read_json(path)
  except io.FileFormatError:
    return False
  return isinstance(report, dict) and 'method' not in report and all(
      k in report for k in ('glo_tf1_version', 'run_dir', 'step', 'sections'))


def claim_report(out_dir, record=True):
  """io.claim of the report's two files in out_dir: a file of those names that
  glo-evaluate did not write is refused, named (io.NotOursError), never replaced."""
  io.claim(report_paths(out_dir), '--out_dir', is_own_report, record)


def write_report(report, out_dir):
  """Writes evaluation.json and evaluation.md (refusing files of those names that it did
  not write: `claim_report`); returns their paths."""
  os.makedirs(out_dir, exist_ok=True)
  claim_report(out_dir)
  json_path, md_path = report_paths(out_dir)
  io.write_json(json_path, report)
  io.write_text_atomic(md_path, markdown(report))
  return json_path, md_path
