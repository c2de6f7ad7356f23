"""training.launch.run: the library entry point (what cli/train.py calls once), from a
notebook's point of view: arguments in, an Outcome out, errors as exceptions."""
import os
import signal

import pytest

from conftest import write_index_images
from glo_tf1 import settings
from glo_tf1.rundir import config as run_config
from glo_tf1.training import launch

SMALL = {'image_size': 16, 'latent_dims': 8, 'decoder_filters': [16, 8], 'batch_size': 4,
         'shuffle_capacity': 16, 'min_after_dequeue': 4, 'num_reader_threads': 1,
         'log_every_steps': 2, 'save_summaries_steps': 2, 'image_summary_steps': 4}


def test_run_trains_resumes_and_returns_the_outcome(tmp_path):
  data, run = str(tmp_path / 'data'), str(tmp_path / 'run')
  write_index_images(data, 12)
  before = signal.getsignal(signal.SIGTERM)
  out = launch.run(run, data, preset='demo', overrides=dict(SMALL, num_steps=6),
                   handle_signals=False)
  assert out.status == 'done' and out.step == 6 and run in out.message
  assert signal.getsignal(signal.SIGTERM) is before  # the caller's handlers stay
  assert run_config.read_config(run)['num_steps'] == 6
  assert os.path.exists(os.path.join(run, 'model.ckpt-6.index'))
  again = launch.run(run, data, overrides={'num_steps': 8}, handle_signals=False)
  assert again.status == 'done' and again.step == 8


def test_a_bad_setting_raises_before_anything_is_trained(tmp_path):
  data = str(tmp_path / 'data')
  write_index_images(data, 4)
  with pytest.raises(settings.ConfigError, match='--image_size'):
    launch.run(str(tmp_path / 'run'), data, preset='demo', overrides={'image_size': 20},
               handle_signals=False)
  assert not os.path.exists(str(tmp_path / 'run'))  # a failed start leaves no run directory
  # Issue 22: nor the parents it made, nor a lock in a folder the user made (mktemp -d).
  with pytest.raises(settings.ConfigError, match='--image_size'):
    launch.run(str(tmp_path / 'a' / 'b' / 'run'), data, preset='demo',
               overrides={'image_size': 20}, handle_signals=False)
  assert sorted(os.listdir(str(tmp_path))) == ['data']
  os.makedirs(str(tmp_path / 'mine'))  # one the user made stays, empty
  with pytest.raises(settings.ConfigError, match='--image_size'):
    launch.run(str(tmp_path / 'mine'), data, preset='demo', overrides={'image_size': 20},
               handle_signals=False)
  assert os.listdir(str(tmp_path / 'mine')) == []
