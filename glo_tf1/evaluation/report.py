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
(GLO's and PCA's) against the real training (and held-out) images, with their image counts.

Writes OUT_DIR/evaluation.json and OUT_DIR/evaluation.md. The report is a dict whose
'sections' map a name to one set of numbers. Each section is one metric (metrics.py) of
one image set made by one reconstructor (SECTIONS): `evaluate` runs each image set once,
batch by batch, through each of its reconstructors, and feeds every section's metric.

Numbers (images as the trainer sees them: cropped, resized, float, no quantisation):
  mse_pm1  mean over images and pixels of (x - x')^2 with pixels in [-1, 1].
  mse_01   the same with pixels in [0, 1] (= mse_pm1 / 4).
  psnr_db  mean over images of 10 log10(1 / mse_01 of the image) (peak 1 on [0, 1]).
  fid_*    FID against the training (and held-out) images (fid/).
"""
import collections
import contextlib
import os
import sys
import time

import numpy as np

from glo_tf1.version import __version__
from glo_tf1 import io
from glo_tf1 import progress
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.evaluation import fid
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import metrics
from glo_tf1.evaluation import pca as pca_lib
from glo_tf1.evaluation import runs
from glo_tf1.evaluation import trained
from glo_tf1.training import run_dir as rundir


# A section: one metric of one image set made by one reconstructor. label: the report's row;
# short: glo-compare's column. Image sets: train (--max_images training images), heldout
# (--max_images held-out images), samples (noise), fid_train and fid_heldout (the FID
# references' images). Reconstructors: learned (the trained codes), optimised (codes fitted
# with the decoder frozen), pca (the linear baseline), a sampler, real (the images
# themselves: the reference's own statistics). The report keeps this order.
Section = collections.namedtuple('Section', ['name', 'label', 'short', 'image_set',
                                             'reconstructor', 'metric'])
SECTIONS = (
    Section('train_learned', 'training images, learned codes', 'train, learned codes',
            'train', 'learned', 'pixel'),
    Section('train_learned_batch_stats', 'training images, learned codes, batch statistics',
            'train, learned (batch stats)', 'train', 'learned_batch_stats', 'pixel'),
    Section('train', 'training images, codes re-optimised', 'train, codes re-optimised',
            'train', 'optimised', 'pixel'),
    Section('pca_train', 'training images, PCA (linear baseline)', 'train, PCA', 'train',
            'pca', 'pixel'),
    Section('heldout', 'held-out images, codes optimised', 'held-out', 'heldout',
            'optimised', 'pixel'),
    Section('pca_heldout', 'held-out images, PCA (linear baseline)', 'held-out, PCA',
            'heldout', 'pca', 'pixel'),
    Section('fid_samples_unit', 'samples, N(0, I) (FID)', 'samples N(0,I)', 'samples',
            'unit', 'fid'),
    Section('fid_samples_fitted', 'samples, fitted diagonal Gaussian (FID)',
            'samples diagonal', 'samples', 'fitted', 'fid'),
    Section('fid_samples_full', 'samples, fitted full-covariance Gaussian (FID)',
            'samples full cov.', 'samples', 'full', 'fid'),
    Section('fid_reconstructions', 'training images, learned codes (FID)',
            'train, learned codes', 'fid_train', 'learned', 'fid'),
    Section('fid_pca_reconstructions', 'training images, PCA (FID)', 'train, PCA',
            'fid_train', 'pca', 'fid'),
    Section('fid_heldout_reconstructions', 'held-out images, codes optimised (FID)',
            'held-out', 'heldout', 'optimised', 'fid'),
    Section('fid_pca_heldout_reconstructions', 'held-out images, PCA (FID)',
            'held-out, PCA', 'heldout', 'pca', 'fid'),
    Section('fid_heldout_images', 'held-out real images (FID)', 'held-out real',
            'fid_heldout', 'real', 'fid'),
)


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
               rng=None, extras=None):
    self.label, self.batch_size, self.paths, self.indices = label, batch_size, paths, indices
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
  optimised, pca (with a model) and one per sampler."""
  out = {
      'learned': (lambda b: generation.decode_codes(
          sess, gen, generation.training_codes(sess, gen, b.indices)), {'steps': 'trained'}),
      'optimised': (lambda b: trained.fit_codes(sess, fit, cfg, b.images, steps, num_train,
                                                b.image_set.rng)[1], {'steps': steps}),
  }
  if cfg['normalizer'] == 'batch_norm':  # the moving statistics' check: each batch's own
    out['learned_batch_stats'] = (lambda b: generation.decode_codes(
        sess, gen, generation.training_codes(sess, gen, b.indices), batch_stats=True),
                                  {'steps': 'trained', 'batch_norm': 'batch statistics'})
  if pca_model is not None:
    info = pca_lib.describe(pca_model)
    out['pca'] = (lambda b: pca_lib.reconstruct(pca_model, b.images),
                  {'components': info['components'], 'fit_images': info['fit_images']})
  for sampler in generation.SAMPLERS:
    out[sampler] = ((lambda b, s=sampler: generation.sample(sess, gen, s, b.noise)[1]), {})
  return out


def measure(image_sets, recons, contexts, load, sections=None):
  """{section: numbers} of every section whose image set, reconstructor and metric
  (`contexts`: metric name -> its context) are given, in `sections` order. Each image set
  is read once, batch by batch; each of its reconstructors runs once per batch and feeds
  every metric measuring it. sections: default SECTIONS."""
  sections = SECTIONS if sections is None else sections
  out = {}
  for set_name, image_set in image_sets.items():
    todo = [s for s in sections if s.image_set == set_name and s.reconstructor in recons
            and s.metric in contexts]
    if not todo:
      continue
    accs = [metrics.METRICS[s.metric].accumulator(contexts[s.metric]) for s in todo]
    meter = progress.Progress('  ' + image_set.label, image_set.size, 'images',
                              every_secs=10)
    for batch in image_set.batches(load):
      outputs = {}
      for s, acc in zip(todo, accs):
        if s.reconstructor not in outputs:
          outputs[s.reconstructor] = recons[s.reconstructor][0](batch)
        acc.add(batch.images if metrics.METRICS[s.metric].pairs else None,
                outputs[s.reconstructor])
      meter.update(batch.end)
    for s, acc in zip(todo, accs):
      out[s.name] = dict(acc.values(), **image_set.extras, **recons[s.reconstructor][1])
  return {s.name: out[s.name] for s in sections if s.name in out}


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


def _check_arguments(data_dir, file_list, steps, max_images, pca_max_images):
  if file_list and not data_dir:
    raise settings.ConfigError('--file_list needs --data_dir')
  if steps < 0:
    raise settings.ConfigError('--steps must be non-negative, got %d' % steps)
  if max_images < 0:
    raise settings.ConfigError('--max_images must be non-negative, got %d' % max_images)
  if pca_max_images is not None and (pca_max_images < 0 or pca_max_images == 1):
    raise settings.ConfigError('--pca_max_images must be 0 (all) or at least 2, got %d'
                               % pca_max_images)


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
          'metrics': 'images as the trainer sees them (crop, resize, float); mse_pm1 on '
                     '[-1, 1], mse_01 on [0, 1], psnr_db = mean over images of '
                     '10 log10(1 / mse_01)',
      },
      'config': rundir.saved_config(cfg),  # as config.json: glo-compare migrates it
      'provenance': run['provenance'],
      # The training files (names, sizes, contents of manifest.tsv): glo-compare averages
      # only reports of the same training data as seeds.
      'training_data_sha256': files.manifest_digest(run['manifest']),
      'sections': {},
  }


