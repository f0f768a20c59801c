#!/bin/bash
# "trap" style: bash (PID 1) starts two app processes in the background and forwards
# SIGTERM/SIGINT to both with a trap, then waits until both have exited.
set -u

APP_ROLE=app-1 PORT=8080 node /app/server.js &
pid1=$!
APP_ROLE=app-2 PORT=8081 node /app/server.js &
pid2=$!
echo "[entrypoint] bash pid $$ started app-1 (pid $pid1) and app-2 (pid $pid2)" >&2

forward() {
  echo "[entrypoint] got SIG$1, forwarding SIGTERM to $pid1 $pid2" >&2
  kill -TERM "$pid1" "$pid2" 2>/dev/null || true
}
trap 'forward TERM' TERM
trap 'forward INT' INT

# A trapped signal makes `wait` return early (status 128+n) while the children still run: keep
# waiting while a child is alive. bash remembers the exit status of a finished background child,
# so the final `wait` returns that child's own status even if an earlier `wait` was interrupted.
reap() {
  while kill -0 "$1" 2>/dev/null; do wait "$1"; done
  wait "$1"
}
reap "$pid1"
status1=$?
reap "$pid2"
status2=$?
echo "[entrypoint] app-1 exited $status1, app-2 exited $status2" >&2
if [ "$status1" -ne 0 ]; then exit "$status1"; fi
exit "$status2"
