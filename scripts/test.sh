#!/usr/bin/env bash
# The whole test suite: type check, vitest (unit, property, real models against onnxruntime-node) and the
# ONNX conformance suites on every backend. Independent parts run in parallel on the machine's cores.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
DATA=.data/onnx/usr/share/libonnx-testdata/data
mkdir -p .tmp/test-logs
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
pids=()
if [ -d "$DATA/node" ]; then
  # The reference suites take seconds; the wasm ones compile every case (minutes): run them one after
  # another in the background while vitest uses the other core.
  for suite in $SUITES; do conformance reference "$suite"; done
  ( for suite in $SUITES; do conformance wasm "$suite"; done ) & pids+=($!)
else
  echo "== conformance SKIPPED: libonnx-testdata is not available (see setup messages above)"
fi

echo "== fuzz regressions (shrunk cases the fuzzer found, rerun on the reference backend)"
node bin/tessera.js conformance test/fuzz-regressions --backend reference --quiet || status=1

echo "== vitest"
npx vitest run --reporter=dot || status=1
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
[ $status = 0 ] && echo "== all test stages passed" || echo "== SOME TEST STAGES FAILED"
exit $status
