#!/usr/bin/env bash
# The post's experiment on aligned CelebA, end to end:
#   bash reproduce/celeba.sh [CELEBA_DIR [STEPS [GPUS]]]
# 1. checks CELEBA_DIR (img_align_celeba/*.jpg and list_eval_partition.txt: every listed
#    image present and readable) and writes the partitions as file lists; when something is
#    missing it says what to download and where to put it;
# 2. trains the `blog` preset into runs/celeba with every visible GPU as a tower (one tower
#    on the CPU when there is none); re-running resumes. CELEBA_SPLIT=train (default)
#    trains on the 162,770-image training partition, as a paper baseline needs;
#    CELEBA_SPLIT=all trains on all 202,599 listed files, the published run's data.
#    Ctrl-C saves a checkpoint and goes on to steps 3 and 4 (a second Ctrl-C aborts);
# 3. evaluates: with `train`, on the held-out test partition too (codes optimised with the
#    decoder frozen); with `all` there is no held-out image, so training images only;
# 4. writes the figures (both layouts) and the evaluation report into figures/celeba/.
# Arguments or environment (argument first):
#   CELEBA_DIR (default data/celeba), CELEBA_STEPS (default 990000, about the published
#   run's step count), CELEBA_GPUS (default auto: every visible GPU; a number otherwise),
#   CELEBA_SPLIT (train or all, see step 2),
#   CELEBA_RUN_DIR (runs/celeba), CELEBA_FIGURES_DIR (figures/celeba),
#   CELEBA_TRAIN_FLAGS, CELEBA_EVAL_FLAGS, CELEBA_FIGURE_FLAGS: extra flags of
#   glo-train / glo-evaluate / glo-figures (e.g. CELEBA_EVAL_FLAGS="--max_images 0"
#   evaluates the whole test partition). Relative paths in CELEBA_RUN_DIR and
#   CELEBA_FIGURES_DIR are relative to the repository root.
set -euo pipefail
CELEBA_DIR="${1:-${CELEBA_DIR:-data/celeba}}"
CELEBA_DIR="$(realpath -m "$CELEBA_DIR")"   # before env.sh changes to the repository root
STEPS="${2:-${CELEBA_STEPS:-990000}}"
GPUS="${3:-${CELEBA_GPUS:-auto}}"
SPLIT="${CELEBA_SPLIT:-train}"
case "$SPLIT" in
  train|all) ;;
  *) echo "CELEBA_SPLIT must be train or all, got '$SPLIT'" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
RUN="$(realpath -m "${CELEBA_RUN_DIR:-runs/celeba}")"
FIGURES="$(realpath -m "${CELEBA_FIGURES_DIR:-figures/celeba}")"
IMAGES="$CELEBA_DIR/img_align_celeba"
LISTS="$RUN/celeba_partitions"

glo-celeba-lists --celeba_dir "$CELEBA_DIR" --out_dir "$LISTS"
# The images were checked just above, so the trainer's own check is skipped.
# shellcheck disable=SC2086
glo-train --preset blog --data_dir "$IMAGES" --file_list "$LISTS/$SPLIT.txt" \
  --run_dir "$RUN" --num_steps "$STEPS" --num_gpus "$GPUS" --skip_data_check \
  ${CELEBA_TRAIN_FLAGS:-}
# shellcheck disable=SC2086
HELDOUT=(--data_dir "$IMAGES" --file_list "$LISTS/test.txt")
[ "$SPLIT" = train ] || HELDOUT=()
glo-evaluate --run_dir "$RUN" "${HELDOUT[@]}" --out_dir "$FIGURES" ${CELEBA_EVAL_FLAGS:-}
# shellcheck disable=SC2086
glo-figures --run_dir "$RUN" --out_dir "$FIGURES" ${CELEBA_FIGURE_FLAGS:-}
# shellcheck disable=SC2086
glo-figures --run_dir "$RUN" --out_dir "$FIGURES" --layout post ${CELEBA_FIGURE_FLAGS:-}
echo "Run directory: $RUN   Figures and evaluation: $FIGURES   TensorBoard: $VENV/bin/tensorboard --logdir $RUN"
