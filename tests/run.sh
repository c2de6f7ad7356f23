#!/usr/bin/env bash
# Runs the test suite: creates or reuses .venv with the pinned dependencies, then pytest.
# Extra arguments go to pytest: bash tests/run.sh -m "not e2e" runs the fast unit tests only,
# bash tests/run.sh tests/model runs one room's tests (paths relative to the repository
# root; given a path, only the paths given run), -k losses selects by name. The 30 slowest
# tests are listed at the end (--durations=30; a later --durations=N given here wins).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../reproduce/env.sh"
cd "$GLO_ROOT"
TARGETS=(tests)
for arg in "$@"; do
  # A test path (file, folder, or file::test): run what is named instead of every test.
  case "$arg" in -*) ;; *) if [ -e "${arg%%::*}" ]; then TARGETS=(); fi ;; esac
done
python -m pytest -q --durations=30 "${TARGETS[@]}" "$@"
