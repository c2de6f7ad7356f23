#!/usr/bin/env bash
# A whole TF1 cluster on one machine (docs/scaling.md): 1 parameter server and 2
# workers on free loopback ports train the `demo` preset for a fixed number of steps with
# between-graph replication, then every process this script started is stopped (also on
# Ctrl-C, on failure, or when the script itself is killed), and the checkpoint is printed.
# Stopping is ordered: worker 1, then the chief (SIGTERM: it saves a checkpoint), then
# the parameter server, which the chief's save needs.
# Who can connect: TensorFlow's servers listen on every interface, without
# authentication. Where unprivileged namespaces are allowed, the cluster runs in a
# private network namespace (unshare --net) whose only interface is the loopback, so no
# other process, local or remote, can reach it (root can still enter the namespace with
# nsenter); elsewhere the script says that it is open.
# Environment:
#   CLUSTER_DATA_DIR  training images (default: the embedded faces, written to data/lfw)
#   CLUSTER_RUN_DIR   run directory (default runs/cluster_demo; an existing one resumes)
#   CLUSTER_STEPS     global steps to reach (default 600)
#   CLUSTER_FLAGS     extra flags for both workers (e.g. tiny overrides, --codes_shards=3,
#                     --sync_replicas)
#   CLUSTER_GRACE     seconds the second worker may run on after the chief ends, and that
#                     each worker gets to save and stop when the script is stopped (default 60)
#   CLUSTER_NETNS     0: no private network namespace (default: one where allowed)
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
# Into a private network namespace (the same process: exec), once, where allowed.
if [ "${CLUSTER_NETNS:-1}" != 0 ] && [ -z "${GLO_CLUSTER_IN_NETNS:-}" ]; then
  for how in --map-current-user --map-root-user; do
    if unshare --net "$how" true 2>/dev/null; then
      export GLO_CLUSTER_IN_NETNS=1 CLUSTER_DATA_DIR="$DATA" CLUSTER_RUN_DIR="$RUN"
      exec unshare --net "$how" "$BASH" "$ROOT/reproduce/cluster_local.sh" "$@"
    fi
  done
fi
if [ -n "${GLO_CLUSTER_IN_NETNS:-}" ]; then
  # The loopback interface of a new namespace is down: up (SIOCGIFFLAGS, SIOCSIFFLAGS).
  python -c 'import fcntl, socket, struct
s = socket.socket()
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", b"lo", 0))[:18])[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))'
  echo "Who can connect: only the processes of this script (a private network namespace" \
    "whose only interface is the loopback)."
else
  echo "Who can connect: anyone who reaches this machine on the ports below. TensorFlow" \
    "listens on every interface, without authentication, and no private network" \
    "namespace is allowed here (unshare --net); use a machine on a trusted network." >&2
fi
LOGS="$RUN/cluster_logs"
mkdir -p "$LOGS"

PIDS=()  # the parameter server, the chief, worker 1
stop() {  # stop PID: SIGTERM, up to GRACE seconds, then SIGKILL
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq $((GRACE * 5))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {  # worker 1, then the chief (its save needs the parameter server), then the ps
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop "${PIDS[$i]}"; done
  PIDS=()
}
newest() {
  local ckpt
  ckpt="$(sed -n 's/^model_checkpoint_path: "\(.*\)"$/\1/p' "$RUN/checkpoint" 2>/dev/null)" || true
  [ -n "$ckpt" ] || return 0
  case "$ckpt" in /*) ;; *) ckpt="$RUN/$ckpt" ;; esac
  echo "Checkpoint: $ckpt"
}
trap cleanup EXIT
trap 'cleanup; newest; exit 130' INT
trap 'cleanup; newest; exit 143' TERM

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

# Each in a session of its own (setsid), so that a Ctrl-C in the terminal reaches only
# this script, which stops them in order.
setsid glo-train "${CLUSTER[@]}" --job_name ps --task_index 0 >"$LOGS/ps0.log" 2>&1 &
PIDS+=($!)
worker() {  # run in a background subshell, which exec turns into the worker itself
  # shellcheck disable=SC2086  # CLUSTER_FLAGS is a list of flags
  exec setsid glo-train --preset demo --data_dir "$DATA" --run_dir "$RUN" \
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
newest
echo "Run directory: $RUN   TensorBoard: $VENV/bin/tensorboard --logdir $RUN"
