#!/usr/bin/env bash
# K seeds of one configuration, each trained and evaluated, and the table across them:
#   bash reproduce/seeds.sh PRESET K [TRAIN_FLAGS...]
#   bash reproduce/seeds.sh --publish PRESET K [TRAIN_FLAGS...]
# From any directory. Seed s (0 .. K-1) trains with --seed s (and --deterministic with
# --publish, so every published run reruns bit for bit), then glo-evaluate measures it on
# the held-out images; glo-compare writes one table (markdown, LaTeX, CSV) of the K reports,
# mean ± standard deviation over the seeds.
# Data: the embedded faces with the demo's split (faces 90-99 and their mirrors held out),
# or SEEDS_DATA_DIR with SEEDS_TRAIN_LIST and SEEDS_HELDOUT_LIST (file lists relative to
# it; without SEEDS_HELDOUT_LIST only training images are evaluated).
# Writes runs/seeds-PRESET/ (ignored by git; SEEDS_OUT, relative to the repository or
# absolute, to change); with --publish the runs
# go to runs/seeds-publish/ and the K reports and the tables to figures/demo_seeds/
# (SEEDS_FIGURES to change), where README.md's table is generated from.
# Environment: SEEDS_MAX_IMAGES (training and held-out images each evaluation measures,
# glo-evaluate's --max_images, 0: all; default 1000: all of the demo's, a subset of CelebA's test
# partition; the table's note states the counts), SEEDS_EVAL_FLAGS (extra glo-evaluate
# flags, e.g. --nofid).
# Ctrl-C, SIGTERM or SIGHUP stops the script: the glo-train of the current seed saves its
# checkpoint and releases its lock, nothing further is evaluated or tabulated, and the
# script exits 130, 143 or 129 saying how to resume (children.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
PUBLISH=0
if [ "${1:-}" = "--publish" ]; then PUBLISH=1; shift; fi
if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash reproduce/seeds.sh [--publish] PRESET K [TRAIN_FLAGS...]" >&2
  exit 2
fi
MAX_IMAGES="${SEEDS_MAX_IMAGES:-1000}"
if ! [[ "$MAX_IMAGES" =~ ^(0|[1-9][0-9]*)$ ]]; then
  echo "SEEDS_MAX_IMAGES must be a number of images (0: all, as glo-evaluate's" \
    "--max_images), got '$MAX_IMAGES'" >&2
  exit 2
fi
PRESET="$1"; K="$2"; shift 2
TRAIN_FLAGS=("$@")
# The data paths relative to the caller's directory, before changing to the repository root.
for v in SEEDS_DATA_DIR SEEDS_TRAIN_LIST SEEDS_HELDOUT_LIST; do
  if [ -n "${!v:-}" ]; then printf -v "$v" '%s' "$(realpath -m "${!v}")"; fi
done
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"
source reproduce/children.sh
if [ "$PUBLISH" = 1 ]; then
  GLO_RESUME_HINT="A published table comes from fresh runs: rerunning the command starts over."
else
  GLO_RESUME_HINT="Run the same command again to resume: each seed's glo-train continues from \
its newest checkpoint, and the seeds already trained are evaluated again."
fi
abs() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
# Nothing of the user's is deleted or overwritten (owned.sh): MARK in each output folder
# lists the names this script created there; --publish (published numbers come from runs
# of the tree as it is) removes exactly those, and refuses when anything else is there.
MARK=.glo_seeds_output
OWNED_BY=seeds.sh OWNED_HINT="set SEEDS_OUT / SEEDS_FIGURES to a new or empty folder"
source reproduce/owned.sh
ours() {  # what an earlier seeds.sh wrote into $1 (owned.sh's adopt): by name and content
  case "$2" in
    data) is_faces_dir "$1/data" ;;
    train.txt|heldout.txt) is_faces_list "$1/$2" ;;
    seed-[0-9]*) is_run_dir "$1/$2" || is_report "$1/$2/evaluation.json" ;;
    table.md|table.tex|table.csv) is_table "$1/$2" ;;
    .glo_written.json) [ -f "$1/$2" ] ;;  # glo-compare's record: a name only glo-tf1 uses
    *) return 1 ;;
  esac
}
if [ "$PUBLISH" = 1 ]; then
  OUT="$(abs "${SEEDS_OUT:-runs/seeds-publish}")"
  TABLES="$(abs "${SEEDS_FIGURES:-figures/demo_seeds}")"
  TRAIN_FLAGS+=(--deterministic)
  clear_dir "$OUT"
  clear_dir "$TABLES"
else
  OUT="$(abs "${SEEDS_OUT:-runs/seeds-$PRESET}")"
  TABLES="$OUT"
fi
own_dir "$OUT"
own_dir "$TABLES"
if [ -n "${SEEDS_DATA_DIR:-}" ]; then
  DATA="$(cd "$SEEDS_DATA_DIR" && pwd)"
  TRAIN_LIST="${SEEDS_TRAIN_LIST:-}"
  HELDOUT_LIST="${SEEDS_HELDOUT_LIST:-}"
else
  for name in data train.txt heldout.txt; do claim "$OUT" "$name"; done
  DATA="$OUT/data"
  glo_run glo-write-faces --out_dir "$DATA"
  TRAIN_LIST="$OUT/train.txt"
  HELDOUT_LIST="$OUT/heldout.txt"
  (cd "$DATA" && ls) | grep '\.jpg$' | grep -v '^lfw_09' > "$TRAIN_LIST"
  (cd "$DATA" && ls) | grep '\.jpg$' | grep '^lfw_09' > "$HELDOUT_LIST"
fi
REPORTS=()
for ((SEED = 0; SEED < K; SEED++)); do
  claim "$OUT" "seed-$SEED"
  RUN="$OUT/seed-$SEED"
  echo "=== seed $SEED of $K: $RUN"
  GLO_STOPPED_IN="while training seed $SEED ($RUN)"
  glo_run glo-train --preset "$PRESET" --seed "$SEED" --data_dir "$DATA" \
    ${TRAIN_LIST:+--file_list "$TRAIN_LIST"} --run_dir "$RUN" "${TRAIN_FLAGS[@]}"
  EVAL_OUT="$RUN/eval"
  if [ "$PUBLISH" = 1 ]; then claim "$TABLES" "seed-$SEED"; EVAL_OUT="$TABLES/seed-$SEED"; fi
  GLO_STOPPED_IN="while evaluating seed $SEED ($RUN)"
  # shellcheck disable=SC2086
  glo_run glo-evaluate --run_dir "$RUN" ${HELDOUT_LIST:+--data_dir "$DATA" --file_list "$HELDOUT_LIST"} \
    --max_images "$MAX_IMAGES" --out_dir "$EVAL_OUT" ${SEEDS_EVAL_FLAGS:-}
  REPORTS+=("$EVAL_OUT/evaluation.json")
done
GLO_STOPPED_IN="while writing the tables"
# .glo_written.json: glo-compare's own record of the tables it wrote there (io.claim).
for name in table.md table.tex table.csv .glo_written.json; do claim "$TABLES" "$name"; done
glo_run glo-compare "${REPORTS[@]}" --format markdown --out "$TABLES/table.md"
glo_run glo-compare "${REPORTS[@]}" --format latex --out "$TABLES/table.tex"
glo_run glo-compare "${REPORTS[@]}" --format csv --out "$TABLES/table.csv"
cat "$TABLES/table.md"
echo "Runs: $OUT"
echo "Reports and tables (table.md, table.tex, table.csv): $TABLES"