def evaluate(run_dir, data_dir=None, file_list=None, train_data_dir=None, checkpoint=None,
             steps=1000, max_images=1000, batch_size=None, seed=0, verify=True,
             fid_num_images=0, fid_cache_dir=None, fid_method='eigh', pca_max_images=10000,
             fid_num_samples=None, fid_protocol='ours'):
  """Runs the evaluation; returns the report dict (see module doc). With
  fid_num_images > 0 it adds the FID sections: the references of n = min(fid_num_images,
  real images) real images each (the cap is on the real images only), fid_num_samples
  samples of each sampler (any count, not capped by the training set; default n), the
  learned and PCA reconstructions of the training reference's images, and the held-out
  reconstructions; with pca_max_images not None the PCA baseline's (0: fitted on every
  training image). fid_protocol: 'ours' (the counts as given) or a name of
  fid.PROTOCOLS, whose counts the caller passed; the report records it (fid.describe)."""
  _check_arguments(data_dir, file_list, steps, max_images, pca_max_images)
  if fid_protocol != 'ours' and fid_num_images and not data_dir:
    raise settings.ConfigError(
        '--fid_protocol %s compares with random test images: give --data_dir (and '
        '--file_list) of the test split' % fid_protocol)
  if seed < 0:
    raise settings.ConfigError('--seed must be non-negative, got %d' % seed)
  if batch_size is not None and batch_size < 1:
    raise settings.ConfigError('--batch_size must be positive, got %d' % batch_size)
  run = runs.read_run(run_dir, train_data_dir, verify=verify)
  cfg = run['cfg']
  rundir.latest_checkpoint(run_dir, checkpoint)  # before any work: is there one?
  num_train = len(run['paths'])
  all_heldout = files.list_images(data_dir, file_list) if data_dir else []
  names = heldout_images(data_dir, all_heldout, max_images, seed, verify) if data_dir else []
  train_idx = files.seeded_subset(num_train, max_images, np.random.RandomState([seed, 2]))
  largest = max(len(train_idx), len(names))
  if batch_size is not None and batch_size > largest:
    raise settings.ConfigError(
        '--batch_size %d is larger than the largest image set evaluated (%d images): every '
        'batch would be padded to %d; give at most %d' % (batch_size, largest, batch_size,
                                                         largest))
  batch_size = batch_size or cfg['batch_size']
  report = _new_report(run, run_dir, cfg, seed, steps, batch_size)
  image_sets = {'train': ImageSet(
      'training images', batch_size, [run['paths'][i] for i in train_idx], train_idx,
      rng=np.random.RandomState([seed, 3]), extras={'data_dir': run['data_dir']})}
  if names:
    overlap, digest = _identical_to_training(run['manifest'], data_dir, names)
    image_sets['heldout'] = ImageSet(
        'held-out images', batch_size,
        [os.path.abspath(os.path.join(data_dir, n)) for n in names],
        rng=np.random.RandomState([seed, 4]),
        extras={'data_dir': os.path.abspath(data_dir), 'file_list': file_list,
                'identical_to_training': overlap, 'data_sha256': digest})
  if fid_protocol != 'ours' and fid_num_images:  # as many samples as test images (GLANN)
    fid_num_samples = min(fid_num_samples or fid_num_images, fid_num_images, len(all_heldout))
  fid_ops = _fid_extractor() if fid_num_images else None
  if fid_ops:
    if verify and all_heldout:  # FID reads up to fid_num_images of them, not only `names`
      data_check.check_decodable(data_dir, [all_heldout[i] for i in fid.choose_subset(
          len(all_heldout), fid_num_images, seed)], 'held-out (FID reference)')
    print(fid_cost_note(fid_num_images, fid_num_samples, num_train, len(names),
                        len(all_heldout), pca_max_images is not None), flush=True)
  with trained.TrainedRun(run_dir, checkpoint, batch_size=batch_size, run=run) as loaded, \
      _fid_session(fid_ops) as fid_sess:
    sess, gen, fit = loaded.session, loaded.ops, loaded.fit
    report.update(checkpoint=loaded.checkpoint, step=loaded.step)
    print('Evaluating %s at step %s: %d training and %d held-out images, %d code steps'
          % (run_dir, report['step'], len(train_idx), len(names), steps), flush=True)
    model = None
    if pca_max_images is not None:
      model = fit_pca(sess, gen, run, pca_max_images, seed)
      report['pca'] = pca_lib.describe(model)
    # Each registered metric's context; FID's (its network, the references) only with FID.
    contexts = {name: None for name in metrics.METRICS if name != 'fid'}
    if fid_ops:
      t0 = time.time()
      refs = fid.references(fid_sess, fid_ops, run, fid_num_images, seed, fid_cache_dir,
                            (data_dir, all_heldout) if data_dir else None)
      contexts['fid'] = metrics.FidContext(fid_sess, fid_ops, {
          k: g for k, (g, _) in refs.items()}, fid_method, 50, {})
      image_sets.update(_fid_image_sets(run, refs, seed, fid_num_samples))
    recons = reconstructors(sess, gen, fit, cfg, num_train, steps, model)
    sections = measure(image_sets, recons, contexts,
                       lambda paths: generation.load_images(sess, gen, paths))
    if fid_ops and 'heldout' in refs:  # the held-out references against the training
      sections['fid_heldout_images'] = metrics.METRICS['fid'].accumulator(
          contexts['fid']).values(refs['heldout'][0], refs['heldout'][1]['num_images'],
                                  skip=('heldout',))
    report['sections'] = {s.name: sections[s.name] for s in SECTIONS if s.name in sections}
    report['warnings'] = _warnings(report, cfg)
    if fid_ops:
      report['fid'] = fid.describe(refs, fid_num_images, seed, fid_method,
                                   time.time() - t0, fid_protocol,
                                   image_sets['samples'].size, len(names))
  return report


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


