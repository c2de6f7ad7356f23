#!/usr/bin/env bash
# The GPU acceptance run: does glo-tf1 train on your NVIDIA GPUs, and how fast? It always
# writes its report, whatever fails; please send the report to the address it names.
#   bash reproduce/gpu_check.sh [OUT_DIR]          (default runs/gpu_check)
# Installs nothing beyond the GPU stack (reproduce/env.sh with GLO_DEVICE=gpu unless set:
# requirements-gpu.txt, the one stack plus the pinned CUDA libraries, into .venv), then runs
# these steps. Each is guarded: a failing step is recorded with its exit status and the end
# of its log (OUT_DIR/logs/STEP.log), and the steps that do not need it still run.
#   versions     TensorFlow's build (CUDA, cuDNN, compute capabilities), the GPUs it sees,
#                the nvidia-* wheels, and nvidia-smi --query-gpu (name, driver, memory,
#                compute capability); fails when the towers are on GPUs and TensorFlow sees
#                none, saying why
#   tests        the tower-equivalence and pairing tests, towers on the GPUs
#   bench        training images/s for 1 ... K towers (glo-bench --mode towers)
#   placement    TensorFlow's own placement of one synthetic blog step beside the prediction
#   data         the 200 embedded LFW faces as JPEG files (glo-write-faces)
#   train        glo-train, preset blog at 128 px from the input cache, with a summary, an
#                image grid dump and a checkpoint every STEPS/4 steps; interrupted (SIGINT)
#                after its first checkpoint
#   resume       the same command again: resumes and trains to STEPS (or one more cadence)
#   training     checks the run: the summaries, image dumps, checkpoint, loss decreased
#   placement_train  TensorFlow's placement log of that run (cache pipeline, summaries)
#                beside the prediction (deploy/placement.py)
#   det1, det2, determinism   two fresh --deterministic runs of STEPS/4 steps; their
#                checkpoints compared bit for bit
#   fp16         on GPUs of compute capability 7.0 or more: --precision fp16 for two
#                checkpoints; every decoder variable must change; its placement log too
#   first_start  seconds from each launch to its first step: the first against the later
#                ones estimates TensorFlow's PTX compile (GPUs without machine code)
# The report: OUT_DIR/gpu_check.md (printed too) and gpu_check.json (steps, figures).
# Environment: GPU_CHECK_TOWERS=K (default: every GPU TensorFlow sees);
# GPU_CHECK_TOWER_DEVICE=cpu runs it all with CPU towers (K default 2), which is how the
# project tests this script (no machine of ours has a GPU); GPU_CHECK_BUDGET=SECONDS
# (default 1200): steps that would start past it are recorded as skipped;
# GPU_CHECK_IMAGE_SIZE (default 128) and GPU_CHECK_STEPS (default 200) for the training
# steps, GPU_CHECK_TRAIN_FLAGS (extra glo-train flags, last, so they override);
# GPU_CHECK_BENCH_FLAGS (extra glo-bench flags; --quick: tiny sizes);
# GPU_CHECK_FAIL_STEP=STEP makes that step fail (to test the report).
# Exit status: 0 when every step passed or was skipped for a stated reason, 2 when the
# towers are on GPUs and TensorFlow sees none, else 1.
set -uo pipefail  # no -e: every step is guarded by run_step, and the report always written
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(realpath -m "${1:-${GPU_CHECK_OUT:-runs/gpu_check}}")"
DEVICE="${GPU_CHECK_TOWER_DEVICE:-gpu}"
case "$DEVICE" in
  gpu) export GLO_DEVICE="${GLO_DEVICE:-gpu}" ;;
  cpu) ;;
  *) echo "GPU_CHECK_TOWER_DEVICE=$DEVICE: expected gpu or cpu" >&2; exit 2 ;;
esac
BUDGET="${GPU_CHECK_BUDGET:-1200}"
SIZE="${GPU_CHECK_IMAGE_SIZE:-128}"
STEPS="${GPU_CHECK_STEPS:-200}"
for v in BUDGET SIZE STEPS; do
  if ! [[ "${!v}" =~ ^[0-9]+$ ]] || [ "${!v}" = 0 ]; then
    echo "GPU_CHECK_$v=${!v}: expected a positive whole number" >&2; exit 2
  fi
done
EVERY=$(( STEPS / 4 > 0 ? STEPS / 4 : 1 ))   # the summary, image and checkpoint cadence
FAIL_STEP="${GPU_CHECK_FAIL_STEP:-}"
START=$SECONDS
mkdir -p "$OUT" || exit 1
rm -rf "$OUT/logs" "$OUT/sections" "$OUT/steps.tsv"
mkdir -p "$OUT/logs" "$OUT/sections"
export GPU_CHECK_LOGS="$OUT/logs"
declare -A RESULT=()

