#!/usr/bin/env bash
# The performance benchmark (README, "Performance"): prints the table and writes it as
# JSON to runs/bench.json. Extra arguments go to glo_tf1.bench (--quick: smoke test sizes;
# --out FILE: another JSON path). Takes a few minutes on 2 idle cores.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mkdir -p runs
python -m glo_tf1.bench --out runs/bench.json "$@"
