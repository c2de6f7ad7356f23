"""What every glo-tf1 program shares: flags, --help, and the map from errors to exit codes.

Each program in cli/ owns a `flags.FlagValues` of its own (so programs can be imported
together, in tests too, without their flags colliding), defines its flags with `Definer`,
and runs through `run_program`. Library modules below cli/ never read flags: they take
arguments. This module imports no TensorFlow: `--help` answers at once.

Exit statuses (every program):
  0    done (also after Ctrl-C, SIGTERM or SIGHUP when training saved a checkpoint)
  2    bad usage or input: an unknown flag or bad value, data, run directory or file
  3    training stopped on a NaN or Inf (nothing saved after it)
  4    training stopped on a data or disk fault, described
  130  interrupted before training started
"""
import re
import sys
import textwrap

from absl import flags

from glo_tf1 import settings

EXIT_USAGE = 2
EXIT_NONFINITE = 3
EXIT_TRAINING_FAULT = 4
EXIT_INTERRUPTED = 130

_HELP_FLAGS = ('--help', '-h', '-help', '--helpfull', '--helpshort', '-?')


class Definer:
  """`Definer(fv).string(name, default, help)` is `flags.DEFINE_string(..., flag_values=fv)`."""

  def __init__(self, flag_values):
    self._fv = flag_values

  def __getattr__(self, kind):
    define = getattr(flags, 'DEFINE_' + kind)
    return lambda *args, **kwargs: define(*args, flag_values=self._fv, **kwargs)


def require(flag_values, *names):
  """Declares flags `names` required: a missing or empty one is refused at parsing
  ('flag --NAME=None: --NAME is required'), exit status 2."""
  for name in names:
    flags.register_validator(name, bool, message='--%s is required' % name,
                             flag_values=flag_values)


def rule(flag_values, names, holds, message):
  """Declares a rule between flags `names`: `holds({name: value})` must be true, else
  parsing refuses with `message` after the flags' values ('flags --a=1, --b=None: ...')."""
  flags.register_multi_flags_validator(list(names), holds, message=message,
                                       flag_values=flag_values)


def define_settings_flags(flag_values):
  """Defines one flag per setting of settings.schema(), unset by default (None): a given
  flag overrides the preset's value (see `settings_overrides`)."""
  define = Definer(flag_values)
  for s in settings.schema():
    doc = '%s [blog: %s]' % (s.help, _shown(s.defaults['blog']))
    if s.kind == 'int_or_auto':
      define.string(s.name, None, doc)
    elif s.kind == 'enum':
      define.enum(s.name, None, list(s.choices), doc)
    else:
      getattr(define, {'bool': 'bool', 'int_list': 'list', 'float': 'float',
                       'int': 'integer'}[s.kind])(s.name, None, doc)


def _shown(value):
  if isinstance(value, list):
    return ','.join(map(str, value))
  if isinstance(value, bool):
    return str(value).lower()
  return 'unset' if value is None else value


def settings_overrides(flag_values):
  """{setting: value} for every settings flag given on the command line."""
  out = {}
  for s in settings.schema():
    if not flag_values[s.name].present:
      continue
    value = flag_values[s.name].value
    try:
      if s.kind == 'int_list':
        value = [int(v) for v in value]
      if s.kind == 'int_or_auto' and value != 'auto':
        value = int(value)
    except ValueError:
      raise settings.ConfigError('--%s: must be %s, got %r' % (
          s.name, settings.describe(s.name),
          ','.join(value) if isinstance(value, list) else value)) from None
    out[s.name] = value
  return out


def help_text(flag_values, prog, doc):
  """The --help page: the program's doc, then every flag with its help and default."""
  lines = [doc.strip(), '', 'Flags:']
  for name in sorted(flag_values):
    flag = flag_values[name]
    if flag.name != name:  # a short alias
      continue
    default = flag.default
    if isinstance(default, list):
      default = ','.join(map(str, default))
    head = '  --%s' % name
    if getattr(flag, 'boolean', False):
      head = '  --[no]%s' % name
    body = flag.help + ('' if default is None else ' (default: %s)' % _shown(default))
    lines.append(head)
    lines += textwrap.wrap(body, 88, initial_indent='      ', subsequent_indent='      ')
  lines += ['', 'Exit status: 0 done, 2 bad usage or input, 3 NaN/Inf in training, 4 data '
            'or disk fault in training, 130 interrupted.', 'Program: %s' % prog]
  return '\n'.join(lines)


