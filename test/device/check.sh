#!/usr/bin/env bash
# The GPU device check. Runs on the GPU machine from the repo root, with .device/ (test/device/prepare.sh, run
# beforehand on a development machine) carried beside the working tree. Needs bash, coreutils' timeout, and
# xz or python3; uses `node` when it is >= 20 (unless BUNDLED_NODE=1), else unpacks .device/node.xz. Stages, each time-boxed so the
# whole check ends within ~7 minutes even if something hangs:
#   device       the CUDA driver and device through the runtime's koffi bindings (runtime/cuda/driver.ts)
#   conformance  `conformance --backend cuda` on ONNX node/ and pytorch-converted/ (worker processes, a
#                per-case timeout, expected failures from test/expected-failures/{ptx,cuda}.txt)
#   models       the real npm models against onnxruntime-node's outputs computed by prepare.sh (rtol 1e-3, atol 1e-5)
#   matmul       MatMul 4096³ f16/bf16 ONNX models compiled for cuda, run through the Session (tensor-core template)
#   gemm_bench   python3 test/device/gemm_bench.py, when it exists
# Writes check.log, summary.json and each stage's log/JSON under $OUT (default .tmp/device-out). Exit 0 only
# when every stage passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/.tmp/device-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DEV=.device
T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-device.XXXXXX")
# Budgets in seconds (sum < 420). A stage's own deadline sits inside its `timeout`, so it reports before it is killed.
: "${UNPACK_S:=45}" "${DEVICE_S:=30}" "${CONF_S:=190}" "${MODELS_S:=100}" "${MATMUL_S:=60}" "${GEMM_S:=50}" "${CASE_TIMEOUT_S:=45}"
STAGES="$OUT/stages.tsv"
: > "$STAGES"
status=0

# stage NAME SECONDS LOG CMD...: runs CMD under timeout (SIGTERM, then SIGKILL 5 s later) with its output in
# LOG ('-': the console), and records its exit code and duration.
stage() {
  local name=$1 secs=$2 log=$3; shift 3
  local s; s=$(date +%s)
  local cmd="$*"
  [ ${#cmd} -le 240 ] || cmd="${cmd:0:240}…"
  echo "== $name (at most ${secs} s): $cmd"
  if [ "$log" = - ]; then timeout -k 5 "$secs" "$@"; else timeout -k 5 "$secs" "$@" > "$log" 2>&1; fi
  local rc=$?
  [ $rc = 124 ] || [ $rc = 137 ] && echo "== $name: TIMED OUT after ${secs} s"
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - s ))" >> "$STAGES"
  echo "== $name: exit $rc after $(( $(date +%s) - s )) s"
  [ $rc = 0 ] || status=1
  return $rc
}
skip() { printf '%s\tskipped\t0\t%s\n' "$1" "$2" >> "$STAGES"; echo "== $1: SKIPPED: $2"; status=1; }

