#!/bin/bash
# Two app processes started in the background and a `wait`, as commonly recommended together
# with tini. The script itself forwards nothing: what reaches the apps depends on how tini
# (PID 1) delivers SIGTERM: to this script only (tini --) or to its process group (tini -g --).
APP_ROLE=app-1 PORT=8080 node /app/server.js &
APP_ROLE=app-2 PORT=8081 node /app/server.js &
echo "[entrypoint] bash pid $$ started app-1 and app-2, waiting" >&2
wait
