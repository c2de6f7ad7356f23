"""The exceptions of glo-tf1's programs (cli/common.py prints them and exits with 2)."""


class UserError(ValueError):
  """A program cannot go on as asked, through no bug of its own: the message names the
  flag or file at fault and what to do. Programs print it and exit with status 2."""


class ConfigError(UserError):
  """A setting has a value that glo-tf1 cannot run with. The message names the setting."""
