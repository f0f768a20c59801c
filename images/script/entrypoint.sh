#!/bin/bash
# "script" style: a wrapper script that starts the app as a foreground child. No exec, no &:
# bash (PID 1) waits for node. bash installs no SIGTERM handler, and the kernel ignores a
# signal with default disposition for PID 1, so SIGTERM is lost: node never sees it.
set -u
echo "[entrypoint] bash pid $$ starting node /app/server.js as a child" >&2
node /app/server.js
status=$?
echo "[entrypoint] node exited with status $status" >&2
exit "$status"
