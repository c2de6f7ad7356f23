#!/usr/bin/env bash
# Runs the test suite: creates or reuses .venv with the pinned dependencies, then pytest.
# Extra arguments go to pytest (e.g. bash tests/run.sh -k losses).
source "$(dirname "${BASH_SOURCE[0]}")/../reproduce/env.sh"
python -m pytest -q tests "$@"
