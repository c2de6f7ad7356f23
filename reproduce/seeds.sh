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
# Nothing of the user's is deleted or overwritten. Each output folder holds MARK, the list
# of the names (files and folders) this script created in it, each recorded before it is
# made. A name is written only when it is listed or absent (`claim`); a folder is used only
# when it is new, empty or marked, so SEEDS_OUT=$HOME is refused, not written into.
# --publish starts from empty folders (published numbers come from runs of the tree as it
# is): it removes exactly the listed names, and refuses, listing them, when anything else
# is in the folder (a file the user added later, as a thesis beside the tables).
MARK=.glo_seeds_output
MARK_HEAD="# reproduce/seeds.sh created these names in this folder; --publish removes only them"
refuse() { echo "seeds.sh: $*" >&2; exit 2; }
listed() { [ -f "$1/$MARK" ] && tail -n +2 "$1/$MARK" | grep -qxF -- "$2"; }
# The entries of folder $1 that are neither MARK nor listed in it, one a line.
strangers() {
  local entry
  for entry in "$1"/.[!.]* "$1"/..?* "$1"/*; do
    { [ -e "$entry" ] || [ -L "$entry" ]; } || continue
    entry="${entry##*/}"
    [ "$entry" = "$MARK" ] || listed "$1" "$entry" || echo "$entry"
  done
}
# Makes $1 this script's output folder: new or empty (then marked), or marked before.
own_dir() {
  if [ -f "$1/$MARK" ]; then return; fi
  if [ -e "$1" ] || [ -L "$1" ]; then
    [ -d "$1" ] && [ -z "$(ls -A "$1")" ] || refuse "$1 exists and was not written by" \
      "seeds.sh (no $MARK in it; it holds: $(strangers "$1" | head -5 | paste -sd' ' -));" \
      "nothing was written there. Set SEEDS_OUT / SEEDS_FIGURES to a new or empty folder"
  fi
  mkdir -p "$1"
  echo "$MARK_HEAD" > "$1/$MARK"
}
# Records name $2 in folder $1's MARK before it is made; refuses a name there that this
# script did not create (a user's train.txt is never overwritten).
claim() {
  if listed "$1" "$2"; then return; fi
  if [ -e "$1/$2" ] || [ -L "$1/$2" ]; then
    refuse "$1/$2 exists and was not written by seeds.sh (not listed in $1/$MARK);" \
      "nothing was overwritten. Move it, or set SEEDS_OUT / SEEDS_FIGURES to a new folder"
  fi
  echo "$2" >> "$1/$MARK"
}
# --publish: removes the names MARK lists in $1 (then MARK), only when nothing else is there.
clear_dir() {
  local name others
  if ! [ -e "$1" ] && ! [ -L "$1" ]; then return; fi
  if ! [ -f "$1/$MARK" ]; then
    [ -d "$1" ] && [ -z "$(ls -A "$1")" ] && return
    refuse "--publish: $1 exists and was not written by seeds.sh (no $MARK in it);" \
      "nothing was deleted. Move it or set SEEDS_OUT / SEEDS_FIGURES to a new folder"
  fi
  others="$(strangers "$1" | paste -sd' ' -)"
  if [ -n "$others" ]; then
    refuse "--publish: $1 holds names seeds.sh did not create (not listed in $MARK):" \
      "$others; nothing was deleted. Move them out, or set SEEDS_OUT / SEEDS_FIGURES to a" \
      "new folder"
  fi
  while IFS= read -r name; do
    case "$name" in ""|.|..|*/*) continue ;; esac  # a hand-edited line names nothing outside
    rm -rf -- "${1:?}/$name"
  done < <(tail -n +2 "$1/$MARK")
  rm -f -- "$1/$MARK"
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
for name in table.md table.tex table.csv; do claim "$TABLES" "$name"; done
glo_run glo-compare "${REPORTS[@]}" --format markdown --out "$TABLES/table.md"
glo_run glo-compare "${REPORTS[@]}" --format latex --out "$TABLES/table.tex"
glo_run glo-compare "${REPORTS[@]}" --format csv --out "$TABLES/table.csv"
cat "$TABLES/table.md"
echo "Runs: $OUT"
echo "Reports and tables (table.md, table.tex, table.csv): $TABLES"
