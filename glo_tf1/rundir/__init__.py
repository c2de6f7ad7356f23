"""The run directory: everything a run is, in one folder that training writes and
evaluation, figures and the API read. Below both, so neither reaches into the other.

  RUN/config.json      the resolved settings (config.py: read, write, migrate, resume checks)
  RUN/manifest.tsv     the ordered file list the codes belong to (manifest.py; data/files.py)
  RUN/provenance.json  versions, commit, machine, GPUs and CUDA stack, seed (provenance.py)
  RUN/lock             held by the one trainer writing into RUN (lock.py)
  RUN/checkpoint, RUN/model.ckpt-STEP.*, RUN/damaged/
                       TensorFlow checkpoints: listing, choosing a step, repairing a torn
                       write (checkpoints.py)

Running the same command again resumes from it (the post's timestamped directories never
resumed, defect 4).
"""
from glo_tf1 import settings

CONFIG_NAME = 'config.json'
PROVENANCE_NAME = 'provenance.json'
LOCK_NAME = 'lock'
CHECKPOINT_STATE = 'checkpoint'
DAMAGED_NAME = 'damaged'


class RunDirError(settings.UserError):
  """The run directory cannot be used as asked; the message says why."""
