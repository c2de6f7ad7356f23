#!/usr/bin/env bash
# A benchmark row of GLO, end to end, on a data set's official files:
#   bash reproduce/paper.sh DATASET [STEPS] [--source DIR]
# DATASET: mnist, fashion_mnist, svhn or cifar10 (glo-prepare-data's data sets; for
# celeba64 and celeba128 it runs reproduce/celeba.sh with that preset, --source being the
# CelebA folder).
# 1. with --source DIR: converts the publisher's files in DIR (downloaded by hand) with
#    glo-prepare-data into PAPER_DATA_DIR (default data/DATASET); re-running resumes or
#    keeps a finished conversion. Without --source, PAPER_DATA_DIR must hold one.
# 2. trains the DATASET preset (docs/presets.md) on the training split into PAPER_RUN_DIR
#    (default runs/DATASET), STEPS steps (default: the preset's num_steps); re-running
#    resumes. Ctrl-C or SIGTERM saves a checkpoint and stops the script (exit 130 or 143;
#    run it again to resume): a table is never made from a run cut short.
# 3. evaluates on the test split (glo-evaluate): MSE and PSNR of the training images'
#    learned codes and of the test images (codes optimised, decoder frozen), the PCA rows,
#    and, when FID's weights are installed, FID under --fid_protocol glann (docs/fid.md).
#    glo-evaluate first prints the estimated time of each part and the total, from rates
#    it measures on this machine (docs/evaluation.md, "What an evaluation will cost").
# 4. tabulates the report with glo-compare: table.md, table.tex, table.csv, beside
#    evaluation.json and evaluation.md in PAPER_OUT_DIR (default figures/DATASET).
# Environment: PAPER_DATA_DIR, PAPER_RUN_DIR, PAPER_OUT_DIR, PAPER_PREPARE_FLAGS,
#   PAPER_TRAIN_FLAGS, PAPER_EVAL_FLAGS (extra flags of glo-prepare-data / glo-train /
#   glo-evaluate). Relative paths are relative to the directory the script is started
#   from.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
usage="usage: bash reproduce/paper.sh DATASET [STEPS] [--source DIR]   (--help: more)"
ARGS=()
SOURCE=
while [ $# -gt 0 ]; do
  case "$1" in
    --source) [ $# -ge 2 ] || { echo "--source needs a folder; $usage" >&2; exit 2; }
              SOURCE="$2"; shift 2 ;;
    --source=*) SOURCE="${1#--source=}"; shift ;;
    -*) echo "unknown option $1; $usage" >&2; exit 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[ ${#ARGS[@]} -ge 1 ] && [ ${#ARGS[@]} -le 2 ] || { echo "$usage" >&2; exit 2; }
DATASET="${ARGS[0]}"
STEPS="${ARGS[1]:-}"
[ -z "$STEPS" ] || [[ "$STEPS" =~ ^[1-9][0-9]*$ ]] || {
  echo "STEPS (2nd argument) must be a positive integer, got '$STEPS'" >&2; exit 2; }
case "$DATASET" in
  mnist|fashion_mnist|svhn|cifar10) ;;
  celeba64|celeba128)
    [ -n "$SOURCE" ] || { echo "$DATASET needs --source CELEBA_DIR (docs/celeba.md)" >&2; exit 2; }
    CELEBA_PRESET="$DATASET" exec bash "$(dirname "${BASH_SOURCE[0]}")/celeba.sh" \
      "$SOURCE" ${STEPS:+"$STEPS"} ;;
  *) echo "DATASET must be mnist, fashion_mnist, svhn, cifar10, celeba64 or celeba128," \
       "got '$DATASET'" >&2; exit 2 ;;
esac
abs() { realpath -m "$1"; }  # before the cd to the repository root
DATA="$(abs "${PAPER_DATA_DIR:-data/$DATASET}")"
RUN="$(abs "${PAPER_RUN_DIR:-runs/$DATASET}")"
OUT="$(abs "${PAPER_OUT_DIR:-figures/$DATASET}")"
[ -z "$SOURCE" ] || SOURCE="$(abs "$SOURCE")"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"

# Each program runs through children.sh's glo_run: Ctrl-C or SIGTERM reaches it once, the
# trainer saves, and the script stops with 128 + the signal's number.
source reproduce/children.sh
GLO_RESUME_HINT="Run the same command again to resume: bash reproduce/paper.sh $DATASET${STEPS:+ $STEPS}."

if [ -n "$SOURCE" ]; then
  # shellcheck disable=SC2086
  glo_run glo-prepare-data "$DATASET" --source "$SOURCE" --out_dir "$DATA" ${PAPER_PREPARE_FLAGS:-}
elif [ ! -f "$DATA/prepare.json" ]; then
  echo "$DATA holds no finished conversion (prepare.json): give --source DIR, the folder" \
    "of the publisher's files (docs/benchmarks.md says where to get them)" >&2
  exit 2
fi
# The conversion checked every file, so the trainer's own check is skipped.
# shellcheck disable=SC2086
glo_run glo-train --preset "$DATASET" --data_dir "$DATA" --file_list "$DATA/train.txt" \
  --run_dir "$RUN" ${STEPS:+--num_steps "$STEPS"} --skip_data_check ${PAPER_TRAIN_FLAGS:-}
mkdir -p "$OUT"
# shellcheck disable=SC2086
glo_run glo-evaluate --run_dir "$RUN" --data_dir "$DATA" --file_list "$DATA/test.txt" \
  --fid_protocol glann --out_dir "$OUT" ${PAPER_EVAL_FLAGS:-}
METRICS=mse_01,psnr_db
grep -q '"fid_heldout"' "$OUT/evaluation.json" && METRICS="$METRICS,fid_heldout"
for FORMAT in markdown:md latex:tex csv:csv; do
  glo_run glo-compare "$OUT/evaluation.json" --label "$OUT/evaluation.json=GLO ($DATASET)" \
    --metrics "$METRICS" --format "${FORMAT%%:*}" --out "$OUT/table.${FORMAT##*:}"
done
cat "$OUT/table.md"
echo "Run: $RUN   Report and tables (table.md, table.tex, table.csv): $OUT"
