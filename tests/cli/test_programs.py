"""The programs: every console script installed, --help quick and written for users, the
documented exit status for bad usage, and a quiet console."""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from conftest import run_module
from glo_tf1 import settings
from glo_tf1.cli import common
from glo_tf1.cli import evaluate
from glo_tf1.cli import figures
from glo_tf1.cli import sample

CLI = os.path.join(ROOT, 'glo_tf1', 'cli')


def _console_scripts():
  """{script name: 'module:function'} from pyproject.toml's [project.scripts]."""
  with open(os.path.join(ROOT, 'pyproject.toml')) as f:
    text = f.read()
  section = text.split('[project.scripts]', 1)[1].split('\n[', 1)[0]
  return dict(re.findall(r'^([\w-]+) = "([\w.:]+)"', section, re.M))


def test_every_program_is_a_console_script_and_every_script_a_program():
  programs = {n[:-3] for n in os.listdir(CLI)
              if n.endswith('.py') and n not in ('__init__.py', 'common.py')}
  scripts = _console_scripts()
  assert {target.split(':')[0].rsplit('.', 1)[1] for target in scripts.values()} == programs
  assert all(target.endswith(':run') for target in scripts.values())


@pytest.mark.e2e
@pytest.mark.parametrize('script', sorted(_console_scripts()))
def test_help_is_quick_exits_0_and_is_written_for_users(script):
  exe = shutil.which(script)
  assert exe, '%s is not installed (bash tests/run.sh installs the package with pip -e)' % script
  start = time.time()
  proc = subprocess.run([exe, '--help'], capture_output=True, text=True, timeout=60)
  seconds = time.time() - start
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.startswith(script + ':'), proc.stdout[:80]
  assert 'Flags:' in proc.stdout and proc.stderr == ''
  for internal in ('Internal', 'SECTION', 'appended to', 'FIGURES', 'pylint'):
    assert internal not in proc.stdout, (script, internal)
  # No TensorFlow import behind --help (it takes seconds): the program answers at once.
  assert seconds < 10, seconds


def test_train_usage_and_training_doc_name_every_preset():
  from glo_tf1 import settings  # pylint: disable=import-outside-toplevel
  from glo_tf1.cli import common  # pylint: disable=import-outside-toplevel
  from glo_tf1.cli import train  # pylint: disable=import-outside-toplevel
  page = common.help_text(train.FLAGS, 'glo-train', train.__doc__)  # what --help prints
  (usage,) = [l for l in page.splitlines() if l.strip().startswith('glo-train --data_dir')]
  (listed,) = re.findall(r'\[--preset ([\w|]+)\]', usage)
  assert listed.split('|') == list(settings.PRESETS)
  with open(os.path.join(ROOT, 'docs', 'training.md')) as f:
    text = ' '.join(f.read().split())
  (named,) = re.findall(r'a preset \(([^)]*)\) only sets the defaults', text)
  assert re.findall(r'`(\w+)`', named) == list(settings.PRESETS)


@pytest.mark.e2e
@pytest.mark.parametrize('module', ['glo_tf1.cli.train', 'glo_tf1.cli.evaluate',
                                    'glo_tf1.cli.check_data', 'glo_tf1.cli.figures',
                                    'glo_tf1.bench'])
def test_unknown_flag_or_argument_exits_2_naming_it(module):
  """The README promises status 2 for an unknown flag (issue 14 saw 1)."""
  proc = run_module(module, '--no_such_flag=1', check=False)
  assert proc.returncode == 2 and 'no_such_flag' in proc.stderr, proc.stderr
  proc = run_module(module, 'stray', check=False)
  assert proc.returncode == 2 and 'stray' in proc.stderr, proc.stderr


@pytest.mark.e2e
def test_a_too_small_address_space_limit_is_named_not_a_traceback(tmp_path):
  """Issue 22: under `ulimit -v` glo-evaluate died (a segfault in PCA, or an ImportError
  traceback loading TensorFlow's or scipy's libraries); it is refused naming the limit."""
  import resource  # pylint: disable=import-outside-toplevel
  limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (600 << 20, resource.RLIM_INFINITY))
  proc = run_module('glo_tf1.cli.evaluate', '--run_dir', str(tmp_path), check=False,
                    preexec_fn=limit, timeout=60)
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr.startswith('error: out of address space under the limit of ulimit -v '
                                '614400') and 'Traceback' not in proc.stderr, proc.stderr


