#!/usr/bin/env bash
# Builds the offline base image from Debian packages (debootstrap minbase) when no
# container registry is reachable. Cached: skipped when the tag already exists.
# Usage: scripts/build-local-base.sh [tag]
set -euo pipefail
log() { printf '[local-base] %s\n' "$*" >&2; }

SUITE="${GRACEFUL_E2E_DEBIAN_SUITE:-bookworm}"
MIRROR="${GRACEFUL_E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Everything the sample images need: node for the app, bash for the entrypoint
# scripts, tini for the tini styles, procps (ps/pgrep) for inspection, sh via dash.
PACKAGES="nodejs,bash,tini,procps,ca-certificates"
# The tag carries a hash of this script so a changed recipe gives a new image.
SELF_HASH=$(sha256sum "$0" | cut -c1-12)
TAG="${1:-graceful-e2e/base:${SUITE}-${SELF_HASH}}"

if ! docker info >/dev/null 2>&1; then
  log "no Docker engine is reachable: run scripts/ensure-docker.sh first"
  exit 1
fi
if docker image inspect "$TAG" >/dev/null 2>&1; then
  log "cached: $TAG"
  echo "$TAG"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  log "building the local base image needs root (debootstrap); run: sudo $0"
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap (apt-get)..."
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

ROOT=$(mktemp -d /tmp/graceful-e2e-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$ROOT"; }
trap cleanup EXIT INT TERM

log "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR; this takes a few minutes once"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || {
  tail -n 30 "$ROOT.log" >&2; exit 1; }
rm -f "$ROOT.log"
# Slim it: apt caches, docs and man pages are not needed at run time.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* \
       "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/*

log "importing as $TAG"
tar -C "$ROOT" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' \
  --change 'LABEL graceful-e2e.base=local' \
  - "$TAG" >/dev/null
echo "$TAG"