# record NAME RESULT RC SECONDS WHY: one row of OUT_DIR/steps.tsv.
record() {
  RESULT[$1]=$2
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$OUT/steps.tsv"
  echo "[$1] $2${5:+: $5}"
}

# run_step NAME [needs STEP...] -- COMMAND...: runs COMMAND (output in logs/NAME.log) unless
# a step it needs did not pass or the budget is spent; records ok, FAILED or skipped.
run_step() {
  local name=$1 t0=$SECONDS rc=0 need why='' log="$OUT/logs/$1.log"
  shift
  while [ "$1" != -- ]; do
    [ "$1" = needs ] || { need=$1; [ "${RESULT[$need]:-}" = ok ] ||
      why="needs $need, which ${RESULT[$need]:-did not run}"; }
    shift
  done
  shift
  if [ -z "$why" ] && [ -n "${SKIP[$name]:-}" ]; then why=${SKIP[$name]}; fi
  if [ -z "$why" ] && [ -n "$STOPPED" ]; then why="the check was stopped by SIG$STOPPED"; fi
  if [ -z "$why" ] && (( SECONDS - START >= BUDGET )); then
    why="past the time budget (GPU_CHECK_BUDGET=$BUDGET s)"
  fi
  if [ -n "$why" ]; then record "$name" skipped - 0 "$why"; return 0; fi
  echo "[$name] running..."
  if [ "$FAIL_STEP" = "$name" ]; then
    echo "error: simulated failure (GPU_CHECK_FAIL_STEP=$name)" > "$log"; rc=97
  else
    "$@" > "$log" 2>&1 || rc=$?
  fi
  if [ "$rc" = 0 ]; then
    record "$name" ok 0 $((SECONDS - t0)) ''
  else
    # The error: the log's last lines, without TensorFlow's informational lines.
    grep -v -E '^[IW][0-9]{4} ' "$log" | tail -n 12 > "$OUT/logs/$name.error"
    record "$name" FAILED "$rc" $((SECONDS - t0)) "exit status $rc; see logs/$name.log"
  fi
}
declare -A SKIP=()
# A Ctrl-C or SIGTERM to the script: the running step ends (glo-train checkpoints), the
# steps left are skipped, and the report is still written (exit status 130 or 143).
STOPPED=''
trap 'STOPPED=INT' INT
trap 'STOPPED=TERM' TERM

# The environment: the stack, the venv, TensorFlow (a failure is recorded like a step's).
ENV_T0=$SECONDS
ENV_RC=0
# shellcheck source=reproduce/env.sh
source "$HERE/env.sh" 2> "$OUT/logs/environment.log" || ENV_RC=$?
cat "$OUT/logs/environment.log" >&2
cd "${GLO_ROOT:-$HERE/..}" || exit 1
if [ "$ENV_RC" = 0 ]; then
  record environment ok 0 $((SECONDS - ENV_T0)) ''
else
  tail -n 12 "$OUT/logs/environment.log" > "$OUT/logs/environment.error"
  record environment FAILED "$ENV_RC" $((SECONDS - ENV_T0)) "reproduce/env.sh failed"
fi
PY=(python "$HERE/gpu_check.py")

versions() {
  local rc=0
  "${PY[@]}" versions "$OUT/sections/versions.md" "$OUT/facts.env" || rc=$?
  {
    echo '```'
    echo "\$ nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv"
    if command -v nvidia-smi >/dev/null 2>&1; then
      nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
      echo "\$ nvidia-smi -L"
      nvidia-smi -L 2>&1
    else echo "(no nvidia-smi on PATH)"; fi
    echo '```'
  } >> "$OUT/sections/versions.md"
  cat "$OUT/sections/versions.md"
  [ "$rc" = 0 ] || return "$rc"
  # shellcheck disable=SC1091
  source "$OUT/facts.env"
  if [ "$DEVICE" = gpu ] && [ "${VISIBLE:-0}" = 0 ]; then
    echo "error: TensorFlow sees no GPU. Why: ${WHY_NO_GPU:-?}."  # from the versions step
    return 3
  fi
}
run_step versions environment -- versions
[ -f "$OUT/facts.env" ] && source "$OUT/facts.env"
VISIBLE="${VISIBLE:-0}"
MIN_CC="${MIN_CC:-0}"
NO_GPU=''
if [ "$DEVICE" = gpu ] && [ "$VISIBLE" = 0 ]; then
  NO_GPU="TensorFlow sees no GPU (see the versions step)"
