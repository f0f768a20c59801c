#!/usr/bin/env bash
# The HTML report is checked in a real headless browser (Debian's chromium). Installs it as root on
# Debian/Ubuntu when missing; elsewhere says what to install (the browser test then skips, saying so).
set -euo pipefail
log() { printf '[ensure-chromium] %s\n' "$*" >&2; }
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian's chromium (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi
log "chromium is not installed: the browser test of the HTML report will be skipped (install Debian's 'chromium')"
