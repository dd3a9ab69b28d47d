# Sourced by the README commands: points dawn.node (npm `webgpu`) at SwiftShader from Debian's chromium-common
# (unpacked by fetch-data.sh into .data/swiftshader), unless the caller already chose a Vulkan driver.
_sws="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.data/swiftshader/usr/lib/chromium"
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$_sws/vk_swiftshader_icd.json" ]; then
  export VK_ICD_FILENAMES="$_sws/vk_swiftshader_icd.json"
  # chromium-common carries its own libvulkan.so.1 (the Vulkan loader); Debian's libvulkan1 may be absent.
  export LD_LIBRARY_PATH="$_sws${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/tessera-xdg-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
unset _sws