fi
TOWERS="${GPU_CHECK_TOWERS:-$([ "$DEVICE" = gpu ] && echo "$VISIBLE" || echo 2)}"
[ "$TOWERS" = 0 ] && TOWERS=1
for s in tests bench placement train det1 fp16; do
  [ -n "$NO_GPU" ] && SKIP[$s]="$NO_GPU"
done
if [ "$DEVICE" != gpu ]; then
  SKIP[fp16]="the towers are on the CPU (fp16 needs GPUs of compute capability 7.0 or more)"
elif [ -z "$NO_GPU" ] && [ "$MIN_CC" = 0 ]; then
  SKIP[fp16]="TensorFlow does not say the GPUs' compute capability"
elif [ -z "$NO_GPU" ] && (( MIN_CC < 70 )); then
  SKIP[fp16]="compute capability ${MIN_CC:0:-1}.${MIN_CC: -1} < 7.0: no fast float16"
fi

run_step tests environment -- env GLO_TEST_TOWER_DEVICE="$DEVICE" python -m pytest -q \
  -p no:cacheprovider tests/model/test_towers.py tests/data/test_pipelines.py \
  -k "towers or pairing"

# shellcheck disable=SC2086
run_step bench environment -- glo-bench --mode towers --max_towers "$TOWERS" \
  --tower_device "$DEVICE" --out "$OUT/bench.json" --markdown "$OUT/sections/bench.md" \
  ${GPU_CHECK_BENCH_FLAGS:-}

placement_step() {
  TF_CPP_MIN_LOG_LEVEL=0 python - "$TOWERS" "$DEVICE" "$OUT/sections/placement.md" <<'PY'
import sys
from glo_tf1.bench import placement as bench_placement
res = bench_placement.observed_placement('blog', int(sys.argv[1]), sys.argv[2])
lines = ['| device | ops run in one step |', '| --- | --- |']
lines += ['| %s | %d |' % (device, n) for device, n in sorted(res['ran'].items())]
lines += ['', 'Ops run on the host that the prediction (deploy/placement.py) puts on a GPU: '
          '%d%s' % (len(res['unexpected']), (' (%s)' % ', '.join(res['unexpected'][:20]))
                    if res['unexpected'] else '')]
with open(sys.argv[3], 'w') as f:
  f.write('\n'.join(lines) + '\n')
PY
}
run_step placement environment -- placement_step

DATA="$OUT/data"
run_step data environment -- glo-write-faces --out_dir "$DATA"

# glo-train with the check's flags; TensorFlow logs each op's placement (the placer's
# lines) and its warnings, the PTX compile's among them (env.sh hides them by default).
GPUS=$([ "$DEVICE" = gpu ] && [ "$VISIBLE" != 0 ] && echo 1 || echo 0)
train() {  # train RUN FLAGS...; with TRAIN_EXEC=1 glo-train replaces the (sub)shell
  local run=$1 cmd
  shift
  # shellcheck disable=SC2206
  cmd=(env TF_CPP_MIN_LOG_LEVEL=0 TF_CPP_VMODULE=placer=1 glo-train --preset blog
    --data_dir "$DATA" --run_dir "$run" --image_size "$SIZE" --input_cache auto
    --num_gpus "$TOWERS" --tower_device "$DEVICE" --save_checkpoint_steps "$EVERY"
    --save_summaries_steps "$EVERY" --image_summary_steps "$EVERY"
    --save_images_steps "$EVERY" --log_every_steps "$EVERY" "$@" ${GPU_CHECK_TRAIN_FLAGS:-})
  if [ -n "${TRAIN_EXEC:-}" ]; then exec "${cmd[@]}"; fi
  "${cmd[@]}"
}
checkpoint_step() {  # the step of RUN's last checkpoint, or nothing
  sed -n 's/^model_checkpoint_path: "model.ckpt-\([0-9]*\)"$/\1/p' "$1/checkpoint" 2>/dev/null
}
declare -A LAUNCHED=()
RUN="$OUT/run"
past_first_checkpoint() {  # RUN holds a checkpoint at step EVERY or later
  local step
  step="$(checkpoint_step "$RUN")"
  [ -n "$step" ] && (( step >= EVERY ))
}
# Trains without a step limit, sends SIGINT once the first checkpoint is written, and
# expects the trainer to save and exit cleanly (docs/training.md).
train_and_interrupt() {
  local pid rc=0
  rm -rf "$RUN"
  LAUNCHED[train]=$(date +%s.%N)
  TRAIN_EXEC=1 train "$RUN" &   # $! is glo-train itself, which gets the signal
  pid=$!
  # The first checkpoint after step 0 (the trainer also saves one as it starts).
  while kill -0 "$pid" 2>/dev/null && ! past_first_checkpoint && [ -z "$STOPPED" ]; do
    if (( SECONDS - START >= BUDGET )); then
      echo "error: no checkpoint before the time budget (GPU_CHECK_BUDGET=$BUDGET s)"
      break
    fi
    sleep 0.2
  done
  kill -INT "$pid" 2>/dev/null
  wait "$pid" || rc=$?
  echo "glo-train exited with status $rc after SIGINT; last checkpoint at step" \
    "$(checkpoint_step "$RUN")"
  [ "$rc" = 0 ] || return "$rc"
  past_first_checkpoint ||
    { echo "error: no checkpoint at step $EVERY or later in $RUN"; return 1; }
  grep -q '^Interrupted at step' "$OUT/logs/train.log" ||
    { echo "error: glo-train did not say 'Interrupted at step'"; return 1; }
}
run_step train needs data -- train_and_interrupt
INTERRUPTED="$(checkpoint_step "$RUN")"
TARGET=$(( ${INTERRUPTED:-0} + EVERY > STEPS ? ${INTERRUPTED:-0} + EVERY : STEPS ))
resume() {
  LAUNCHED[resume]=$(date +%s.%N)
  train "$RUN" --num_steps "$TARGET" || return
  grep -q "^Resuming at step $INTERRUPTED" "$OUT/logs/resume.log" ||
    { echo "error: glo-train did not resume at step $INTERRUPTED"; return 1; }
}
run_step resume needs train -- resume
run_step training needs resume -- "${PY[@]}" training "$OUT/sections/training.md" "$RUN" \
  "$TARGET"
