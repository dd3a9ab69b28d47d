#!/usr/bin/env bash
# Builds .device/, what the GPU device check (test/device/check.sh) needs beyond the working tree, on this
# machine: the GPU machine has a bare Python and maybe no Node.js, no npm and no network. Everything is
# compressed; check.sh unpacks it there.
#   runner.tar.xz     tessera-device.mjs (test/device/entry.ts with the compiler and runtime, one ESM file;
#                     binaryen stubbed out, onnxruntime-node left out) + node_modules/koffi (linux-x64 only)
#   node.xz           this machine's node binary, stripped (used there when no node >= 20 is on the PATH)
#   onnx-data.tar.xz  the ONNX backend-test suites node/ and pytorch-converted/
#   models.tar.xz     the real npm models, onnxruntime-node's outputs on their seeded inputs, models.json
# Usage: bash test/device/prepare.sh [--skip-model SUBSTRING]...   (prints the sizes; ~50 MiB is the budget)
set -euo pipefail
cd "$(dirname "$0")/../.."
DEV=.device
DATA=.data/onnx/usr/share/libonnx-testdata/data
BUDGET_MIB=50
skip=()
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-model) skip+=(--skip "$2"); shift 2 ;;
    *) echo "usage: $0 [--skip-model SUBSTRING]..." >&2; exit 2 ;;
  esac
done
[ -d node_modules/esbuild ] && [ -d node_modules/koffi ] || { echo "prepare: run 'npm ci' first (esbuild and koffi are needed)" >&2; exit 1; }
[ -d "$DATA/node" ] || { echo "prepare: $DATA is missing: run 'bash scripts/fetch-data.sh' first" >&2; exit 1; }
mkdir -p "$DEV"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/tessera-prepare.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

echo "prepare: bundling test/device/entry.ts"
mkdir -p "$STAGE/runner/node_modules/koffi/build/koffi/linux_x64"
node_modules/.bin/esbuild test/device/entry.ts --bundle --platform=node --format=esm --target=node20 \
  --external:koffi --external:onnxruntime-node --alias:binaryen=./test/device/binaryen-stub.ts \
  --banner:js="import { createRequire as __tesseraRequire } from 'node:module'; const require = __tesseraRequire(import.meta.url);" \
  --outfile="$STAGE/runner/tessera-device.mjs" --log-level=warning
cp node_modules/koffi/package.json node_modules/koffi/index.js "$STAGE/runner/node_modules/koffi/"
cp node_modules/koffi/build/koffi/linux_x64/koffi.node "$STAGE/runner/node_modules/koffi/build/koffi/linux_x64/"
# The bundle must load and reach the driver check with this node (no GPU here: that check fails cleanly).
out=$(node "$STAGE/runner/tessera-device.mjs" info 2>&1) || true
case "$out" in
  *'no CUDA driver found'*|*'"name"'*) ;;
  *) echo "prepare: the bundle does not run: $out" >&2; exit 1 ;;
esac
tar -C "$STAGE/runner" -cf - . | xz -9 -T0 > "$DEV/runner.tar.xz"

node_bin=$(command -v node)
want="$(node --version) $(uname -m) $(sha1sum "$node_bin" | cut -c1-12)"
if [ ! -f "$DEV/node.xz" ] || [ "$(cat "$DEV/node.stamp" 2>/dev/null)" != "$want" ]; then
  echo "prepare: compressing $node_bin ($(node --version); takes a few minutes once)"
  if command -v strip > /dev/null; then strip -o "$STAGE/node" "$node_bin"; else cp "$node_bin" "$STAGE/node"; fi
  xz -9 -T0 -c "$STAGE/node" > "$DEV/node.xz.tmp"
  mv "$DEV/node.xz.tmp" "$DEV/node.xz"
  echo "$want" > "$DEV/node.stamp"
else
  echo "prepare: node.xz is up to date ($want)"
fi

want=$(find "$DATA/node" "$DATA/pytorch-converted" -type f | wc -l)
if [ ! -f "$DEV/onnx-data.tar.xz" ] || [ "$(cat "$DEV/onnx-data.stamp" 2>/dev/null)" != "$want" ]; then
  echo "prepare: packing the conformance suites node/ and pytorch-converted/"
  tar -C "$DATA" -cf - node pytorch-converted | xz -9 -T0 > "$DEV/onnx-data.tar.xz"
  echo "$want" > "$DEV/onnx-data.stamp"
fi

want=$( (cat test/device/make-expected.ts test/device/spec.ts test/util/real-models.ts; echo "${skip[@]}"; ls -l .data/models/*/package/*/*.onnx) | sha1sum | cut -c1-12)
if [ ! -f "$DEV/models.tar.xz" ] || [ "$(cat "$DEV/models.stamp" 2>/dev/null)" != "$want" ]; then
  echo "prepare: real models and their expected outputs (onnxruntime-node)"
  mkdir -p "$STAGE/models"
  ONNXRUNTIME_NODE_INSTALL=skip npx tsx test/device/make-expected.ts "$STAGE/models" "${skip[@]}"
  node "$STAGE/runner/tessera-device.mjs" check-models "$STAGE/models"
  tar -C "$STAGE" -cf - models | xz -9 -T0 > "$DEV/models.tar.xz"
  echo "$want" > "$DEV/models.stamp"
else
  echo "prepare: models.tar.xz is up to date"
fi

echo "prepare: .device/ ($(date -u +%FT%TZ))"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
total=0
for f in runner.tar.xz node.xz onnx-data.tar.xz models.tar.xz; do
  b=$(stat -c %s "$DEV/$f"); total=$((total + b))
  printf '  %-18s %6s MiB\n' "$f" "$(mib "$b")"
done
printf '  %-18s %6s MiB (budget %d MiB; the working tree travels beside it within 64 MiB)\n' total "$(mib "$total")" "$BUDGET_MIB"
if [ "$total" -gt $((BUDGET_MIB * 1048576)) ]; then
  echo "prepare: .device is over budget: leave out the biggest model with --skip-model 'PP-OCRv4 rec'" >&2
  exit 1
fi
