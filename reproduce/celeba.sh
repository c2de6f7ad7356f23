#!/usr/bin/env bash
# The post's experiment on aligned CelebA, end to end:
#   bash reproduce/celeba.sh [CELEBA_DIR [STEPS [GPUS]]]
# 1. checks CELEBA_DIR (img_align_celeba/*.jpg and list_eval_partition.txt: every listed
#    image present and readable) and writes the partitions as file lists; when something is
#    missing it says what to download and where to put it;
# 2. trains the `blog` preset into runs/celeba on one tower, 32 images a step, as the
#    published run did (NUM_GPUS = 1); CELEBA_GPUS=K trains K towers (auto: one per visible
#    GPU), K x 32 images a step, and says before training how that run differs from the
#    published one; re-running resumes. CELEBA_SPLIT=train (default)
#    trains on the 162,770-image training partition, as a paper baseline needs;
#    CELEBA_SPLIT=all trains on all 202,599 listed files, the published run's data.
#    Ctrl-C saves a checkpoint and goes on to steps 3 and 4 (a second Ctrl-C aborts);
# 3. evaluates: with `train`, on the held-out test partition too (codes optimised with the
#    decoder frozen); with `all` there is no held-out image, so training images only;
# 4. writes the figures (both layouts) and the evaluation report into figures/celeba/.
# Arguments or environment (argument first):
#   CELEBA_DIR (default data/celeba), CELEBA_STEPS (default 990000, about the published
#   run's step count), CELEBA_GPUS (default 1, the published run's one tower; a positive
#   integer, or auto: one tower per visible GPU, see step 2),
#   CELEBA_SPLIT (train or all, see step 2), CELEBA_PRESET (blog, the post's, default;
#   celeba64 or celeba128, the benchmarks' presets of docs/presets.md, whose num_steps is
#   then the default of STEPS; reproduce/paper.sh celeba64 sets it), CELEBA_INPUT (auto, cache or files: auto reads
#   the decoded-image cache on a machine whose nvidia-smi lists a GPU, where one reader
#   thread of JPEG files would starve the GPU, else the JPEG files; docs/gpus.md, "The
#   input keeps up"),
#   CELEBA_RUN_DIR (runs/celeba), CELEBA_FIGURES_DIR (figures/celeba),
#   CELEBA_TRAIN_FLAGS, CELEBA_EVAL_FLAGS, CELEBA_FIGURE_FLAGS: extra flags of
#   glo-train / glo-evaluate / glo-figures (e.g. CELEBA_EVAL_FLAGS="--max_images 0"
#   evaluates the whole test partition). Relative paths in CELEBA_RUN_DIR and
#   CELEBA_FIGURES_DIR are relative to the repository root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
case "${1:-}" in
  -*) echo "usage: bash reproduce/celeba.sh [CELEBA_DIR [STEPS [GPUS]]]   (--help: the" \
        "arguments and environment); got the option $1" >&2; exit 2 ;;
esac
CELEBA_DIR="${1:-${CELEBA_DIR:-data/celeba}}"
CELEBA_DIR="$(realpath -m "$CELEBA_DIR")"   # before the cd to the repository root
STEPS="${2:-${CELEBA_STEPS:-}}"
PRESET="${CELEBA_PRESET:-blog}"
case "$PRESET" in
  blog|celeba64|celeba128) ;;
  *) echo "CELEBA_PRESET must be blog, celeba64 or celeba128, got '$PRESET'" >&2; exit 2 ;;
esac
GPUS="${3:-${CELEBA_GPUS:-1}}"
SPLIT="${CELEBA_SPLIT:-train}"
case "$SPLIT" in
  train|all) ;;
  *) echo "CELEBA_SPLIT must be train or all, got '$SPLIT'" >&2; exit 2 ;;
esac
[[ "$GPUS" =~ ^([1-9][0-9]*|auto)$ ]] || {
  echo "CELEBA_GPUS (3rd argument) must be a positive integer or auto, got '$GPUS'" >&2
  exit 2; }
[ -z "$STEPS" ] || [[ "$STEPS" =~ ^[1-9][0-9]*$ ]] || {
  echo "CELEBA_STEPS (2nd argument) must be a positive integer, got '$STEPS'" >&2; exit 2; }
INPUT="${CELEBA_INPUT:-auto}"
case "$INPUT" in
  auto|cache|files) ;;
  *) echo "CELEBA_INPUT must be auto, cache or files, got '$INPUT'" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"  # run and figure folders are relative to the repository root
# Default steps: the published run's 990,000 for blog, the preset's num_steps otherwise.
[ -n "$STEPS" ] || STEPS="$(python -c "from glo_tf1 import settings
print(settings.PRESETS['$PRESET']['num_steps'] or 990000)")"
RUN="$(realpath -m "${CELEBA_RUN_DIR:-runs/celeba}")"
FIGURES="$(realpath -m "${CELEBA_FIGURES_DIR:-figures/celeba}")"
IMAGES="$CELEBA_DIR/img_align_celeba"
LISTS="$RUN/celeba_partitions"

