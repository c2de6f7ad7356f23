#!/usr/bin/env bash
# For a user with NVIDIA GPUs: does glo-tf1 train on them, and how fast? Under 10 minutes.
#   bash reproduce/gpu_check.sh [OUT_DIR]          (default runs/gpu_check)
# Installs nothing beyond the GPU stack (reproduce/env.sh with GLO_DEVICE=gpu unless set:
# requirements-gpu.txt, the one stack plus the CUDA libraries, into .venv), then
# 1. lists the GPUs nvidia-smi sees and those TensorFlow sees; stops, saying why, when
#    TensorFlow sees none;
# 2. runs the tower-equivalence and pairing tests with their towers on the GPUs
#    (GLO_TEST_TOWER_DEVICE=gpu);
# 3. measures training images/s for 1, 2, ... K towers at 128 px (batch 64 per tower),
#    reading the JPEG files and the input cache, for each precision the GPUs can run
#    (glo-bench --mode towers);
# 4. records TensorFlow's own placement of one blog step (log_device_placement into
#    OUT_DIR/placement.log), counts the ops run per device, and lists any op that ran on
#    the host where model/placement.py predicts a GPU;
# 5. prints the report and writes it to OUT_DIR/gpu_check.md, to paste into an issue
#    (the figures also as OUT_DIR/gpu_check.json).
# Environment: GPU_CHECK_TOWERS=K (default: every GPU TensorFlow sees);
# GPU_CHECK_TOWER_DEVICE=cpu runs it all with CPU towers (K default 2), which is how the
# project tests this script (no machine of ours has a GPU); GPU_CHECK_BENCH_FLAGS: extra
# glo-bench flags (--quick: tiny sizes). Exit status 1 when a test failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
OUT="$(realpath -m "${1:-${GPU_CHECK_OUT:-runs/gpu_check}}")"
DEVICE="${GPU_CHECK_TOWER_DEVICE:-gpu}"
case "$DEVICE" in
  gpu) export GLO_DEVICE="${GLO_DEVICE:-gpu}" ;;
  cpu) ;;
  *) echo "GPU_CHECK_TOWER_DEVICE=$DEVICE: expected gpu or cpu" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"
mkdir -p "$OUT"
REPORT="$OUT/gpu_check.md"
START=$SECONDS

# 1. The devices.
VISIBLE="$(python - <<'PY'
from glo_tf1.compat import tf
print(len(tf.config.experimental.list_physical_devices('GPU')))
PY
)"
{
  echo "# glo-tf1 GPU check"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), glo-tf1 commit" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown), towers on: $DEVICE"
  echo
  echo '```'
  echo "\$ nvidia-smi -L"
  if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi -L 2>&1 || true
  else echo "(no nvidia-smi on PATH)"; fi
  python - <<'PY'
from glo_tf1.compat import tf, TF_VERSION
from glo_tf1.model import devices
gpus = tf.config.experimental.list_physical_devices('GPU')
print('TensorFlow %s, built with CUDA: %s; GPUs TensorFlow sees: %d'
      % (TF_VERSION, tf.test.is_built_with_cuda(), len(gpus)))
for gpu, cap in zip(gpus, devices.gpu_compute_capabilities()):
  print('  %s, compute capability %s' % (gpu.name, cap))
PY
  echo '```'
} > "$REPORT.head"
cat "$REPORT.head"
if [ "$DEVICE" = gpu ] && [ "$VISIBLE" = 0 ]; then
  python -c 'from glo_tf1.model import devices; print("error: TensorFlow sees no GPU. Why: %s."
             % (devices.why_no_gpu() if devices.nvidia_smi_gpus() else "nvidia-smi lists none"))' >&2
  exit 2
fi
TOWERS="${GPU_CHECK_TOWERS:-$([ "$DEVICE" = gpu ] && echo "$VISIBLE" || echo 2)}"

# 2. The tower-equivalence and pairing tests, towers on $DEVICE.
echo "Running the tower and pairing tests on $DEVICE towers..."
set +e
GLO_TEST_TOWER_DEVICE="$DEVICE" python -m pytest -q -p no:cacheprovider \
  tests/model/test_towers.py tests/data/test_pipelines.py -k "towers or pairing" \
  > "$OUT/tests.log" 2>&1
TESTS=$?
set -e
tail -n 5 "$OUT/tests.log"

# 3. Images/s for 1 ... K towers, JPEG files and cache, each precision.
# shellcheck disable=SC2086
glo-bench --mode towers --max_towers "$TOWERS" --tower_device "$DEVICE" \
  --out "$OUT/gpu_check.json" --markdown "$OUT/bench.md" ${GPU_CHECK_BENCH_FLAGS:-}

# 4. TensorFlow's own placement of one blog step (log_device_placement, to a file), the ops
# per device, and any op that ran on the host where model/placement.py predicts a GPU.
echo "Recording TensorFlow's placement of one blog step..."
if ! TF_CPP_MIN_LOG_LEVEL=0 python - "$TOWERS" "$DEVICE" "$OUT/placement.md" \
  > "$OUT/placement.log" 2>&1 <<'PY'
import sys
from glo_tf1.bench import placement as bench_placement
res = bench_placement.observed_placement('blog', int(sys.argv[1]), sys.argv[2])
lines = ['| device | ops run in one step |', '| --- | --- |']
lines += ['| %s | %d |' % (device, n) for device, n in sorted(res['ran'].items())]
lines += ['', 'Ops run on the host that the prediction (model/placement.py) puts on a GPU: '
          '%d%s' % (len(res['unexpected']), (' (%s)' % ', '.join(res['unexpected'][:20]))
                    if res['unexpected'] else '')]
with open(sys.argv[3], 'w') as f:
  f.write('\n'.join(lines) + '\n')
PY
then
  tail -n 20 "$OUT/placement.log" >&2
  echo "error: recording the placement failed; see $OUT/placement.log" >&2
  exit 1
fi

# 5. The report.
{
  cat "$REPORT.head"
  echo
  echo "## Tests (towers on $DEVICE): $([ "$TESTS" = 0 ] && echo passed || echo FAILED)"
  echo
  echo '```'
  grep -E "passed|failed|error" "$OUT/tests.log" | tail -n 20 || true
  echo '```'
  echo
  echo "## Placement of one blog step (TensorFlow's log: $OUT/placement.log)"
  echo
  cat "$OUT/placement.md"
  echo
  echo "## Training speed"
  echo
  cat "$OUT/bench.md"
  echo
  echo "Took $((SECONDS - START)) s. Made by \`bash reproduce/gpu_check.sh\` (docs/gpus.md)."
} > "$REPORT"
rm -f "$REPORT.head"
echo
cat "$REPORT"
echo
echo "Report: $REPORT (paste it into an issue)"
if [ "$TESTS" != 0 ]; then
  echo "error: tests failed on $DEVICE towers; see $OUT/tests.log" >&2
  exit 1
fi
