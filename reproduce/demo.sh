#!/usr/bin/env bash
# The main job end to end on the embedded data (no download), from any directory:
#   bash reproduce/demo.sh             writes everything under runs/demo/ (ignored by git)
#   bash reproduce/demo.sh --publish   regenerates the committed figures/demo/ from a fresh,
#                                      deterministic run (runs/demo-publish/)
# Writes the 200 LFW faces shipped in scikit-image, trains the `demo` preset on all of them
# but faces 90-99 and their mirror images, which are held out (a rerun resumes), evaluates
# on the held-out faces, and writes the figures and the evaluation report.
# Environment: DEMO_STEPS (default: the preset's), DEMO_EVAL_FLAGS (extra glo-evaluate
# flags), DEMO_OUT (default runs/demo; with --publish runs/demo-publish; relative to the
# current directory; a new, empty or earlier demo.sh folder: its .glo_demo_output lists
# what demo.sh wrote there, and nothing else is written over or deleted).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
PUBLISH=0
case "${1:-}" in
  --publish) PUBLISH=1 ;;
  "") ;;
  *) echo "usage: bash reproduce/demo.sh [--publish]" >&2; exit 2 ;;
esac
# DEMO_OUT relative to the caller's directory, before changing to the repository root.
DEMO_OUT="${DEMO_OUT:+$(realpath -m "$DEMO_OUT")}"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"
if [ "$PUBLISH" = 1 ]; then
  OUT="${DEMO_OUT:-$ROOT/runs/demo-publish}"
  FIGURES="$ROOT/figures/demo"
  TRAIN_FLAGS=(--deterministic)   # bit-identical reruns on the same CPU and TensorFlow
else
  OUT="${DEMO_OUT:-$ROOT/runs/demo}"
  FIGURES="$OUT/figures"
  TRAIN_FLAGS=()
fi
# Nothing of the user's is deleted or overwritten (owned.sh): OUT is new, empty or marked,
# and MARK lists the names this script created in it, each recorded before it is made.
MARK=.glo_demo_output
OWNED_BY=demo.sh OWNED_HINT="set DEMO_OUT to a new or empty folder"
source reproduce/owned.sh
ours() {  # what an earlier demo.sh wrote into $1 (owned.sh's adopt): by name and content
  case "$2" in
    data) is_faces_dir "$1/data" ;;
    split) [ -d "$1/split" ] && [ -z "$(ls -A "$1/split" | grep -vxE 'train.txt|heldout.txt')" ] &&
        for f in "$1"/split/*; do is_faces_list "$f" || return 1; done ;;
    run) is_run_dir "$1/run" ;;
    figures) [ -d "$1/figures" ] && is_report "$1/figures/evaluation.json" ;;
    *) return 1 ;;
  esac
}
own_dir "$OUT"
for name in data split run; do claim "$OUT" "$name"; done
if [ "$PUBLISH" = 1 ]; then
  rm -rf "${OUT:?}/run"  # listed, so this script's: published numbers come from a fresh run
else
  claim "$OUT" figures
fi
DATA="$OUT/data"
SPLIT="$OUT/split"
RUN="$OUT/run"
glo-write-faces --out_dir "$DATA"
mkdir -p "$SPLIT"
(cd "$DATA" && ls) | grep '\.jpg$' | grep -v '^lfw_09' > "$SPLIT/train.txt"
(cd "$DATA" && ls) | grep '\.jpg$' | grep '^lfw_09' > "$SPLIT/heldout.txt"
glo-train --preset demo --data_dir "$DATA" --file_list "$SPLIT/train.txt" \
  --run_dir "$RUN" ${DEMO_STEPS:+--num_steps "$DEMO_STEPS"} "${TRAIN_FLAGS[@]}"
# shellcheck disable=SC2086
glo-evaluate --run_dir "$RUN" --data_dir "$DATA" --file_list "$SPLIT/heldout.txt" \
  --max_images 32 --out_dir "$FIGURES" ${DEMO_EVAL_FLAGS:-}
glo-figures --run_dir "$RUN" --out_dir "$FIGURES"
glo-figures --run_dir "$RUN" --out_dir "$FIGURES" --layout post
echo "Run directory: $RUN   TensorBoard: $VENV/bin/tensorboard --logdir $RUN"
echo "Figures and evaluation report: $FIGURES"