LIST_FLAGS=(); [ "$SPLIT" = train ] || LIST_FLAGS=(--noheldout)  # all: no test partition needed
glo-celeba-lists --celeba_dir "$CELEBA_DIR" --out_dir "$LISTS" "${LIST_FLAGS[@]}"
# The input: a GPU step of 32 images at 128 px needs thousands of images a second, more
# than reader threads decoding JPEG files deliver; the decoded-image cache (uint8, built
# once, about 8 GB for the training partition) reads tens of thousands a second on one
# thread (figures/bench/placement.md).
if [ "$INPUT" = auto ]; then
  INPUT=files; [ "${GLO_STACK:-cpu}" = gpu ] && INPUT=cache
fi
INPUT_FLAGS=()
if [ "$INPUT" = cache ]; then
  INPUT_FLAGS=(--input_cache auto --num_reader_threads 2)
  echo "Input: the decoded-image cache in $RUN/input_cache (CELEBA_INPUT=files reads the JPEG files)."
else
  echo "Input: the JPEG files (CELEBA_INPUT=cache reads a decoded-image cache instead)."
fi
BATCH=32  # the blog preset's, unless CELEBA_TRAIN_FLAGS sets --batch_size
PREV=
# shellcheck disable=SC2086
for FLAG in ${CELEBA_TRAIN_FLAGS:-}; do
  case "$FLAG" in
    --batch_size=*) BATCH="${FLAG#--batch_size=}" ;;
    *) if [ "$PREV" = --batch_size ]; then BATCH="$FLAG"; fi ;;
  esac
  PREV="$FLAG"
done
[[ "$BATCH" =~ ^[1-9][0-9]*$ ]] || BATCH=32  # glo-train refuses it below
# How long: from the committed benchmark reports (glo_tf1/bench/estimate.py); with
# CELEBA_GPUS=auto, for one tower.
PER_STEP="$BATCH"; [[ "$GPUS" =~ ^[0-9]+$ ]] && PER_STEP=$((GPUS * BATCH))
python -m glo_tf1.bench --estimate="$STEPS:$PER_STEP:$INPUT" --reports=figures/bench \
  | fold -s -w 90
if [ "$GPUS" != 1 ]; then
  # How K towers differ from the published run (one tower, 32 images a step, ~990,000
  # steps): K x 32 images a step, hence K times the epochs in as many steps.
  N="$(wc -l < "$LISTS/$SPLIT.txt")"
  epochs() { awk -v s="$1" -v b="$2" -v n="$N" 'BEGIN { printf "%.1f", s * b / n }'; }
  OF="of the $N images (CELEBA_SPLIT=$SPLIT)"
  SAME="trains as many images as the published run (990,000 steps of 32)"
  FORMULA="990000"; [ "$BATCH" = 32 ] || FORMULA="990000 x 32 / $BATCH"
  WHERE='(docs/departures.md, "CelebA towers")'
  if [ "$GPUS" = auto ]; then
    MSG="CELEBA_GPUS=auto: one tower per GPU that TensorFlow sees (the start line below names
      them); K towers train K x $BATCH images a step, where the published run trained one
      tower of 32 (NUM_GPUS = 1). With K towers, $STEPS steps are K x
      $(epochs "$STEPS" "$BATCH") epochs $OF; CELEBA_STEPS=$FORMULA / K $SAME, in K times
      fewer, larger steps $WHERE."
  else
    STEP=$((GPUS * BATCH))
    KEEP="$(awk -v s="$STEP" 'BEGIN { printf "%d", 990000 * 32 / s + 0.5 }')"
    MSG="CELEBA_GPUS=$GPUS: $GPUS towers of $BATCH images, $STEP images a step, where the
      published run trained one tower of 32 (NUM_GPUS = 1). $STEPS steps are
      $(epochs "$STEPS" "$STEP") epochs $OF, $GPUS times one tower's
      $(epochs "$STEPS" "$BATCH"). CELEBA_STEPS=$KEEP ($FORMULA / $GPUS) $SAME:
      $(epochs "$KEEP" "$STEP") epochs, in $GPUS times fewer, larger steps $WHERE."
  fi
  tr -s '\n ' '  ' <<< "$MSG" | fold -s -w 90
  echo
fi
# The images were checked just above, so the trainer's own check is skipped.
# shellcheck disable=SC2086
glo-train --preset "$PRESET" --data_dir "$IMAGES" --file_list "$LISTS/$SPLIT.txt" \
  --run_dir "$RUN" --num_steps "$STEPS" --num_gpus "$GPUS" --skip_data_check \
  "${INPUT_FLAGS[@]}" ${CELEBA_TRAIN_FLAGS:-}
# shellcheck disable=SC2086
HELDOUT=(--data_dir "$IMAGES" --file_list "$LISTS/test.txt")
[ "$SPLIT" = train ] || HELDOUT=()
glo-evaluate --run_dir "$RUN" "${HELDOUT[@]}" --out_dir "$FIGURES" ${CELEBA_EVAL_FLAGS:-}
# shellcheck disable=SC2086
glo-figures --run_dir "$RUN" --out_dir "$FIGURES" ${CELEBA_FIGURE_FLAGS:-}
# shellcheck disable=SC2086
glo-figures --run_dir "$RUN" --out_dir "$FIGURES" --layout post ${CELEBA_FIGURE_FLAGS:-}
echo "Run directory: $RUN   Figures and evaluation: $FIGURES   TensorBoard: $VENV/bin/tensorboard --logdir $RUN"