run_step placement_train needs train -- "${PY[@]}" placement \
  "$OUT/sections/placement_train.md" "$OUT/logs/train.log" "$RUN" "$GPUS" \
  "Training from the input cache (pipeline, a summary step), $TOWERS tower(s) on $DEVICE"

deterministic() {  # deterministic NAME: a fresh --deterministic run of EVERY steps
  rm -rf "$OUT/$1"
  LAUNCHED[$1]=$(date +%s.%N)
  train "$OUT/$1" --deterministic --num_steps "$EVERY"
}
SKIP[det2]="${SKIP[det1]:-}"
run_step det1 needs data -- deterministic det1
run_step det2 needs data -- deterministic det2
run_step determinism needs det1 needs det2 -- "${PY[@]}" identical \
  "$OUT/sections/determinism.md" "$OUT/det1/model.ckpt-$EVERY" "$OUT/det2/model.ckpt-$EVERY"

fp16() {  # EVERY steps, a snapshot of the decoder, EVERY more; every variable must change
  local run="$OUT/fp16"
  rm -rf "$run"
  train "$run" --precision fp16 --num_steps "$EVERY" || return
  "${PY[@]}" snapshot "$run/model.ckpt-$EVERY" "$OUT/fp16_decoder.npz" || return
  train "$run" --precision fp16 --num_steps $((2 * EVERY)) || return
  "${PY[@]}" changed "$OUT/sections/fp16.md" "$OUT/fp16_decoder.npz" \
    "$run/model.ckpt-$((2 * EVERY))" || return
  "${PY[@]}" placement "$OUT/sections/placement_fp16.md" "$OUT/logs/fp16.log" "$run" \
    "$GPUS" "--precision fp16 (placed before Grappler's float16 rewrite)"
}
run_step fp16 needs data -- fp16

first_start() {  # the first launch (train) against the later fresh ones (det1, det2)
  local runs=() n dir
  for n in train det1 det2; do
    dir="$OUT/$n"
    [ "$n" = train ] && dir="$RUN"
    [ -n "${LAUNCHED[$n]:-}" ] && runs+=("$n=$dir@${LAUNCHED[$n]}")
  done
  "${PY[@]}" first_step "$OUT/sections/first_start.md" "${runs[@]}"
}
run_step first_start needs train -- first_start

