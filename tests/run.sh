#!/usr/bin/env bash
# Runs the test suite: creates or reuses .venv with the pinned dependencies, then pytest.
# Extra arguments go to pytest: bash tests/run.sh -m "not e2e" runs the fast unit tests only,
# bash tests/run.sh tests/model runs one room's tests (paths relative to the repository
# root; given a path, only the paths given run), -k losses selects by name. The 30 slowest
# tests are listed at the end (--durations=30; a later --durations=N given here wins).
# Two workers (pytest-xdist; GLO_TEST_WORKERS=N for another count, 0 for one process), each
# taking whole files (--dist loadfile), so a file's module fixtures train once: the suite
# runs mostly one process at a time, so two use the 2 cores CI has (9 min against 13).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../reproduce/env.sh"
cd "$GLO_ROOT"
TARGETS=(tests)
for arg in "$@"; do
  # A test path (file, folder, or file::test): run what is named instead of every test.
  case "$arg" in -*) ;; *) if [ -e "${arg%%::*}" ]; then TARGETS=(); fi ;; esac
done
python -m pytest -q --durations=30 -n "${GLO_TEST_WORKERS:-2}" --dist loadfile \
  "${TARGETS[@]}" "$@"
