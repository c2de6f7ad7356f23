"""One progress reporter for every long loop: done/total, rate and ETA on one line.

Training prints a line every N steps; data checks, cache builds, code fitting, FID
features and neighbour searches print one about every 10 seconds and at the end. All of
them format their lines here, so a user reads the same shape everywhere.
"""
import time


def format_hms(seconds):
  """'H:MM:SS' of a non-negative number of seconds."""
  seconds = int(max(0, seconds))
  return '%d:%02d:%02d' % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def format_duration(seconds):
  """A duration to read before a long job: '17 minutes', '2.6 hours', '3.1 days'."""
  hours = max(0., seconds) / 3600.
  if hours >= 48:
    return '%.1f days' % (hours / 24.)
  if hours >= 1:
    return '%.1f hours' % hours
  return '%.0f minutes' % (hours * 60.)


class Progress:
  """Reports '<label> done/total unit  rate unit/s  ETA H:MM:SS'.

  Args:
    label: what is being counted (a prefix of every line).
    total: the count at the end, or None when unknown (no ETA then).
    unit: what is counted ('images', 'files', 'steps').
    every_secs: `update` prints at most this often (0: every call), and always at the end.
    log: where lines go (print by default).
    start: the count at which the clock starts (a resumed run's first step).
  """

  def __init__(self, label, total=None, unit='images', every_secs=10.0, log=print,
               start=0, clock=time.time):
    self.label, self.total, self.unit = label, total, unit
    self._every, self._log, self._clock = every_secs, log, clock
    self._t0 = self._last = clock()
    self.start = start

  def rate(self, done):
    """Units per second since the clock started (0 before any time has passed)."""
    elapsed = self._clock() - self._t0
    return (done - self.start) / elapsed if elapsed > 0 else 0.0

  def line(self, done, extra='', scale=1, rate_unit=None):
    """The line for `done` units: '<label> done/total unit  extra  rate/s  ETA'.

    `scale` converts the counted units to the rate's (`rate_unit`): a training loop
    counts steps and reports images/s with scale = images per step.
    """
    rate = self.rate(done) * scale
    text = '%s %d%s%s' % (self.label, done, '/%d' % self.total if self.total else '',
                          ' ' + self.unit if self.unit else '')
    if extra:
      text += '  ' + extra
    if done > self.start:
      text += '  %.1f %s/s' % (rate, rate_unit or self.unit)
      if self.total and rate > 0:
        text += '  ETA %s' % format_hms((self.total - done) * scale / rate)
    return text

  def update(self, done, extra='', force=False):
    """Logs the line if `every_secs` have passed, at the end, or when `force`d; returns
    the line logged or None."""
    now = self._clock()
    if not (force or now - self._last >= self._every or
            (self.total is not None and done >= self.total)):
      return None
    self._last = now
    text = self.line(done, extra)
    self._log(text)
    return text