# The report: written whatever passed.
issues_url() {  # CITATION.cff's repository-code, else the clone's origin, + /issues
  local url
  url="$(sed -n 's/^repository-code: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' CITATION.cff 2>/dev/null)"
  [ -n "$url" ] || url="$(git remote get-url origin 2>/dev/null |
    sed -e 's#^git@\([^:]*\):#https://\1/#' -e 's#\.git$##' | grep '^https://')"
  if [ -n "$url" ]; then echo "${url%/}/issues"; fi
}
section() {  # section STEP TITLE [FILE]: a heading with the step's result, then its text
  echo
  echo "## $2 ($1: ${RESULT[$1]:-not run})"
  echo
  if [ -n "${3:-}" ] && [ -f "$3" ]; then cat "$3"; fi
}
URL="$(issues_url)"
FAILED=$(awk -F'\t' '$2 == "FAILED"' "$OUT/steps.tsv" | cut -f1 | paste -sd' ')
{
  echo "# glo-tf1 GPU check"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), glo-tf1 commit" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown), towers on: $DEVICE ($TOWERS)," \
    "${SIZE} px, $STEPS steps, budget $BUDGET s, took $((SECONDS - START)) s"
  echo
  echo "Failed steps: ${FAILED:-none}"
  echo
  echo "## Where to send this report"
  echo
  if [ -n "$URL" ]; then
    echo "Please open an issue at $URL with this file (gpu_check.md) and gpu_check.json;"
  else
    echo "Please open an issue in the glo-tf1 repository you got this copy from (CITATION.cff"
    echo "names no repository-code) with this file (gpu_check.md) and gpu_check.json;"
  fi
  echo "add the logs/ of a failed step."
  echo
  echo "## Steps"
  echo
  echo "| step | result | exit status | seconds | note |"
  echo "| --- | --- | --- | --- | --- |"
  awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$OUT/steps.tsv"
  for name in $FAILED; do
    echo
    echo "### Error of $name (end of logs/$name.log)"
    echo
    echo '```'
    cat "$OUT/logs/$name.error" 2>/dev/null
    echo '```'
  done
  section environment "Environment (reproduce/env.sh)"
  section versions "Versions" "$OUT/sections/versions.md"
  section tests "Tests (towers on $DEVICE)"
  if [ -f "$OUT/logs/tests.log" ] && [ "${RESULT[tests]:-}" = ok ]; then
    echo '```'; grep -E "passed|failed|error" "$OUT/logs/tests.log" | tail -n 5; echo '```'
  fi
  section training \
    "Training end to end: interrupted at step ${INTERRUPTED:-?}, resumed to $TARGET" \
    "$OUT/sections/training.md"
  section determinism "Determinism: two --deterministic runs of $EVERY steps" \
    "$OUT/sections/determinism.md"
  section fp16 "fp16: the decoder learns" "$OUT/sections/fp16.md"
  section placement "Placement of one blog step (synthetic input)" "$OUT/sections/placement.md"
  section placement_train "Placement of the training run (TensorFlow's log beside the prediction)" \
    "$OUT/sections/placement_train.md"
  [ -f "$OUT/sections/placement_fp16.md" ] && { echo; cat "$OUT/sections/placement_fp16.md"; }
  section first_start "First start (PTX compile estimate)" "$OUT/sections/first_start.md"
  section bench "Training speed" "$OUT/sections/bench.md"
  echo
  echo "Made by \`bash reproduce/gpu_check.sh\` (docs/gpus.md)."
} > "$OUT/gpu_check.md"
# The same steps as JSON, with the speed figures (plain Python: no TensorFlow needed).
python3 - "$OUT" <<'PY' || echo "warning: gpu_check.json not written" >&2
import json, os, sys
out = sys.argv[1]
steps = []
with open(os.path.join(out, 'steps.tsv')) as f:
  for line in f:
    name, result, rc, secs, note = line.rstrip('\n').split('\t')
    err = os.path.join(out, 'logs', name + '.error')
    steps.append({'step': name, 'result': result, 'exit_status': rc, 'seconds': int(secs),
                  'note': note, 'error': open(err).read() if result == 'FAILED'
                  and os.path.exists(err) else None})
bench = os.path.join(out, 'bench.json')
with open(os.path.join(out, 'gpu_check.json'), 'w') as f:
  json.dump({'steps': steps, 'bench': json.load(open(bench)) if os.path.exists(bench)
             else None}, f, indent=1)
PY
echo
cat "$OUT/gpu_check.md"
echo
echo "Report: $OUT/gpu_check.md${URL:+ (please send it: $URL)}"
if [ -n "$STOPPED" ]; then
  echo "error: stopped by SIG$STOPPED; the report covers the steps run so far" >&2
  exit $((128 + $(kill -l "$STOPPED")))
fi
if [ -n "$NO_GPU" ]; then
  grep '^error:' "$OUT/logs/versions.log" >&2
  exit 2
fi
if [ -n "$FAILED" ]; then
  echo "error: failed steps: $FAILED (see $OUT/logs/)" >&2
  exit 1
fi
