"""glo_tf1/progress.py, on a fake clock: counts, rates, ETA and the printing cadence."""
from glo_tf1 import progress


class _Clock:
  def __init__(self):
    self.now = 100.0

  def __call__(self):
    return self.now


def test_rate_and_eta_from_the_clock():
  clock, lines = _Clock(), []
  p = progress.Progress('  checked', 1000, 'files', every_secs=10, log=lines.append,
                        clock=clock)
  clock.now += 5
  assert p.update(100) is None  # 5 s < 10 s: not yet
  clock.now += 5
  line = p.update(200)
  assert line == '  checked 200/1000 files  20.0 files/s  ETA 0:00:40'
  clock.now += 1
  assert p.update(1000) is not None  # the end always prints
  assert lines == [line, lines[1]] and lines[1].startswith('  checked 1000/1000 files')


def test_training_steps_reported_as_images_per_second():
  clock = _Clock()
  p = progress.Progress('step', 3000, unit='', every_secs=0, start=100, clock=clock)
  assert p.line(100, 'loss 0.5000') == 'step 100/3000  loss 0.5000'  # no time yet
  clock.now += 2
  # 100 steps of 32 images in 2 s: 1600 img/s; 2800 steps left = 56 s.
  assert p.line(200, 'loss 0.2500', scale=32, rate_unit='img') == \
      'step 200/3000  loss 0.2500  1600.0 img/s  ETA 0:00:56'


def test_format_hms():
  assert progress.format_hms(0) == '0:00:00'
  assert progress.format_hms(3725.9) == '1:02:05'
  assert progress.format_hms(-3) == '0:00:00'