def parse(flag_values, argv, positional=False):
  """Parses argv (argv[0] is the program) into flag_values; returns the leftover args
  (arguments that are not flags are refused unless `positional`).

  Raises:
    settings.ConfigError: an unknown flag or a bad value, naming it.
  """
  flag_values.unparse_flags()
  try:
    rest = flag_values(list(argv))
  except flags.Error as e:
    if not positional:  # a stray argument is named first: a required flag may be missing
      _refuse_stray([argv[0]] + _unparsed(flag_values, argv))
    # One line, whatever absl found (it gives one line per flag missing).
    raise settings.ConfigError('; '.join(_dashed(line) for line in str(e).splitlines()
                                         if line.strip())) from None
  if not positional:
    _refuse_stray(rest)
  return rest


def _unparsed(flag_values, argv):
  """The arguments of argv that are not flags, as absl parses them, without running the
  flags' validators (they raised already)."""
  flag_values.unparse_flags()
  try:
    _, unparsed = flag_values._parse_args(list(argv[1:]), False)  # pylint: disable=protected-access
  except flags.Error:
    return []
  finally:
    flag_values.unparse_flags()
  return unparsed


def _refuse_stray(rest):
  if len(rest) > 1:
    raise settings.ConfigError('unexpected arguments %s (every input is a --flag)'
                               % ' '.join(rest[1:]))


def _dashed(message):
  """absl's 'flags a=1, b=None: ...' (a `rule` broken) as 'flags --a=1, --b=None: ...',
  as its single-flag errors read ('flag --a=1: ...')."""
  head, sep, rest = message.partition(': ')
  if not (head.startswith('flags ') and sep):
    return message
  names = re.findall(r'(?:^flags |, )(\w+)=', head)
  for name in names:
    head = re.sub(r'(^flags |, )%s=' % name, r'\1--%s=' % name, head, count=1)
  return head + sep + rest


def run_program(flag_values, main, doc, argv=None, positional=False):
  """Runs a program: --help, flag parsing, main(flag_values) -> exit status (with
  `positional`, main(flag_values, arguments) for a program that takes arguments besides
  its flags), and every settings.UserError printed as 'error: ...' with status 2. Exits
  the process."""
  argv = list(sys.argv if argv is None else argv)
  prog = doc.split(':', 1)[0].strip()  # each program's doc starts 'glo-NAME: ...'
  if any(a in _HELP_FLAGS for a in argv[1:]):
    print(help_text(flag_values, prog, doc))
    sys.exit(0)
  try:
    rest = parse(flag_values, argv, positional)
    status = main(flag_values, rest[1:]) if positional else main(flag_values)
  except settings.UserError as e:
    print('error: %s' % e, file=sys.stderr)
    if 'Unknown command line flag' in str(e) or re.search(r'flags? --', str(e)):
      print('(%s --help lists the flags)' % prog, file=sys.stderr)
    status = EXIT_USAGE
  except KeyboardInterrupt:
    print('Interrupted.', file=sys.stderr)
    status = EXIT_INTERRUPTED
  except (ImportError, MemoryError) as e:
    # Under `ulimit -v` a library that cannot be mapped, or memory that cannot be had,
    # is the limit's doing: said so, not a traceback.
    limit = _address_space_limit()
    text = str(e).strip()
    if limit is None or (isinstance(e, ImportError) and not any(
        m in text.lower() for m in ('failed to map', 'cannot allocate memory'))):
      raise
    print('error: out of address space under the limit of ulimit -v %d (%s: %s); a '
          'glo-tf1 program maps about 2.2 GB (TensorFlow\'s libraries, threads and '
          'arenas) before its work begins: raise the limit'
          % (limit // 1024, type(e).__name__, text.splitlines()[0] if text
             else 'no message'), file=sys.stderr)
    status = EXIT_USAGE
  sys.exit(status or 0)


def _address_space_limit():
  """The address-space limit (ulimit -v, RLIMIT_AS) in bytes, or None without one."""
  import resource  # pylint: disable=import-outside-toplevel
  soft, _ = resource.getrlimit(resource.RLIMIT_AS)
  return None if soft == resource.RLIM_INFINITY else soft
