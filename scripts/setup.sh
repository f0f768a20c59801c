#!/usr/bin/env bash
# Idempotent setup for the local runtime: a reachable Docker engine (installed and started when
# possible), then the sample images (the base image is chosen automatically: the official Node
# image when a registry is reachable, otherwise one built here from Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
bash scripts/ensure-chromium.sh || true
npx --no-install tsx src/cli/bin.ts images build
