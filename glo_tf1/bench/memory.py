"""Peak resident memory of training with few and with many codes: one subprocess per size
(`glo-bench --probe_memory`), beside the bytes of the codes table and its optimizer slots."""
import json
import os
import resource
import subprocess
import sys

from glo_tf1.bench import harness


def codes_and_slots_bytes(optimizer, num_codes, dims):
  """The codes table plus its optimizer's per-row slots (Adam: m and v; SGD: none)."""
  return num_codes * dims * 4 * (3 if optimizer in ('adam', 'lazy_adam') else 1)


def peak_rss_mib():
  """This process's peak resident memory in MiB: VmHWM, which starts afresh at exec (ru_maxrss
  of a child starts from its parent's resident size at fork)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) / 1024.
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.


def probe_memory(optimizer, num_codes, s):
  """Peak resident memory (MiB) of this process after building and running a few steps."""
  cfg = harness.bench_config(s, codes_optimizer=optimizer)
  op, handles = harness.training_session(cfg, num_codes)
  for _ in range(3):
    handles[0].run(op)
  harness.close(*handles)
  return peak_rss_mib()


def _memory_in_subprocess(optimizer, num_codes, quick):
  """probe_memory in a fresh process (this tree first on its path); its peak MiB."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''))
  cmd = [sys.executable, '-m', 'glo_tf1.bench', '--probe_memory=%s:%d' % (optimizer, num_codes)]
  out = subprocess.run(cmd + (['--quick'] if quick else []), capture_output=True, text=True,
                       env=env, check=True, timeout=600)
  return json.loads(out.stdout.strip().splitlines()[-1])['peak_rss_mib']


def measure(s, quick, latent_dims, log=print):
  """{optimizer: peak MiB at the fewest and the most codes, their growth and the growth of
  the codes and slots} for every optimizer of s['memory_optimizers']."""
  small, large = str(s['num_codes'][0]), str(s['num_codes'][-1])
  memory = {}
  for opt in s['memory_optimizers']:
    log('peak memory, %s...' % opt)
    lo, hi = (_memory_in_subprocess(opt, int(n), quick) for n in (small, large))
    memory[opt] = {'peak_rss_mib_' + small: lo, 'peak_rss_mib_' + large: hi,
                   'growth_mib': hi - lo,
                   'codes_and_slots_growth_mib': (
                       codes_and_slots_bytes(opt, int(large), latent_dims) -
                       codes_and_slots_bytes(opt, int(small), latent_dims)) / 2.**20}
  return memory
