#!/usr/bin/env bash
# bench/gpu.sh: the benchmark on `webgpu` (our WGSL kernels on Dawn/Vulkan) and the same network in PyTorch + CUDA
# on the same NVIDIA GPU, in one run, printing both (bench/run.mjs pairs the rows: `torch.comparison`, ratio =
# ours / PyTorch wall time).
#
# The GPU machine has PyTorch with CUDA but no Node and no Vulkan loader, so this runs in two steps:
#
#   bench/gpu.sh prepare          on the development machine (Node, built checkout: npm run build). Fills .gpu/
#                                 (git-ignored through .git/info/exclude, ~45 MiB): node.xz (this Node binary,
#                                 xz-compressed), bench/ (rolldown bundle of the benchmark and every package),
#                                 node_modules/webgpu (Dawn's dawn.node for linux-x64 only), gl/*.deb (libvulkan1).
#   bench/gpu.sh run [args]       on the GPU machine, in the repo root, with .gpu/ carried (device tool: carry
#                                 [".gpu"], command `bash bench/gpu.sh run`). Unpacks the Vulkan loader, uses
#                                 NVIDIA's Vulkan ICD, runs `--backend webgpu` + PyTorch on cuda, writes
#                                 $OUT/bench-gpu.json (or ./bench-gpu.json) and prints a summary. Extra args go to
#                                 bench/run.mjs (e.g. --quick, --cases conv3d-32x32-3x3x3,device-hippocampus).
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpu

prepare() {
  command -v node >/dev/null || { echo "gpu.sh prepare: needs node (the development machine)"; exit 1; }
  [ -f packages/backend-webgpu/dist/index.js ] || { echo "gpu.sh prepare: run npm run build first"; exit 1; }
  local exclude; exclude=$(git rev-parse --git-path info/exclude)
  grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >>"$exclude"
  rm -rf "$G" && mkdir -p "$G/gl" "$G/node_modules/webgpu/dist/linux-x64"
  node bench/gpu-bundle.mjs "$G/bench"
  local wg; wg=$(node -p "require('path').dirname(require.resolve('webgpu/package.json', {paths: ['packages/backend-webgpu']}))")
  cp "$wg/package.json" "$wg/index.js" "$G/node_modules/webgpu/"
  cp "$wg/dist/linux-x64/dawn.node" "$G/node_modules/webgpu/dist/linux-x64/"
  xz -T0 -6 -c "$(command -v node)" >"$G/node.xz"
  # the Vulkan loader for the GPU machine (its image has the NVIDIA driver's ICD but no libvulkan.so.1)
  local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update >/dev/null && (cd "$G/gl" && apt-get $o download libvulkan1 >/dev/null)
  du -sh "$G"; du -sh "$G"/* | sort -h
}

run() {
  [ -d "$G/bench" ] || { echo "gpu.sh run: $G/ missing; run 'bench/gpu.sh prepare' on the development machine and carry .gpu"; exit 1; }
  for f in "$G"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  local node="$G/node"
  [ -x "$node" ] || { xz -dc "$G/node.xz" >"$node" && chmod +x "$node"; }
  if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
      if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; break; fi
    done
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "warning: nvidia-smi failed"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' || true
  export NNUNET_BENCH_TORCH_DEVICE=cuda NNUNET_BENCH_PYTHON="${NNUNET_BENCH_PYTHON:-python3}"
  export NNUNET_BENCH_EXAMPLE="$PWD/examples/Task04_Hippocampus_subset" NNUNET_BENCH_TORCH_SCRIPT="$PWD/bench/torch_hippocampus.py"
  local out="${OUT:-.}/bench-gpu.json"
  "$node" "$G/bench/gpu-entry.mjs" --backend webgpu --out "$out" "$@" >/dev/null
  "$node" -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`ours: ${r.backendDescription}`);
    console.log(`pytorch: ${r.torch?.torch ?? "-"} on ${r.torch?.gpu ?? r.torch?.device ?? r.torch?.skipped ?? r.torch?.error}`);
    for (const c of r.cases) if (c.seconds !== undefined || c.gflops) console.log(`  ours  ${c.case}${c.batch ? " b" + c.batch : ""}: ${c.gflops ? c.gflops.fwdBwd + " GFLOP/s" : c.seconds + " s"}`);
    for (const c of r.cases) if (c.error) console.log(`  ours  ${c.case}: ERROR ${c.error.split("\n")[0]}`);
    for (const c of r.torch?.comparison ?? []) console.log(`  both  ${c.case}${c.batch ? " b" + c.batch : ""}: ours ${c.ours} vs pytorch ${c.pytorch} (${c.unit ?? "s"}), ratio ${c.ratio}`);
  ' "$out"
}

case "${1:-run}" in
  prepare) prepare ;;
  run) shift || true; run "$@" ;;
  *) echo "usage: bench/gpu.sh prepare | run [bench args]"; exit 2 ;;
esac
