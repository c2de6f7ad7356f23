#!/usr/bin/env bash
# A whole TF1 cluster on one machine (docs/scaling.md): 1 parameter server and 2
# workers on free loopback ports train the `demo` preset for a fixed number of steps with
# between-graph replication, then every process this script started is stopped (also on
# Ctrl-C, on failure, or when the script itself is killed), and the checkpoint is printed.
# Environment:
#   CLUSTER_DATA_DIR  training images (default: the embedded faces, written to data/lfw)
#   CLUSTER_RUN_DIR   run directory (default runs/cluster_demo; an existing one resumes)
#   CLUSTER_STEPS     global steps to reach (default 600)
#   CLUSTER_FLAGS     extra flags for both workers (e.g. tiny overrides, --codes_shards=3,
#                     --sync_replicas)
#   CLUSTER_GRACE     seconds the second worker may run on after the chief ends (default 60)
# Paths given relative to the caller's directory, before changing to the repository root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
DATA="${CLUSTER_DATA_DIR:+$(realpath -m "$CLUSTER_DATA_DIR")}"
RUN="${CLUSTER_RUN_DIR:+$(realpath -m "$CLUSTER_RUN_DIR")}"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$GLO_ROOT"
RUN="${RUN:-$ROOT/runs/cluster_demo}"
STEPS="${CLUSTER_STEPS:-600}"
GRACE="${CLUSTER_GRACE:-60}"
if [ -z "$DATA" ]; then
  DATA="$ROOT/data/lfw"
  glo-write-faces --out_dir "$DATA"
fi
LOGS="$RUN/cluster_logs"
mkdir -p "$LOGS"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three free loopback ports (held open together, so they differ).
read -r PS_PORT W0_PORT W1_PORT < <(python - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
  s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in socks))
EOF
)
CLUSTER=(--ps_hosts "127.0.0.1:$PS_PORT" --worker_hosts "127.0.0.1:$W0_PORT,127.0.0.1:$W1_PORT")
echo "Cluster: ps 127.0.0.1:$PS_PORT, workers 127.0.0.1:$W0_PORT (chief), 127.0.0.1:$W1_PORT"
echo "Logs: $LOGS/{ps0,worker0,worker1}.log"

glo-train "${CLUSTER[@]}" --job_name ps --task_index 0 >"$LOGS/ps0.log" 2>&1 &
PIDS+=($!)
worker() {  # run in a background subshell, which exec turns into the worker itself
  # shellcheck disable=SC2086  # CLUSTER_FLAGS is a list of flags
  exec glo-train --preset demo --data_dir "$DATA" --run_dir "$RUN" \
    --num_steps "$STEPS" "${CLUSTER[@]}" --job_name worker --task_index "$1" \
    ${CLUSTER_FLAGS:-} >"$LOGS/worker$1.log" 2>&1
}
worker 0 &
W0=$!
PIDS+=($W0)
worker 1 &
W1=$!
PIDS+=($W1)

RC=0
wait "$W0" || RC=$?
# The chief's end is the run's end; the other worker stops at its next step (or, with
# --sync_replicas, may wait on the chief forever: it gets GRACE seconds).
for _ in $(seq $((GRACE * 5))); do kill -0 "$W1" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$W1" 2>/dev/null; then
  echo "worker 1 still running ${GRACE}s after the chief ended; stopping it"
  kill -TERM "$W1" 2>/dev/null || true
fi
RC1=0
wait "$W1" || RC1=$?
for i in 0 1; do
  echo "--- worker $i (last lines of $LOGS/worker$i.log)"
  tail -n 4 "$LOGS/worker$i.log"
done
if [ "$RC" != 0 ] || { [ "$RC1" != 0 ] && [ "$RC1" != 143 ]; }; then
  echo "cluster run failed (chief exit $RC, worker 1 exit $RC1); see $LOGS" >&2
  exit 1
fi
CKPT="$(sed -n 's/^model_checkpoint_path: "\(.*\)"$/\1/p' "$RUN/checkpoint")"
case "$CKPT" in /*) ;; *) CKPT="$RUN/$CKPT" ;; esac
echo "Checkpoint: $CKPT"
echo "Run directory: $RUN   TensorBoard: $VENV/bin/tensorboard --logdir $RUN"
