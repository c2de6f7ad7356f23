# Sourced by the scripts of reproduce/ that chain glo-tf1 programs: `glo_run CMD ARGS...`
# runs one program so that stopping the script stops it cleanly.
# The program runs in its own process group (set -m while it starts), so a Ctrl-C at the
# terminal reaches this script only; the script's traps pass each SIGINT, SIGTERM or SIGHUP
# on to the program once and wait for it, so glo-train saves its checkpoint and releases
# RUN/lock before the script ends (without this, SIGTERM left glo-train running with the
# lock, and after a Ctrl-C the script went on to evaluate the partial run). A script that
# was stopped exits 128 + the signal's number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP) after
# printing "stopped by SIG...", then GLO_RESUME_HINT (how to resume), and never runs the
# next program. A program that fails ends the script with its status, as under set -e.
GLO_CHILD=
GLO_SIGNAL=
_glo_stopped() {
  echo "${0##*/}: stopped by SIG$GLO_SIGNAL${GLO_STOPPED_IN:+ $GLO_STOPPED_IN}." \
    "${GLO_RESUME_HINT:-}" >&2
  exit $((128 + $(kill -l "$GLO_SIGNAL")))
}
_glo_on_signal() {
  GLO_SIGNAL=$1
  if [ -n "$GLO_CHILD" ]; then
    kill -s "$1" "$GLO_CHILD" 2>/dev/null || true  # a second Ctrl-C: glo-train gives up
  else
    _glo_stopped
  fi
}
# A shell started with SIGINT ignored (by `&` in another script, as a CI runner or a
# job launcher does) cannot trap it: Ctrl-C or `kill -INT` would then stop nothing. Say so
# once, with what does work.
if [ "$(trap -p INT)" = "trap -- '' SIGINT" ]; then
  echo "${0##*/}: SIGINT is ignored in this shell (it was started in the background by" \
    "another script), so Ctrl-C cannot stop it; 'kill $$' (SIGTERM) stops it cleanly." >&2
fi
trap '_glo_on_signal INT' INT
trap '_glo_on_signal TERM' TERM
trap '_glo_on_signal HUP' HUP
glo_run() {
  local rc=0
  set -m
  "$@" &
  GLO_CHILD=$!
  set +m
  # A trapped signal ends `wait` early: wait again until the program is gone, then take
  # its status (bash keeps it for a reaped child).
  while kill -0 "$GLO_CHILD" 2>/dev/null; do wait "$GLO_CHILD" || true; done
  wait "$GLO_CHILD" || rc=$?
  GLO_CHILD=
  if [ -n "$GLO_SIGNAL" ]; then _glo_stopped; fi
  if [ "$rc" != 0 ]; then exit "$rc"; fi
}
