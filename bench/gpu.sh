#!/usr/bin/env bash
# bench/gpu.sh: everything issue 10 wants measured on an NVIDIA GPU, in one prepared run that needs nothing from the
# internet: the device contract suite on `webgpu` (our WGSL kernels on Dawn + NVIDIA's Vulkan driver), the
# benchmark on `webgpu` with the same network in PyTorch + CUDA on the same GPU (bench/run.mjs pairs the rows:
# `torch.comparison`, ratio = ours / PyTorch wall time), and the benchmark on `cpu-native` on the machine's cores.
#
# The GPU machine has PyTorch with CUDA but no Node, no node_modules and no Vulkan loader, so this runs in two steps:
#
#   bench/gpu.sh prepare        on the development machine (Node, built checkout: npm run build; apt-get for the
#                               loader). Fills .gpu/ (git-ignored through .git/info/exclude, ~35 MiB): node.xz (this
#                               Node binary), bench/ (rolldown bundle of the benchmark and of the contract runner,
#                               every workspace package inside), node_modules/webgpu (Dawn's dawn.node, linux-x64),
#                               node_modules/tsyringe (core loads it with require at run time), build/Release/
#                               nnunet_cpu.node (cpu-native's addon, runtime ISA dispatch), gl/libvulkan1*.deb.
#   bench/gpu.sh run [opts]     on the GPU machine, in the repo root, with .gpu carried (device tool: carry [".gpu"],
#                               command `bash bench/gpu.sh run`; 10-minute limit per command: the steps have their
#                               own timeouts, about 8 minutes in all). Unpacks the Vulkan loader, uses NVIDIA's Vulkan
#                               ICD, then runs the three steps and writes under $OUT (or ./gpu-out):
#                                 contract-webgpu.json   the contract suite, one row per test
#                                 bench-webgpu.json      the benchmark on webgpu + PyTorch on cuda
#                                 bench-cpu-native.json  the benchmark on cpu-native (no PyTorch)
#                                 summary.json, gpu.log  what was printed, exit codes and seconds per step
#                               Options: --swiftshader (test this script's logic here: SwiftShader instead of the
#                               NVIDIA driver, nothing unpacked, quick bench subset, no PyTorch), --quick (skip the
#                               batch-9 step), --skip contract|webgpu|cpu (repeatable).
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpu

