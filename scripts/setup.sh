#!/usr/bin/env bash
# Idempotent setup for the local runtime: a reachable Docker engine (installed and started when
# possible), then the sample images (the base image is chosen automatically: the official Node
# image when a registry is reachable, otherwise one built here from Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-docker.sh
bash scripts/ensure-chromium.sh || true
# Every style in IMAGE_STYLES (src/scenario/schema.ts): the entrypoint styles and the server images
# (nginx, apache2, gunicorn, uvicorn, go... from Debian packages on the same base; the Go toolchain
# only in a build stage). Cached by content hash: ~1 min the first time, seconds afterwards.
npx --no-install tsx src/cli/bin.ts images build