# FID's rate on the 2-core CPU of docs/fid.md ("Speed": 10,000 images in 1,036 s).
FID_CPU_IMAGES_PER_SEC = 9.7


def fid_cost_note(fid_num_images, fid_num_samples, num_train, num_heldout, num_heldout_files,
                  pca):
  """What FID will cost, said before it runs: the images through Inception-v3 and the
  time at FID_CPU_IMAGES_PER_SEC (references found in the cache are not recomputed)."""
  n = min(fid_num_images, num_train)
  samples = fid_num_samples or n
  count = 3 * samples + n * (3 if pca else 2) + min(fid_num_images, num_heldout_files)
  count += num_heldout * (2 if pca else 1)
  return ('FID: about {:,} images through Inception-v3 (the real references, {:,} samples of '
          'each of 3 samplers, the reconstructions), about {} on a 2-core CPU at {} images/s '
          '(docs/fid.md; a GPU is far faster, cached references are not recomputed); '
          '--nofid skips it.').format(count, samples,
                                      progress.format_duration(count / FID_CPU_IMAGES_PER_SEC),
                                      FID_CPU_IMAGES_PER_SEC)


def _fid_image_sets(run, refs, seed, num_samples=None, chunk=500):
  """The FID image sets: num_samples samples (any count: a sample set is not capped by
  the training set; default as many as the training reference's images) and the training
  reference's real images; `chunk` decoded images in memory at a time."""
  n = refs['train'][1]['num_images']
  num_samples = num_samples or n
  idx = fid.choose_subset(len(run['names']), n, seed)  # the reference's images
  return {'samples': ImageSet('samples', chunk, num_samples=num_samples,
                              dims=run['cfg']['latent_dims'],
                              rng=np.random.RandomState([seed, 5])),
          'fid_train': ImageSet('FID training images', chunk, [run['paths'][i] for i in idx],
                                idx, extras={'data_dir': run['data_dir']})}


