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
'sections' map a name to one set of numbers (see SECTION_LABELS; COLUMNS lists the
markdown table's columns), so another metric adds a section and its columns.

Numbers (images as the trainer sees them: cropped, resized, float, no quantisation):
  mse_pm1  mean over images and pixels of (x - x')^2 with pixels in [-1, 1].
  mse_01   the same with pixels in [0, 1] (= mse_pm1 / 4).
  psnr_db  mean over images of 10 log10(1 / mse_01 of the image) (peak 1 on [0, 1]).
"""
import contextlib
import os
import sys
import time

import numpy as np

from glo_tf1 import __version__
from glo_tf1 import io
from glo_tf1 import progress
from glo_tf1 import settings
from glo_tf1.compat import tf
from glo_tf1.data import check as data_check
from glo_tf1.data import files
from glo_tf1.evaluation import fid
from glo_tf1.evaluation import generation
from glo_tf1.evaluation import pca as pca_lib
from glo_tf1.evaluation import runs
from glo_tf1.model import codes as codes_lib
from glo_tf1.model import decoder as decoder_lib
from glo_tf1.model import losses
from glo_tf1.model import optimizers
from glo_tf1.training import run_dir as rundir


SECTION_LABELS = {
    'train_learned': 'training images, learned codes',
    'train': 'training images, codes re-optimised',
    'pca_train': 'training images, PCA (linear baseline)',
    'heldout': 'held-out images, codes optimised',
    'pca_heldout': 'held-out images, PCA (linear baseline)',
}
SECTION_LABELS.update(fid.SECTION_LABELS)
# Markdown columns: (key in a section, header, format). A new metric appends its own.
COLUMNS = [
    ('num_images', 'images', '%d'),
    ('steps', 'code steps', '%s'),
    ('mse_pm1', 'MSE [-1,1]', '%.5f'),
    ('mse_01', 'MSE [0,1]', '%.5f'),
    ('psnr_db', 'PSNR (dB)', '%.2f'),
    ('fid_train', 'FID vs train', '%.2f'),
    ('fid_heldout', 'FID vs held-out', '%.2f'),
]


# ----------------------------------------------------------------------------- metrics

def image_metrics(images, recons):
  """Per-image (mse on [-1, 1], mse on [0, 1], PSNR in dB with peak 1 on [0, 1])."""
  x = np.asarray(images, np.float64).reshape(len(images), -1)
  y = np.asarray(recons, np.float64).reshape(len(recons), -1)
  mse_pm1 = np.mean((x - y) ** 2, axis=1)
  mse_01 = mse_pm1 / 4.
  psnr = 10. * np.log10(1. / np.maximum(mse_01, 1e-20))
  return mse_pm1, mse_01, psnr


def summarise(mse_pm1, mse_01, psnr):
  """The section numbers of per-image metrics."""
  return {'num_images': int(len(mse_pm1)), 'mse_pm1': float(np.mean(mse_pm1)),
          'mse_01': float(np.mean(mse_01)), 'psnr_db': float(np.mean(psnr)),
          'psnr_db_std': float(np.std(psnr))}


# ----------------------------------------------------------------------------- graph

def initial_codes(cfg, num_train, images, rng):
  """Fresh codes for a batch, initialised as training initialised its codes.

  glorot: uniform(+-sqrt(6 / (N_train + dims))), the scale of the trained `codes`
  variable (so the optimizer moves the codes at the training's relative speed);
  gaussian: N(0, 1); pca: principal components of the batch's images (codes.pca_codes).
  """
  if cfg['codes_init'] == 'pca':
    return codes_lib.pca_codes(images, cfg['latent_dims'], seed=rng.randint(2 ** 31))
  return codes_lib.fresh_codes(rng, len(images), num_train, cfg['latent_dims'],
                               cfg['codes_init'])


def build_code_fitting(cfg, batch_size):
  """Fits fresh codes to a batch of images with the decoder frozen (reuses its variables).

  Returns dict: images, init (placeholders), reset (stores `images`, initialises the codes
  from `init` and resets the optimizer's slots), step (one optimizer step, then the
  stored-code projection when the run used it; no feed, the batch is stored), codes,
  reconstructions (inference mode), loss.
  """
  dims, size = cfg['latent_dims'], cfg['image_size']
  images = tf.placeholder(tf.float32, [batch_size, size, size, 3], name='eval_images')
  init = tf.placeholder(tf.float32, [batch_size, dims], name='eval_init')
  with tf.variable_scope('eval'):
    codes = tf.get_variable('codes', [batch_size, dims], tf.float32, trainable=False)
    stored = tf.get_variable('images', [batch_size, size, size, 3], tf.float32,
                             trainable=False)
  recon = decoder_lib.decode(codes_lib.project(codes, cfg['projection']), cfg,
                             is_training=False, reuse=True)
  loss = losses.reconstruction_loss(stored, recon, cfg)
  with tf.variable_scope('eval'):
    opt = optimizers.make_optimizer(cfg['codes_optimizer'], cfg['codes_learning_rate'])
    step = opt.minimize(loss, var_list=[codes])
  if cfg['project_stored_codes']:
    with tf.control_dependencies([step]):
      step = codes.assign(codes_lib.project(codes, cfg['projection'])).op
  with tf.control_dependencies([tf.variables_initializer(opt.variables())]):
    reset = tf.group(codes.assign(init), stored.assign(images))
  return {'images': images, 'init': init, 'reset': reset, 'step': step, 'codes': codes,
          'reconstructions': recon, 'loss': loss}


# ----------------------------------------------------------------------------- procedures

def _batches(n, batch_size):
  for start in range(0, n, batch_size):
    yield start, min(start + batch_size, n)


def evaluate_learned(sess, gen, train_paths, indices, batch_size):
  """Per-image metrics of the learned codes of training images `indices`."""
  out = []
  for a, b in _batches(len(indices), batch_size):
    originals, recons = generation.reconstructions(sess, gen, train_paths, indices[a:b])
    out.append(image_metrics(originals, recons))
  return [np.concatenate(m) for m in zip(*out)]


def evaluate_optimised(sess, gen, fit, cfg, paths, steps, num_train, rng, label='',
                       on_batch=None):
  """Per-image metrics after `steps` optimizer steps of fresh codes for `paths`;
  `on_batch(images, reconstructions)` sees each batch (FID features)."""
  batch_size = fit['images'].get_shape().as_list()[0]
  out = []
  report = progress.Progress('  ' + label, len(paths), 'images', every_secs=10)
  for a, b in _batches(len(paths), batch_size):
    images = generation.load_images(sess, gen, paths[a:b])
    padded = generation.pad_batch(images, batch_size)
    sess.run(fit['reset'], {fit['init']: initial_codes(cfg, num_train, padded, rng),
                            fit['images']: padded})
    for _ in range(steps):
      sess.run(fit['step'])
    recons = sess.run(fit['reconstructions'])[:b - a]
    out.append(image_metrics(images, recons))
    if on_batch:
      on_batch(images, recons)
    report.update(b)
  return [np.concatenate(m) for m in zip(*out)]


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


def evaluate(run_dir, data_dir=None, file_list=None, train_data_dir=None, checkpoint=None,
             steps=1000, max_images=1000, batch_size=None, seed=0, verify=True,
             fid_num_images=0, fid_cache_dir=None, fid_method='eigh', pca_max_images=10000):
  """Runs the evaluation; returns the report dict (see module doc). With
  fid_num_images > 0 it adds the FID sections (fid.evaluate_fid); with pca_max_images not
  None the PCA baseline's (0: fitted on every training image)."""
  if file_list and not data_dir:
    raise settings.ConfigError('--file_list needs --data_dir')
  if steps < 0:
    raise settings.ConfigError('--steps must be non-negative, got %d' % steps)
  if max_images < 0:
    raise settings.ConfigError('--max_images must be non-negative, got %d' % max_images)
  if pca_max_images is not None and (pca_max_images < 0 or pca_max_images == 1):
    raise settings.ConfigError('--pca_max_images must be 0 (all) or at least 2, got %d'
                               % pca_max_images)
  run = runs.read_run(run_dir, train_data_dir, verify=verify)
  cfg = run['cfg']
  batch_size = batch_size or cfg['batch_size']
  if batch_size < 1:
    raise settings.ConfigError('--batch_size must be positive, got %d' % batch_size)
  rundir.latest_checkpoint(run_dir, checkpoint)  # before any work: is there one?
  num_train = len(run['paths'])
  heldout_names = []
  if data_dir:
    heldout_names = files.list_images(data_dir, file_list)
    heldout_names = [heldout_names[i] for i in
                     files.seeded_subset(len(heldout_names), max_images, np.random.RandomState([seed, 1]))]
    if verify:
      bad = data_check.check_files(data_dir, heldout_names, decode=True, progress=False)
      if bad:
        raise files.DataError('%d held-out image(s) in %s are not usable:\n%s' % (
            len(bad), data_dir, '\n'.join('  %s: %s' % b for b in bad[:20])))
  train_idx = files.seeded_subset(num_train, max_images, np.random.RandomState([seed, 2]))
  report = {
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
      'config': settings.to_saved(cfg),  # as config.json: glo-compare migrates it
      'provenance': run['provenance'],
      'sections': {},
  }
  fid_ops = _fid_extractor() if fid_num_images else None
  heldout_fid = []  # FID features of the held-out reconstructions
  heldout_pca_fid = []  # and of their PCA reconstructions
  pca_metrics = {'pca_train': [], 'pca_heldout': []}
  with tf.Graph().as_default():
    gen = generation.build_generation_graph(cfg, num_train, batch_size=batch_size)
    fit = build_code_fitting(cfg, batch_size)
    # Built before the sessions open: entering the FID session makes its graph the default.
    init_eval = tf.variables_initializer(tf.global_variables('eval'))
    with tf.Session() as sess, _fid_session(fid_ops) as fid_sess:
      sess.run(init_eval)
      ckpt = runs.restore_variables(sess, run_dir, gen['restore_vars'], checkpoint)
      report.update(checkpoint=ckpt, step=rundir.checkpoint_step(ckpt))
      print('Evaluating %s at step %s: %d training and %d held-out images, %d code steps'
            % (run_dir, report['step'], len(train_idx), len(heldout_names), steps),
            flush=True)
      model = None
      if pca_max_images is not None:
        model = fit_pca(sess, gen, run, pca_max_images, seed)
        report['pca'] = pca_lib.describe(model)

      def with_pca(section, features=None):
        """on_batch that measures PCA's reconstructions of the batch's images too."""
        def on_batch(images, recons):
          if model is not None:
            pca_recons = pca_lib.reconstruct(model, images)
            pca_metrics[section].append(image_metrics(images, pca_recons))
            if fid_ops and section == 'pca_heldout':
              heldout_pca_fid.append(fid_sess.run(
                  fid_ops['features'], {fid_ops['images']: pca_recons}))
          if features is not None:
            features.append(fid_sess.run(fid_ops['features'], {fid_ops['images']: recons}))
        return on_batch

      def pca_section(name, **extra):
        if model is not None:
          sections[name] = dict(summarise(*[np.concatenate(m) for m in zip(
              *pca_metrics[name])]), components=report['pca']['components'],
                                fit_images=report['pca']['fit_images'], **extra)

      sections = report['sections']
      sections['train_learned'] = dict(
          summarise(*evaluate_learned(sess, gen, run['paths'], train_idx, batch_size)),
          steps='trained', data_dir=run['data_dir'])
      train_paths = [run['paths'][i] for i in train_idx]
      sections['train'] = dict(summarise(*evaluate_optimised(
          sess, gen, fit, cfg, train_paths, steps, num_train,
          np.random.RandomState([seed, 3]), 'training images',
          on_batch=with_pca('pca_train'))),
          steps=steps, data_dir=run['data_dir'])
      pca_section('pca_train', data_dir=run['data_dir'])
      if heldout_names:
        paths = [os.path.abspath(os.path.join(data_dir, n)) for n in heldout_names]
        train_hashes = {h for _, _, _, h in files.read_manifest(
            os.path.join(run_dir, files.MANIFEST_NAME))}
        overlap = sum(h in train_hashes for _, _, _, h in
                      files.build_manifest(data_dir, heldout_names))
        if overlap:
          print('warning: %d of the %d held-out images are byte-identical to training '
                'images' % (overlap, len(paths)), file=sys.stderr)
        sections['heldout'] = dict(summarise(*evaluate_optimised(
            sess, gen, fit, cfg, paths, steps, num_train,
            np.random.RandomState([seed, 4]), 'held-out images',
            on_batch=with_pca('pca_heldout', heldout_fid if fid_ops else None))),
            steps=steps, data_dir=os.path.abspath(data_dir), file_list=file_list,
            identical_to_training=overlap)
        pca_section('pca_heldout', data_dir=os.path.abspath(data_dir), file_list=file_list)
      if fid_ops:
        report['fid'], fid_sections = fid.evaluate_fid(
            fid_sess, fid_ops, sess, gen, run, fid_num_images, seed,
            heldout=(data_dir, files.list_images(data_dir, file_list)) if data_dir else None,
            heldout_recon_features=np.concatenate(heldout_fid) if heldout_fid else None,
            cache_dir=fid_cache_dir, method=fid_method,
            pca_reconstruct=(lambda x: pca_lib.reconstruct(model, x)) if model else None,
            heldout_pca_features=(np.concatenate(heldout_pca_fid) if heldout_pca_fid
                                  else None))
        sections.update(fid_sections)
  return report


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
  columns = [c for c in COLUMNS if any(c[0] in s for s in report['sections'].values())]
  lines = ['| evaluation | ' + ' | '.join(h for _, h, _ in columns) + ' |',
           '| --- | ' + ' | '.join('---:' for _ in columns) + ' |']
  for name, section in report['sections'].items():
    cells = [(fmt % section[key]) if key in section else '' for key, _, fmt in columns]
    lines.append('| %s | %s |' % (SECTION_LABELS.get(name, name), ' | '.join(cells)))
  cfg = report['config']
  lines += ['', 'glo-tf1 %s, preset `%s`, checkpoint step %s, seed %s, %s loss, codes '
            'optimised with %s (lr %g) for %s steps, decoder frozen; MSE over pixels as the '
            'trainer sees them, PSNR = mean of 10 log10(1 / MSE[0,1]) per image.'
            % (report['glo_tf1_version'], cfg['preset'], report['step'], report['seed'],
               cfg['loss'], cfg['codes_optimizer'], cfg['codes_learning_rate'],
               report['protocol']['steps'])]
  commit = report['provenance'].get('git_commit')
  if commit:
    lines[-1] += ' Trained at commit %s.' % commit
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