unxz_to() { # FILE.xz DEST
  if command -v xz > /dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
untar_xz() { # FILE.tar.xz DIR
  if command -v xz > /dev/null; then tar -xJf "$1" -C "$2"
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"; fi
}
export -f unxz_to untar_xz

unpack() {
  for f in runner.tar.xz node.xz onnx-data.tar.xz models.tar.xz; do
    [ -f "$DEV/$f" ] || { echo "missing $DEV/$f: run 'bash test/device/prepare.sh' on a development machine and carry .device"; return 1; }
  done
  mkdir -p "$WORK/runner" "$WORK/data" "$WORK/bin" || return 1
  untar_xz "$DEV/runner.tar.xz" "$WORK/runner" && untar_xz "$DEV/onnx-data.tar.xz" "$WORK/data" && untar_xz "$DEV/models.tar.xz" "$WORK" || return 1
  local major
  major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')
  if [ "${BUNDLED_NODE:-0}" != 1 ] && [ -n "$major" ] && [ "$major" -ge 20 ]; then
    ln -sf "$(command -v node)" "$WORK/bin/node"
  else
    echo "unpacking $DEV/node.xz (node on the PATH: ${major:-none}; BUNDLED_NODE=${BUNDLED_NODE:-0})"
    unxz_to "$DEV/node.xz" "$WORK/bin/node" && chmod +x "$WORK/bin/node" || return 1
  fi
  "$WORK/bin/node" --version
}

# Where libcuda.so.1 is when the dynamic loader does not find it by name (containers put it in odd places).
find_libcuda() {
  local p
  p=$(ldconfig -p 2> /dev/null | awk '/libcuda\.so\.1 .*x86-64/ { print $NF; exit }')
  [ -n "$p" ] || p=$(timeout 15 find /usr/lib /usr/lib64 /usr/local /lib /lib64 /opt -name libcuda.so.1 2> /dev/null | head -n 1)
  echo "$p"
}

main() {
echo "tessera device check: $(date -u +%FT%TZ) on $(hostname) ($(uname -m)); results in $OUT"
command -v nvidia-smi > /dev/null && timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
NODE="$WORK/bin/node"
RUNNER="$WORK/runner/tessera-device.mjs"
if stage unpack "$UNPACK_S" - bash -c "DEV='$DEV' WORK='$WORK'; $(declare -f unpack); unpack"; then
  stage device "$DEVICE_S" "$OUT/device.log" "$NODE" "$RUNNER" info
  if ! grep -q '^{' "$OUT/device.log" && grep -q 'no CUDA driver found' "$OUT/device.log"; then
    lib=$(find_libcuda)
    if [ -n "$lib" ]; then
      echo "== device: the loader did not find libcuda.so.1 by name; retrying with TESSERA_LIBCUDA=$lib"
      export TESSERA_LIBCUDA=$lib
      sed -i '$d' "$STAGES"
      status=0
      stage device "$DEVICE_S" "$OUT/device.log" "$NODE" "$RUNNER" info
    fi
  fi
  if grep -q '^{' "$OUT/device.log"; then
    grep '^{' "$OUT/device.log" > "$OUT/device.json"
    cat "$OUT/device.log"
    # Expected failures on cuda: the PTX backend's (compile-time) list, then run-time-only ones (later lines win).
    for f in test/expected-failures/ptx.txt test/expected-failures/cuda.txt; do [ -f "$f" ] && cat "$f" && echo; done > "$OUT/expected-cuda.txt"
    export TESSERA_CUDA_SYNC=1 # conformance: synchronize after each kernel, so a fault names its kernel
    stage conformance "$CONF_S" "$OUT/conformance.log" "$NODE" "$RUNNER" conformance --backend cuda --expected "$OUT/expected-cuda.txt" \
      --json "$OUT/conformance.json" --case-timeout "$CASE_TIMEOUT_S" --deadline $((CONF_S - 15)) \
      "$WORK/data/node" "$WORK/data/pytorch-converted"
    grep -E '^(FAIL|TIMEOUT|XPASS|NOT_RUN) ' "$OUT/conformance.log" | head -60
    grep -E '^(conformance|[0-9]+ passed)' "$OUT/conformance.log"
    export TESSERA_CUDA_SYNC=0 # models: launches stay asynchronous (the timings are reported)
    stage models "$MODELS_S" "$OUT/models.log" "$NODE" "$RUNNER" models --backend cuda --dir "$WORK/models" \
      --json "$OUT/models.json" --case-timeout $((MODELS_S - 15)) --deadline $((MODELS_S - 10))
    cat "$OUT/models.log"
    stage matmul "$MATMUL_S" "$OUT/matmul.log" "$NODE" "$RUNNER" matmul --json "$OUT/matmul.json"
    cat "$OUT/matmul.log"
  else
    cat "$OUT/device.log"
    skip conformance "no usable CUDA device (see the device stage)"
    skip models "no usable CUDA device (see the device stage)"
    skip matmul "no usable CUDA device (see the device stage)"
  fi
else
  skip device "unpacking .device failed"
  skip conformance "unpacking .device failed"
  skip models "unpacking .device failed"
fi

if [ -f test/device/gemm_bench.py ]; then
  stage gemm_bench "$GEMM_S" "$OUT/gemm_bench.log" python3 test/device/gemm_bench.py
  tail -n 40 "$OUT/gemm_bench.log"
else
  printf 'gemm_bench\tabsent\t0\n' >> "$STAGES"
  echo "== gemm_bench: test/device/gemm_bench.py does not exist"
fi

# summary.json: every stage's exit code and time, plus whatever the stages wrote (python3, else a bare list).
python3 - "$OUT" "$STAGES" "$(( $(date +%s) - T0 ))" "$status" <<'PY' || printf '{"status": %s, "seconds": %s}\n' "$status" "$(( $(date +%s) - T0 ))" > "$OUT/summary.json"
import json, os, sys
out, stages_file, seconds, status = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def load(name):
    try:
        with open(os.path.join(out, name)) as f: return json.load(f)
    except Exception as e: return None
def tail(name, n=20):
    try:
        with open(os.path.join(out, name)) as f: return {'error': ''.join(f.readlines()[-n:])}
    except Exception: return None
stages = []
for line in open(stages_file):
    parts = line.rstrip('\n').split('\t')
    stages.append({'stage': parts[0], 'exit': parts[1], 'seconds': int(parts[2]), **({'why': parts[3]} if len(parts) > 3 else {})})
conf, models, matmul = load('conformance.json'), load('models.json'), load('matmul.json')
summary = {
    'status': 'pass' if status == 0 else 'fail', 'seconds': seconds, 'device': load('device.json') or tail('device.log'), 'stages': stages,
    'conformance': conf and {'summary': conf['summary'], 'seconds': conf.get('seconds'),
                             'not_passing': [r for r in conf['results'] if r['status'] not in ('PASS', 'XFAIL')]},
    'models': models and {'summary': models['summary'], 'results': models['results']},
    'matmul': matmul,
}
with open(os.path.join(out, 'summary.json'), 'w') as f: json.dump(summary, f, indent=1)
PY
echo "== summary: $OUT/summary.json"
cat "$STAGES"
rm -rf "$WORK"
# The device tool brings back at most 8 files: with PACK_OUT=1 every stage's log and JSON travel in one archive
# beside check.log and summary.json.
if [ "${PACK_OUT:-0}" = 1 ]; then
  (cd "$OUT" && tar -czf "$WORK.logs.tgz" --exclude=check.log --exclude=summary.json . && mv "$WORK.logs.tgz" logs.tgz \
    && find . -type f ! -name logs.tgz ! -name check.log ! -name summary.json ! -name gemm.json -delete)
fi
echo "== device check $([ $status = 0 ] && echo PASSED || echo FAILED) in $(( $(date +%s) - T0 )) s"
return $status
}

main 2>&1 | tee "$OUT/check.log"
exit "${PIPESTATUS[0]}"
