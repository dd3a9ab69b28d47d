#!/usr/bin/env bash
# The whole test suite: type check, vitest (unit, property, real models against onnxruntime-node) and the
# ONNX conformance suites on every backend. Independent parts run in parallel on the machine's cores.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# WebGPU in Node: dawn.node over SwiftShader (unpacked by setup into .data/swiftshader).
source scripts/webgpu-env.sh
DATA=.data/onnx/usr/share/libonnx-testdata/data
mkdir -p .tmp/test-logs
rm -f .tmp/test-logs/*.rc
status=0

echo "== type check (tsc --noEmit)"
npx tsc --noEmit -p . || status=1

conformance() { # backend suite
  local log=.tmp/test-logs/conformance-$1-$2.log
  node bin/tessera.js conformance "$DATA/$2" --backend "$1" > "$log" 2>&1
  echo $? > "$log.rc"
}
SUITES="node pytorch-converted pytorch-operator simple"
BACKENDS="reference wasm"
# WebGPU runs on dawn.node over SwiftShader (scripts/webgpu-env.sh); without a Vulkan driver it is skipped.
if [ -n "${VK_ICD_FILENAMES:-}" ]; then WEBGPU=webgpu; BACKENDS="$BACKENDS webgpu"
else WEBGPU=; echo "== webgpu SKIPPED: no Vulkan driver for dawn.node (SwiftShader from chromium-common could not be fetched)"; fi
pids=()
if [ -d "$DATA/node" ]; then
  # The reference suites take seconds; the wasm ones compile every case (minutes): run them one after
  # another in the background while vitest uses the other core.
  for suite in $SUITES; do conformance reference "$suite"; done
  ( for backend in wasm $WEBGPU; do for suite in $SUITES; do conformance "$backend" "$suite"; done; done ) & pids+=($!)
  # Every PTX kernel of these suites and of the real models, assembled by ptxas for sm_80 and sm_90 (CUDA's
  # ptxas is on this machine kind; without it the check prints SKIP). Execution needs a GPU: test/device/.
  ( npx tsx scripts/ptx-check.ts --quiet > .tmp/test-logs/ptx-check.log 2>&1; echo $? > .tmp/test-logs/ptx-check.log.rc ) & pids+=($!)
else
  echo "== conformance SKIPPED: libonnx-testdata is not available (see setup messages above)"
fi

echo "== fuzz regressions (shrunk cases the fuzzer found, rerun on the reference backend)"
node bin/tessera.js conformance test/fuzz-regressions --backend reference --quiet || status=1

echo "== vitest"
npx vitest run --reporter=dot || status=1

# Differential fuzzing against the reference interpreter: of the reference itself against onnxruntime, and of
# the compiled backends (the kernel-IR interpreter and wasm, both on every case) against the reference. Each
# gets a bounded budget on a fixed seed (a divergence fails the run: it is reproducible, so it is a
# regression), then a run on one fresh seed, printed so that a finding reproduces with --seed. A fresh-seed
# finding is reported loudly but does not fail the run: it is new knowledge about the code as it already
# was, not something this change broke, and a CI verdict must not depend on a coin toss. Either way the
# shrunk graph and its case folder land in .tmp/fuzz-failures/. The compiled backends' budget keeps their
# part at 1–2 minutes on this 2-core machine (wasm compiles every graph; each process also pays
# ~10 s of start-up, hence one process per seed for both backends).
fuzz() {
  node bin/tessera.js fuzz --backend "$1" --runs "$2" --seed "$3" --out .tmp/fuzz-failures \
    | grep -vE '^  ([0-9]+/[0-9]+ runs|shrinking: )'
  return "${PIPESTATUS[0]}"
}
FUZZ_SEED=$(( (RANDOM << 15) | RANDOM ))
for budget in "onnxruntime 300 300" "kernel,wasm${WEBGPU:+,webgpu} 500 250"; do
  read -r targets fixed fresh <<< "$budget"
  what=$([ "$targets" = onnxruntime ] && echo "reference vs onnxruntime" || echo "$targets vs the reference")
  echo "== fuzz: $what, $fixed runs, fixed seed 1"
  fuzz "$targets" "$fixed" 1 || status=1
  echo "== fuzz: $what, $fresh runs, fresh seed $FUZZ_SEED"
  fuzz "$targets" "$fresh" "$FUZZ_SEED" \
    || echo "!! FRESH-SEED FUZZ FINDING (not failing the run): reproduce with: npx tessera fuzz --backend $targets --runs $fresh --seed $FUZZ_SEED"
done
for p in "${pids[@]}"; do wait "$p"; done

if [ -d "$DATA/node" ]; then
  for backend in $BACKENDS; do
    for suite in $SUITES; do
      log=.tmp/test-logs/conformance-$backend-$suite.log
      echo "== conformance $backend $suite (full log: $log)"
      grep -E '^(FAIL|XPASS|internal)' "$log" | head -50
      tail -n 2 "$log"
      [ "$(cat "$log.rc")" = 0 ] || status=1
    done
  done
fi
if [ -f .tmp/test-logs/ptx-check.log.rc ]; then
  echo "== ptx-check (full log: .tmp/test-logs/ptx-check.log)"
  grep -E '^(FAIL|XPASS|SKIP)' .tmp/test-logs/ptx-check.log | head -50
  tail -n 2 .tmp/test-logs/ptx-check.log
  [ "$(cat .tmp/test-logs/ptx-check.log.rc)" = 0 ] || status=1
fi
[ $status = 0 ] && echo "== all test stages passed" || echo "== SOME TEST STAGES FAILED"
exit $status
