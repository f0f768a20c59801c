#!/bin/bash
# "exec" style: the same wrapper script, but it execs the app: node replaces bash as PID 1
# and receives SIGTERM itself.
set -u
echo "[entrypoint] bash pid $$ exec'ing node /app/server.js" >&2
exec node /app/server.js
