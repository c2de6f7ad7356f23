"""The checks of reproduce/gpu_check.sh that read TensorFlow, a run directory or a log.
Each subcommand writes one Markdown section of the report (its first argument) and exits
non-zero when its check fails, so that the script records the failure and goes on:

  versions MD FACTS       TensorFlow's build (CUDA, cuDNN, compute capabilities), the GPUs
                          it sees, the nvidia-* wheels; FACTS gets VISIBLE= and MIN_CC= for
                          the script
  training MD RUN STEP    the end-to-end run: the steps of its loss summaries, image
                          summaries, image dumps and checkpoints, and whether the loss
                          decreased; the last checkpoint must be at STEP
  identical MD CKPT CKPT  every variable of two checkpoints, bit for bit
  snapshot CKPT NPZ       the decoder's variables of a checkpoint, to compare later
  changed MD NPZ CKPT     whether every decoder variable changed since the snapshot
  placement MD LOG RUN GPUS TITLE
                          TensorFlow's placement log (TF_CPP_VMODULE=placer=1: one line per
                          op) against deploy/placement.py's prediction for RUN's graph
  first_step MD NAME=RUN@EPOCH...
                          seconds from each program's launch (EPOCH) to its run's first
                          loss summary: the first start against the later ones estimates the
                          PTX compile of a GPU without machine code in the wheel
"""
import collections
import glob
import importlib.metadata
import os
import re
import shlex
import struct
import subprocess
import sys

import numpy as np

from glo_tf1 import io

# TensorFlow is imported by the checks that need it only: reading events and the checkpoint
# index needs none, and each import costs seconds in a script that runs many checks.
# pylint: disable=import-outside-toplevel

# model/towers.py: the notebook's tf.summary.scalar('total', loss, family='losses'), whose
# tag TF1 writes as losses/losses/total (evaluation/curves.py reads the same tag).
LOSS_TAG = 'losses/losses/total'


def _write(path, lines):
  io.write_text_atomic(path, '\n'.join(lines) + '\n')


def versions(md, facts):
  from glo_tf1.compat import TF_VERSION
  from glo_tf1.compat import tf
  from glo_tf1.deploy import devices
  info = tf.sysconfig.get_build_info()
  gpus = tf.config.experimental.list_physical_devices('GPU')
  caps = devices.gpu_compute_capabilities()
  lines = ['TensorFlow %s, built with CUDA: %s' % (TF_VERSION, tf.test.is_built_with_cuda()),
           'built for CUDA %s, cuDNN %s, compute capabilities %s' % (
               info.get('cuda_version', '-'), info.get('cudnn_version', '-'),
               info.get('cuda_compute_capabilities', '-')),
           'GPUs TensorFlow sees: %d' % len(gpus)]
  lines += ['  %s, compute capability %s' % (g.name, '.'.join(map(str, c)) if c else '?')
            for g, c in zip(gpus, caps)]
  wheels = sorted({(d.metadata['Name'], d.version) for d in importlib.metadata.distributions()
                   if (d.metadata['Name'] or '').lower().startswith('nvidia-')})
  lines.append('nvidia-* wheels: %s' % (', '.join('%s==%s' % w for w in wheels) or 'none'))
  lines.append('LD_LIBRARY_PATH: %s' % (os.environ.get('LD_LIBRARY_PATH') or '(unset)'))
  known = [c for c in caps if c]
  # Why no GPU is seen, said here while TensorFlow is loaded (gpu_check.sh prints it when
  # the towers are asked on GPUs): another Python process would import it again.
  why = '' if gpus else (devices.why_no_gpu() if devices.nvidia_smi_gpus()
                         else 'nvidia-smi lists none')
  _write(md, ['```'] + lines + ['```'])
  _write(facts, ['VISIBLE=%d' % len(gpus),
                 'MIN_CC=%s' % ('%d%d' % min(known) if known else '0'),
                 'WHY_NO_GPU=%s' % shlex.quote(why)])


def _records(path):
  """The records of a TFRecord file (length, its CRC, data, its CRC), CRCs unchecked."""
  with open(path, 'rb') as f:
    while True:
      head = f.read(12)
      if len(head) < 12:
        return
      (length,) = struct.unpack('<Q', head[:8])
      data = f.read(length)
      if len(data) < length or len(f.read(4)) < 4:
        return  # a record still being written
      yield data


def _loss_events(run):
  """{step: (loss, wall time)} and the steps of image summaries, over every event file of
  `run` (a resume starts a new one); TensorBoard's Event proto, without TensorFlow."""
  from tensorboard.compat.proto import event_pb2
  loss, images = {}, set()
  for path in sorted(glob.glob(os.path.join(run, 'events.out.tfevents.*'))):
    for record in _records(path):
      event = event_pb2.Event.FromString(record)
      for value in event.summary.value:
        if value.tag == LOSS_TAG:
          loss[event.step] = (value.simple_value, event.wall_time)
        elif value.HasField('image'):
          images.add(event.step)
  return loss, images


