#!/usr/bin/env bash
# Runs the test suite: creates or reuses .venv with the pinned dependencies, then pytest.
# Extra arguments go to pytest: bash tests/run.sh -m "not e2e" runs the fast unit tests only,
# bash tests/run.sh tests/model runs one room's tests, -k losses selects by name.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../reproduce/env.sh"
cd "$GLO_ROOT"
python -m pytest -q tests "$@"