prepare() {
  command -v node >/dev/null || { echo "gpu.sh prepare: needs node (the development machine)"; exit 1; }
  [ -f packages/backend-webgpu/dist/index.js ] || { echo "gpu.sh prepare: run npm run build first"; exit 1; }
  local addon=packages/backend-cpu/build/Release/nnunet_cpu.node
  [ -f "$addon" ] || { echo "gpu.sh prepare: $addon missing (npm run build in packages/backend-cpu)"; exit 1; }
  local exclude; exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >>"$exclude"
  # the compressed Node binary and the loader package are kept from an earlier prepare when they match
  local keep; keep=$(mktemp -d)
  [ -f "$G/node.xz" ] && [ "$(cat "$G/node.version" 2>/dev/null)" = "$(node --version)" ] && mv "$G/node.xz" "$G/node.version" "$keep/"
  [ -d "$G/gl" ] && ls "$G"/gl/*.deb >/dev/null 2>&1 && mv "$G/gl" "$keep/"
  rm -rf "$G" && mkdir -p "$G/node_modules/webgpu/dist/linux-x64" "$G/build/Release"
  mv "$keep"/* "$G/" 2>/dev/null || true
  mkdir -p "$G/gl"
  node bench/gpu-bundle.mjs "$G/bench"
  local wg; wg=$(node -p "require('path').dirname(require.resolve('webgpu/package.json', {paths: ['packages/backend-webgpu']}))")
  cp "$wg/package.json" "$wg/index.js" "$G/node_modules/webgpu/"
  xz -T0 -6 -c "$wg/dist/linux-x64/dawn.node" >"$G/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
  local ts; ts=$(node -p "require('path').dirname(require.resolve('tsyringe/package.json', {paths: ['packages/core']}))")
  cp -r "$ts" "$G/node_modules/tsyringe"
  cp "$addon" "$G/build/Release/"
  [ -f "$G/node.xz" ] || { xz -T0 -6 -c "$(command -v node)" >"$G/node.xz" && node --version >"$G/node.version"; }
  # the Vulkan loader for the GPU machine (its image has the NVIDIA driver's ICD but no libvulkan.so.1)
  local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  # shellcheck disable=SC2086
  ls "$G"/gl/*.deb >/dev/null 2>&1 || { apt-get $o update >/dev/null && (cd "$G/gl" && apt-get $o download libvulkan1 >/dev/null); }
  du -sh "$G"; du -sh "$G"/* | sort -h
  echo "carry [\".gpu\"] and run: bash bench/gpu.sh run   (check here first: bash bench/gpu.sh run --swiftshader)"
}

# step NAME SECONDS CMD...: runs CMD with a timeout, its stdout to $OUT/NAME.stdout (dropped when it wrote JSON),
# stderr to the log; records the exit code and seconds in $STEPS.
step() {
  local name=$1 limit=$(($2 * LIMIT_SCALE)); shift 2
  local t0=$SECONDS rc=0
  echo "== $name (limit ${limit}s): $*" | tee -a "$LOG"
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >"$OUTDIR/$name.stdout" 2> >(tee -a "$LOG" >&2) || rc=$?
  [ -s "$OUTDIR/$name.json" ] && rm -f "$OUTDIR/$name.stdout"
  STEPS+=("{\"step\":\"$name\",\"rc\":$rc,\"seconds\":$((SECONDS - t0))}")
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$LOG"
}

run() {
  local software=0 quick=() skip=" "
  while [ $# -gt 0 ]; do
    case "$1" in
      --swiftshader) software=1 ;;
      --quick) quick=(--quick) ;;
      --skip) skip+="$2 "; shift ;;
      *) echo "gpu.sh run: unknown option $1"; exit 2 ;;
    esac
    shift
  done
  [ -d "$G/bench" ] || { echo "gpu.sh run: $G/ missing; run 'bench/gpu.sh prepare' on the development machine and carry .gpu"; exit 1; }
  OUTDIR="${OUT:-$PWD/gpu-out}"; mkdir -p "$OUTDIR"; LOG="$OUTDIR/gpu.log"; : >"$LOG"; STEPS=()
  local node="$G/node" dawn="$G/node_modules/webgpu/dist/linux-x64/dawn.node"
  [ -x "$node" ] || { xz -dc "$G/node.xz" >"$node.tmp" && chmod +x "$node.tmp" && mv "$node.tmp" "$node"; }
  [ -f "$dawn" ] || { xz -dc "$dawn.xz" >"$dawn.tmp" && mv "$dawn.tmp" "$dawn"; }
  local contract=(--software never) bench=(--backend webgpu) torch=()
  LIMIT_SCALE=1
  if [ $software = 1 ]; then
    LIMIT_SCALE=6 # SwiftShader runs every shader on the CPU (a shared 2-core machine here)
    local icd=${NNUNET_SWIFTSHADER_ICD:-/usr/lib/chromium/vk_swiftshader_icd.json}
    export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
    contract=(--software only) quick=(--quick) torch=(--no-torch)
    bench+=(--cases conv3d-32x32-3x3x3,device-hippocampus)
  else
    if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
      for f in "$G"/gl/*.deb; do dpkg -x "$f" /; done
      ldconfig
    fi
    if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
      for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
        if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; break; fi
      done
    fi
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$LOG" || true
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tee -a "$LOG" || true
    export NNUNET_BENCH_TORCH_DEVICE=cuda NNUNET_BENCH_PYTHON="${NNUNET_BENCH_PYTHON:-python3}"
  fi
  echo "node $("$node" --version), VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}" | tee -a "$LOG"
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
  export NNUNET_BENCH_EXAMPLE="$PWD/examples/Task04_Hippocampus_subset" NNUNET_BENCH_TORCH_SCRIPT="$PWD/bench/torch_hippocampus.py"
  [[ $skip == *" contract "* ]] || step contract-webgpu 150 "$node" "$G/bench/contract.mjs" "${contract[@]}" --out "$OUTDIR/contract-webgpu.json"
  [[ $skip == *" webgpu "* ]] || step bench-webgpu 240 "$node" "$G/bench/gpu-entry.mjs" "${bench[@]}" "${quick[@]}" "${torch[@]}" --out "$OUTDIR/bench-webgpu.json"
  [[ $skip == *" cpu "* ]] || step bench-cpu-native 150 "$node" "$G/bench/gpu-entry.mjs" --backend cpu-native --cases conv3d-32x32-3x3x3,device-hippocampus "${quick[@]}" --no-torch --out "$OUTDIR/bench-cpu-native.json"
  local IFS=,
  echo "{\"swiftshader\":$software,\"steps\":[${STEPS[*]}]}" >"$OUTDIR/summary.json"
  "$node" bench/gpu-summary.mjs "$OUTDIR" | tee -a "$LOG"
}

case "${1:-run}" in
  prepare) prepare ;;
  run) shift || true; run "$@" ;;
  *) echo "usage: bench/gpu.sh prepare | run [--swiftshader] [--quick] [--skip contract|webgpu|cpu]"; exit 2 ;;
esac
