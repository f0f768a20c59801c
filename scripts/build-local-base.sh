#!/usr/bin/env bash
# Builds the offline base image from Debian packages (debootstrap minbase) when no
# container registry is reachable. Cached: skipped when the tag already exists.
# Usage: scripts/build-local-base.sh [tag]
set -euo pipefail
log() { printf '[local-base] %s\n' "$*" >&2; }

DEFAULT_MIRROR="http://deb.debian.org/debian"

# Prints the first Debian archive this machine's apt uses (the mirror it can reach), or nothing:
# a `deb` entry with component main and a Debian suite (bookworm, trixie-updates, stable, ...), not
# the security archive, from $1/sources.list and then $1/sources.list.d/*.list and *.sources (deb822
# `URIs:` paragraphs) in apt's order. $1 defaults to /etc/apt.
apt_debian_mirror() {
  local etc="${1:-/etc/apt}" f
  local files=()
  [ -f "$etc/sources.list" ] && files+=("$etc/sources.list")
  for f in "$etc"/sources.list.d/*; do
    case "$f" in *.list | *.sources) [ -f "$f" ] && files+=("$f") ;; esac
  done
  [ "${#files[@]}" -gt 0 ] || return 0
  awk '
    function debian_suite(s) {
      if (s ~ /security/) return 0
      sub(/-(updates|backports|backports-sloppy|proposed-updates)$/, "", s)
      return s ~ /^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|oldstable|oldoldstable)$/
    }
    function usable_uri(u) {
      return u ~ /^(https?|ftp):\/\/[^ ]+$/ || u ~ /^file:\/[^ ]*$/
    }
    function has_word(list, w,   n, i, a) {
      n = split(list, a, /[ \t]+/)
      for (i = 1; i <= n; i++) if (a[i] == w) return 1
      return 0
    }
    function pick(uri) {
      if (uri in seen) return
      seen[uri] = 1
      if (found == "" && usable_uri(uri) && uri !~ /security/) found = uri
    }
    # A deb822 paragraph: every URI of it when it is a Debian deb entry with main.
    function flush(   n, i, a, ok) {
      if (p_uris != "" && has_word(p_types, "deb") && has_word(p_components, "main") && tolower(p_enabled) != "no") {
        ok = 0
        n = split(p_suites, a, /[ \t]+/)
        for (i = 1; i <= n; i++) if (a[i] != "" && debian_suite(a[i])) ok = 1
        if (ok) { n = split(p_uris, a, /[ \t]+/); for (i = 1; i <= n; i++) if (a[i] != "") pick(a[i]) }
      }
      p_types = p_uris = p_suites = p_components = p_enabled = ""
    }
    FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
    {
      line = $0
      sub(/#.*/, "", line)
      gsub(/\r/, "", line)
    }
    deb822 {
      if ($0 ~ /^[ \t]*#/) next  # a comment line does not end a paragraph
      if (line ~ /^[ \t]*$/) { flush(); next }
      if (line ~ /^[ \t]/) next  # a continuation line: not used by the keys read here
      key = tolower(line); sub(/:.*/, "", key)
      value = line; sub(/^[^:]*:[ \t]*/, "", value); sub(/[ \t]+$/, "", value)
      if (key == "types") p_types = value
      else if (key == "uris") p_uris = value
      else if (key == "suites") p_suites = value
      else if (key == "components") p_components = value
      else if (key == "enabled") p_enabled = value
      next
    }
    {
      n = split(line, w, /[ \t]+/)
      i = 1
      if (w[i] == "") i++
      if (w[i] != "deb") next
      i++
      if (w[i] ~ /^\[/) { while (i <= n && w[i] !~ /\]$/) i++; i++ }  # [ options ]
      uri = w[i]; suite = w[i + 1]
      main = 0
      for (j = i + 2; j <= n; j++) if (w[j] == "main") main = 1
      if (main && debian_suite(suite)) pick(uri)
    }
    END { flush(); if (found != "") { sub(/\/+$/, "", found); print found } }
  ' "${files[@]}"
}

# Sourced (tests of the function above): define, do not run.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then return 0; fi

SUITE="${GRACEFUL_E2E_DEBIAN_SUITE:-bookworm}"
# The mirror: GRACEFUL_E2E_DEBIAN_MIRROR, else the Debian archive this machine's apt uses (it can
# reach that one), else the public redirector.
if [ -n "${GRACEFUL_E2E_DEBIAN_MIRROR:-}" ]; then
  MIRROR="$GRACEFUL_E2E_DEBIAN_MIRROR" MIRROR_FROM="GRACEFUL_E2E_DEBIAN_MIRROR"
elif MIRROR=$(apt_debian_mirror /etc/apt) && [ -n "$MIRROR" ]; then
  MIRROR_FROM="this machine's apt sources"
else
  MIRROR="$DEFAULT_MIRROR" MIRROR_FROM="the default"
fi
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

log "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR ($MIRROR_FROM); this takes a few minutes once"
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
