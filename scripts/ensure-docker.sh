#!/usr/bin/env bash
# Finds a reachable Docker engine, or installs and starts Debian's docker.io when
# none runs and we are root on Debian/Ubuntu. Idempotent: never restarts a running engine.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }
LOG_FILE="${GRACEFUL_E2E_DOCKERD_LOG:-/var/log/graceful-e2e-dockerd.log}"

engine_up() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_up; then
  log "Docker engine reachable ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

is_debian_like() { [ -r /etc/os-release ] && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; }

if [ "$(id -u)" != "0" ] || ! is_debian_like; then
  log "No Docker engine is reachable."
  log "Install and start one: Docker Engine (https://docs.docker.com/engine/install/), Docker Desktop,"
  log "or on Debian/Ubuntu as root: apt-get install docker.io && dockerd &"
  log "If an engine runs elsewhere, set DOCKER_HOST to it."
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "Installing Debian's docker.io (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null
fi

# A stale pid file from an engine that died would make dockerd refuse to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "Starting dockerd in the background (log: $LOG_FILE)"
  mkdir -p "$(dirname "$LOG_FILE")"
  nohup dockerd >"$LOG_FILE" 2>&1 </dev/null &
  disown || true
fi

for _ in $(seq 1 60); do
  if engine_up; then log "Docker engine ready"; exit 0; fi
  sleep 1
done
log "dockerd did not become ready within 60 s; last lines of $LOG_FILE:"
tail -n 20 "$LOG_FILE" >&2 || true
exit 1