@pytest.mark.e2e
def test_python_dash_m_forms_work():
  for module in ('glo_tf1.cli.figures', 'glo_tf1.bench'):
    proc = run_module(module, '--help')
    assert 'Flags:' in proc.stdout


@pytest.mark.e2e
def test_importing_tensorflow_through_compat_prints_nothing():
  """TensorFlow's C++ runtime prints 'All log messages before absl::InitializeLog()' and a
  oneDNN banner while it loads; compat.py keeps them off the console."""
  code = ('from glo_tf1.compat import tf\n'
          'with tf.Session() as s: s.run(tf.constant(1) + 1)\n')
  env = dict(os.environ, PYTHONPATH=ROOT)
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)
  proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                        timeout=120, env=env)
  assert proc.returncode == 0 and proc.stdout == '' and proc.stderr == '', proc.stderr


@pytest.mark.parametrize('argv,message', [
    (['glo-sample', '--out', 'x'], 'flag --run_dir=None: --run_dir is required'),
    (['glo-sample'], 'flag --run_dir=None: --run_dir is required; '
     'flag --out=None: --out is required'),
    (['glo-sample', '--run_dir', 'r', '--out', 'x', '--num=0'],
     'flag --num=0: 0 is not a positive integer'),
    (['glo-sample', '--run_dir', 'r', '--out', 'x', '--what', 'codes'],
     'flags --what=codes, --out=x: --what codes writes an .npz'),
    (['glo-figures', '--run_dir', 'r', '--out_dir', 'o', '--interp_steps=1'],
     'flag --interp_steps=1: 1 is not integer >= 2'),
    (['glo-evaluate', '--run_dir', 'r', '--pca_max_images=1'],
     'flag --pca_max_images=1: --pca_max_images must be 0 (all) or at least 2'),
    (['glo-evaluate', '--run_dir', 'r', '--file_list', 'l'],
     'flags --file_list=l, --data_dir=None: --file_list needs --data_dir'),
    (['glo-evaluate', '--run_dir', 'r', '--fid_num_samples=1'],
     'flags --fid=None, --fid_num_images=10000, --fid_num_samples=1: --fid_num_images and '
     '--fid_num_samples must be at least 2')])
def test_declared_flag_rules_refuse_at_parsing_naming_flag_and_value(argv, message):
  """Bounds, required flags and rules between flags are declared with the flags (absl
  validators): the parse refuses, one line naming the flags and their values, exit 2."""
  module = {'glo-sample': sample, 'glo-figures': figures, 'glo-evaluate': evaluate}[argv[0]]
  with pytest.raises(settings.ConfigError) as e:
    common.parse(module.FLAGS, argv)
  assert str(e.value).startswith(message) and '\n' not in str(e.value), str(e.value)
  module.FLAGS.unparse_flags()


def test_a_declared_rule_exits_2_with_one_line_and_the_help_hint(capsys):
  with pytest.raises(SystemExit) as e:
    common.run_program(figures.FLAGS, figures.main, figures.__doc__,
                       ['glo-figures', '--run_dir', 'r', '--out_dir', 'o', '--seed=-1'])
  err = capsys.readouterr().err.splitlines()
  assert e.value.code == common.EXIT_USAGE == 2
  assert err == ['error: flag --seed=-1: -1 is not a non-negative integer',
                 '(glo-figures --help lists the flags)'], err
  figures.FLAGS.unparse_flags()


def test_a_rule_holds_where_it_does_not_apply():
  """--nofid: the FID counts are not used, so they are not checked (as before)."""
  common.parse(evaluate.FLAGS, ['glo-evaluate', '--run_dir', 'r', '--nofid',
                                '--fid_num_images=1'])
  assert evaluate.FLAGS.fid_num_images == 1
  evaluate.FLAGS.unparse_flags()
