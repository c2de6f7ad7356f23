"""Training curves from a run's TensorBoard events: the loss against steps (`loss.png`).

The events are read with TensorBoard's own reader (`event_accumulator`), which applies
TensorBoard's rules: after a resume, points logged past the restored checkpoint (work that
was lost) are dropped, so the curve is the one TensorBoard shows.
"""
import logging

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top
import numpy as np  # noqa: E402  pylint: disable=g-import-not-at-top

from glo_tf1 import io  # noqa: E402
from glo_tf1 import rundir  # noqa: E402

# towers.build_training_graph: the loss averaged over towers, under the notebook's tag
LOSS_TAG = 'losses/losses/total'
LEGACY_LOSS_TAG = 'loss'  # the same scalar in runs written before it took the notebook's tag


class NoEventsError(rundir.RunDirError):
  """The run directory has no events with the asked tag. The message names both."""


def read_scalars(run_dir, tag):
  """(steps int64 [n], values float64 [n]) of the scalar `tag` in run_dir's event files."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  # Its notes about several graph events in one run (one per session hook) are noise here.
  logging.getLogger('tensorboard').setLevel(logging.ERROR)
  acc = event_accumulator.EventAccumulator(
      run_dir, size_guidance={event_accumulator.SCALARS: 0})  # 0: keep every point
  acc.Reload()
  if tag not in acc.Tags()['scalars']:
    raise NoEventsError('no %r scalars in the TensorBoard events of %s (found: %s)'
                        % (tag, run_dir, ', '.join(acc.Tags()['scalars']) or 'none'))
  events = acc.Scalars(tag)
  return (np.array([e.step for e in events], np.int64),
          np.array([e.value for e in events], np.float64))


def save_loss_curve(run_dir, path, loss_name=None):
  """Writes the training loss against steps as a PNG at `path`; returns `path`.

  loss_name: the run's loss setting (pairwise, mse, lap1), named on the y axis, since
  the scales differ (the post's pairwise loss of about 2.0 is not an MSE, defect 6).
  """
  try:
    steps, values = read_scalars(run_dir, LOSS_TAG)
  except NoEventsError:
    try:
      steps, values = read_scalars(run_dir, LEGACY_LOSS_TAG)
    except NoEventsError:
      raise NoEventsError('no %r (or older %r) scalars in the TensorBoard events of %s'
                          % (LOSS_TAG, LEGACY_LOSS_TAG, run_dir)) from None
  fig, ax = plt.subplots(figsize=(6, 3.5))
  ax.plot(steps, values, linewidth=1)
  ax.set_xlabel('step')
  ax.set_ylabel('training loss' + (' (%s)' % loss_name if loss_name else ''))
  ax.set_title('training loss, %d points every %d steps' % (
      len(steps), int(np.median(np.diff(steps))) if len(steps) > 1 else 0))
  ax.grid(True, alpha=0.3)
  fig.tight_layout()
  with io.atomic_open(path, 'wb') as f:
    fig.savefig(f, dpi=100, format='png')
  plt.close(fig)
  return path
