#!/usr/bin/env bash
# Benchmarks (not part of the test command). Each prints ratios against its peer measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# WebGPU in Node: dawn.node over SwiftShader (unpacked by setup into .data/swiftshader).
source scripts/webgpu-env.sh
for b in test/bench/*.bench.ts; do
  echo "== $b"
  node --import tsx "$b"
done
