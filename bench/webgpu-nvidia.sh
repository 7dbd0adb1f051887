#!/usr/bin/env bash
# Runs the nnunet-ts benchmark on the `webgpu` backend (tfjs-backend-webgpu on Dawn/Vulkan) on a Linux machine with
# an NVIDIA GPU. Not runnable on the CPU-only development machine. What it needs:
#   - NVIDIA driver with Vulkan (nvidia-smi works; `vulkaninfo --summary` lists the GPU; libvulkan1 installed)
#   - Node >= 20.19, a built checkout (npm ci && npm run build)
#   - network access to npm once, to add the optional peers below (they are not installed by default)
# Usage: bench/webgpu-nvidia.sh [extra bench args, e.g. --quick]
set -euo pipefail
cd "$(dirname "$0")/.."

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "warning: nvidia-smi not found"
if command -v vulkaninfo >/dev/null; then vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverVersion|apiVersion' || true; else echo "warning: vulkaninfo not found (apt install vulkan-tools)"; fi

# Optional peers of @nnunet-ts/backend-tfjs: the Dawn build for Node and tfjs's WebGPU backend (same tfjs version).
if ! node -e "require.resolve('webgpu'); require.resolve('@tensorflow/tfjs-backend-webgpu')" 2>/dev/null; then
  npm install --no-save --no-audit --no-fund webgpu @tensorflow/tfjs-backend-webgpu@4.22.0
fi
[ -d packages/core/dist ] || npm run build

# Dawn picks Vulkan on Linux; prefer the discrete GPU. The bench prints the adapter in its backend description and
# fails loudly (PluginError listing backends) if `webgpu` is not available (no adapter, or missing Conv3D kernels).
export DAWN_BACKEND=vulkan
node bench/run.mjs --backend webgpu "$@" | tee "bench-webgpu-$(hostname)-$(date +%Y%m%d-%H%M).json"