def _fid_extractor():
  """The FID network's ops, in a graph of their own (constants only, nothing to restore)."""
  with tf.Graph().as_default():
    return fid.build_extractor()


def _fid_session(ops):
  """A session on the FID network's graph, or a null context without FID."""
  return tf.Session(graph=ops['features'].graph) if ops else contextlib.nullcontext()


def markdown(report):
  """The report's numbers as a markdown table, with what is needed to cite them."""
  # Only the columns some section has (no empty FID columns without FID).
  shown = [c for c in columns() if any(c[0] in s for s in report['sections'].values())]
  labels = {s.name: s.label for s in SECTIONS}
  lines = ['| evaluation | ' + ' | '.join(h for _, h, _ in shown) + ' |',
           '| --- | ' + ' | '.join('---:' for _ in shown) + ' |']
  for name, section in report['sections'].items():
    cells = [metrics.shown(key, section[key], fmt) if key in section else ''
             for key, _, fmt in shown]
    lines.append('| %s | %s |' % (labels.get(name, name), ' | '.join(cells)))
  cfg = report['config']
  lines += ['', 'glo-tf1 %s, preset `%s`, checkpoint step %s, training seed %s, evaluation '
            'seed %s, %s loss, codes optimised with %s (lr %g) for %s steps, decoder frozen; '
            'MSE over pixels as the trainer sees them, PSNR = mean of 10 log10(1 / MSE[0,1]) '
            'per image.'
            % (report['glo_tf1_version'], cfg['preset'], report['step'], cfg['seed'],
               report['seed'],
               cfg['loss'], cfg['codes_optimizer'], cfg['codes_learning_rate'],
               report['protocol']['steps'])]
  commit = report['provenance'].get('git_commit')
  if commit:
    lines[-1] += ' Trained at commit %s.' % commit
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
  return '\n'.join(lines) + '\n'


def pca_note(info, seed):
  """One line for the markdown report: what the PCA rows are."""
  return ('PCA: the linear baseline of the GLO paper with the same code size, the first %d '
          'principal components of %d training images (seed %d, %s fit), %.1f%% of their '
          'variance; reconstruction mean + V V^T (x - mean) in float64, not clipped.'
          % (info['components'], info['fit_images'], seed,
             'exact' if info['method'] == 'exact' else 'randomized %d-pass' % info['passes'],
             100. * info['explained_variance_ratio']))


def write_report(report, out_dir):
  """Writes evaluation.json and evaluation.md; returns their paths."""
  os.makedirs(out_dir, exist_ok=True)
  json_path = os.path.join(out_dir, 'evaluation.json')
  md_path = os.path.join(out_dir, 'evaluation.md')
  io.write_json(json_path, report)
  io.write_text_atomic(md_path, markdown(report))
  return json_path, md_path
