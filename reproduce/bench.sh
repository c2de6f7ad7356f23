#!/usr/bin/env bash
# The performance benchmark (docs/performance.md): prints the table and writes it as
# JSON to runs/bench.json. Extra arguments go to glo-bench (--quick: smoke test sizes;
# --out FILE: another JSON path; --mode precision|towers: one comparison). Takes a few
# minutes on 2 idle cores. The committed report of docs/performance.md comes from
#   bash reproduce/bench.sh --out figures/bench/bench.json --markdown figures/bench/bench.md
# then python reproduce/doc_tables.py --write.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"
mkdir -p runs
glo-bench --out runs/bench.json "$@"