def _latest_checkpoint(run):
  """RUN's last checkpoint as its `checkpoint` index names it (relative paths), or None."""
  try:
    with open(os.path.join(run, 'checkpoint')) as f:
      (name,) = re.findall(r'^model_checkpoint_path: "(.*)"$', f.read(), re.M)
  except (OSError, ValueError):
    return None
  path = os.path.join(run, name)
  return path if os.path.exists(path + '.index') else None


def training(md, run, step):
  step = int(step)
  loss, image_steps = _loss_events(run)
  dumps = sorted(os.listdir(os.path.join(run, 'images'))) if os.path.isdir(
      os.path.join(run, 'images')) else []
  ckpt = _latest_checkpoint(run)
  steps = sorted(loss)
  values = [loss[s][0] for s in steps]
  third = max(1, len(values) // 3)
  first, last = (float(np.mean(values[:third])), float(np.mean(values[-third:]))) \
      if values else (float('nan'), float('nan'))
  problems = []
  if len(values) < 2:
    problems.append('fewer than two loss summaries (%d)' % len(values))
  elif not last < first:
    problems.append('the loss did not decrease')
  if not image_steps:
    problems.append('no image summary')
  if not dumps:
    problems.append('no image written to RUN/images')
  if ckpt is None or not ckpt.endswith('-%d' % step):
    problems.append('last checkpoint %s, expected one at step %d' % (ckpt, step))
  lines = ['Loss summaries at steps %s' % ', '.join(map(str, steps)),
           'Loss (tag `%s`): %s' % (LOSS_TAG, ', '.join('%.4g' % v for v in values)),
           'Image summaries at steps %s; %d image files in RUN/images; last checkpoint %s'
           % (', '.join(map(str, sorted(image_steps))) or 'none', len(dumps),
              os.path.basename(ckpt) if ckpt else 'none'),
           '',
           'Loss decreased: %s (mean of the first third of the summaries %.4g, of the last '
           'third %.4g)' % ('yes' if values and last < first else 'NO', first, last)]
  if problems:
    lines.append('Problems: ' + '; '.join(problems))
  _write(md, lines)
  return 1 if problems else 0


def _variables(ckpt):
  from glo_tf1.compat import tf
  reader = tf.train.load_checkpoint(ckpt)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def identical(md, ckpt_a, ckpt_b):
  a, b = _variables(ckpt_a), _variables(ckpt_b)
  differ = sorted(n for n in set(a) | set(b) if n not in a or n not in b or
                  a[n].dtype != b[n].dtype or a[n].shape != b[n].shape or
                  a[n].tobytes() != b[n].tobytes())
  lines = ['Checkpoints compared: %s and %s, %d variables (%d values)' % (
      ckpt_a, ckpt_b, len(a), sum(v.size for v in a.values())),
           '',
           'Bit-identical checkpoints: %s' % ('yes' if not differ else 'NO')]
  if differ:
    lines.append('Differing variables (%d): %s' % (len(differ), ', '.join(differ[:20])))
  _write(md, lines)
  return 1 if differ else 0


def _decoder_variables(ckpt):
  from glo_tf1.model import decoders
  return {n: v for n, v in _variables(ckpt).items()
          if n.startswith(decoders.SCOPE + '/') and '/Adam' not in n
          and 'LazyAdam' not in n and 'Momentum' not in n}


def snapshot(ckpt, npz):
  np.savez(npz, **{n.replace('/', '|'): v for n, v in _decoder_variables(ckpt).items()})


def changed(md, npz, ckpt):
  with np.load(npz) as f:
    before = {n.replace('|', '/'): f[n] for n in f.files}
  after = _decoder_variables(ckpt)
  same = sorted(n for n in before if n in after and np.array_equal(before[n], after[n]))
  missing = sorted(set(before) ^ set(after))
  biggest = {n: float(np.max(np.abs(after[n].astype(np.float64) - before[n])))
             for n in before if n in after}
  lines = ['Decoder variables compared: %d, from %s' % (len(before), ckpt),
           'Largest change of each: %s' % ', '.join(
               '%s %.3g' % (n, d) for n, d in sorted(biggest.items())),
           '',
           'Every decoder variable changed: %s' % ('yes' if not same and not missing
                                                   else 'NO')]
  if same:
    lines.append('Unchanged: %s' % ', '.join(same))
  if missing:
    lines.append('In one checkpoint only: %s' % ', '.join(missing))
  _write(md, lines)
  return 1 if same or missing or not before else 0


PLACED = re.compile(r'\] (\S+?)\((\S+?)\) placed on: (\S+)')
SUMMARY_OPS = ('ScalarSummary', 'ImageSummary', 'HistogramSummary', 'MergeSummary',
               'WriteScalarSummary', 'WriteImageSummary')
SUMMARY_SCOPE = 'generation_summaries/'  # model/towers.py: the image grids' graph
PIPELINE_SCOPES = ('inputs', 'inputs_preprocess', 'cached_inputs')  # data/pipelines, cache


def placement_section(md, log, run, gpus, title):
  """TensorFlow's own placement (the placer's log lines of the training session) beside
  deploy/placement.py's prediction for the run's graph (RUN/graph.pbtxt)."""
  from google.protobuf import text_format
  from glo_tf1.compat import tf
  from glo_tf1.deploy import placement
  placed = {}
  with open(log, errors='replace') as f:
    for line in f:
      m = PLACED.search(line)
      if m:
        placed[m.group(1)] = (m.group(2), m.group(3))
  graph_def = tf.GraphDef()
  with open(os.path.join(run, 'graph.pbtxt')) as f:
    text_format.Parse(f.read(), graph_def)
  graph = tf.Graph()
  with graph.as_default():
    tf.import_graph_def(graph_def, name='')
  pred = placement.predict(graph, gpus=gpus == '1')
  gpu, host = placement.GPU, placement.HOST
  names = {op.name for op in graph.get_operations()}
  ours = {n: v for n, v in placed.items() if n in names}
  per_device = collections.Counter(dev for _, dev in ours.values())
  summaries = collections.Counter(dev for n, (t, dev) in ours.items()
                                  if t in SUMMARY_OPS or n.startswith(SUMMARY_SCOPE))
  pipeline = collections.Counter(dev for n, (_, dev) in ours.items()
                                 if n.split('/')[0] in PIPELINE_SCOPES)
  host_not_gpu = sorted(n for n, (_, dev) in ours.items()
                        if 'CPU' in dev.upper() and pred.device.get(n) == gpu)
  gpu_not_host = sorted(n for n, (_, dev) in ours.items()
                        if 'GPU' in dev.upper() and pred.device.get(n) == host)
  lines = ['### %s' % title, '',
           'TensorFlow placed %d of the graph\'s %d ops (log: %s).' % (
               len(ours), len(names), log), '',
           '| device | ops placed | of which summaries | of which input pipeline |',
           '| --- | --- | --- | --- |']
  lines += ['| %s | %d | %d | %d |' % (d, n, summaries[d], pipeline[d])
            for d, n in sorted(per_device.items())]
  lines += ['',
            'Placed on the host where the prediction (deploy/placement.py) puts a GPU: %d%s'
            % (len(host_not_gpu), ' (%s)' % ', '.join(host_not_gpu[:20]) if host_not_gpu
               else ''),
            'Placed on a GPU where the prediction puts the host: %d%s'
            % (len(gpu_not_host), ' (%s)' % ', '.join(gpu_not_host[:20]) if gpu_not_host
               else '')]
  _write(md, lines)
  return 1 if not ours else 0


def first_step(md, *runs):
  lines = ['| run | seconds from launch to the first loss summary |', '| --- | --- |']
  times = []
  for arg in runs:
    name, rest = arg.split('=', 1)
    run, epoch = rest.rsplit('@', 1)
    loss, _ = _loss_events(run) if os.path.isdir(run) else ({}, set())
    after = [w for _, w in loss.values() if w >= float(epoch)]
    t = min(after) - float(epoch) if after else None
    times.append(t)
    lines.append('| %s | %s |' % (name, '%.1f' % t if t is not None else '-'))
  if len(times) > 1 and times[0] is not None and any(t is not None for t in times[1:]):
    later = float(np.median([t for t in times[1:] if t is not None]))
    lines += ['', 'First start minus the median of the later starts: %.1f s (an estimate of '
              'the PTX compile, which the driver caches)' % (times[0] - later)]
  ptx = _ptx_warnings()
  if ptx:
    lines += ['', 'TensorFlow said: ' + ptx]
  _write(md, lines)
  return 0 if times and times[0] is not None else 1


def _ptx_warnings():
  """TensorFlow's own words on compiling from PTX, from the script's training logs."""
  logs = os.environ.get('GPU_CHECK_LOGS', '')
  if not logs:
    return ''
  out = subprocess.run(['grep', '-h', '-i', '-m', '3', '-E', 'ptx|could take 30 minutes']
                       + sorted(glob.glob(os.path.join(logs, '*.log'))),
                       capture_output=True, text=True, check=False).stdout
  return ' / '.join(l.strip() for l in out.splitlines()[:3])


def main(argv):
  commands = {'versions': versions, 'training': training, 'identical': identical,
              'snapshot': snapshot, 'changed': changed, 'placement': placement_section,
              'first_step': first_step}
  if len(argv) < 2 or argv[1] not in commands:
    print('usage: python reproduce/gpu_check.py {%s} ARGS' % ','.join(commands),
          file=sys.stderr)
    return 2
  return commands[argv[1]](*argv[2:]) or 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
