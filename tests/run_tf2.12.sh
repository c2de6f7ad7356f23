#!/usr/bin/env bash
# Compatibility check: runs the test suite on TensorFlow 2.12.1 (the oldest release with
# Python 3.11) in its own environment, .venv-tf212 (requirements-tf2.12.txt). Not part of
# CI; run by hand after changes to glo_tf1/compat.py. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GLO_VENV="$ROOT/.venv-tf212"
PY="${PYTHON:-python3.11}"
[ -x "$GLO_VENV/bin/python" ] || "$PY" -m venv "$GLO_VENV"
"$GLO_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/requirements-tf2.12.txt"
# The package itself and its console scripts (glo-train, ...), as reproduce/env.sh does.
"$GLO_VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
  --no-build-isolation -e "$ROOT"
cd "$ROOT"
PATH="$GLO_VENV/bin:$PATH" TF_CPP_MIN_LOG_LEVEL=2 "$GLO_VENV/bin/python" -m pytest -q tests "$@"
