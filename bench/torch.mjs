// PyTorch anchor of the benchmark: when a python3 with torch is found (env NNUNET_BENCH_PYTHON, python3,
// /usr/bin/python3), runs bench/torch_hippocampus.py with the same plan, batch sizes and thread count right after
// our cases (same run, load average recorded for both parts) and pairs its rows with ours: `comparison` rows carry
// both wall and CPU seconds and `ratio` = ours / PyTorch wall time (< 1: we are faster).
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hippocampusPlan } from './hippocampus.mjs';

const SCRIPT = process.env.NNUNET_BENCH_TORCH_SCRIPT ?? join(dirname(fileURLToPath(import.meta.url)), 'torch_hippocampus.py');

function findPython() {
  for (const py of [process.env.NNUNET_BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { py, version: r.stdout.trim() };
  }
  return null;
}

/** Our row that a PyTorch row compares with: the device path when present, else the host-array path. */
function ours(cases, t) {
  const same = cases.filter((c) => c.case === t.case && (t.batch === undefined || c.batch === t.batch) && c.seconds !== undefined);
  return same.find((c) => c.path === 'device') ?? same[0];
}

export async function runTorch(ctx, cases) {
  const found = findPython();
  if (!found) return { skipped: 'no python3 with torch (apt-get install python3-torch, or set NNUNET_BENCH_PYTHON)' };
  const p = await hippocampusPlan();
  const k = p.arch.arch_kwargs;
  const sw = cases.find((c) => c.case === 'sliding-window' && c.shape);
  // the PyTorch cases whose counterparts ran
  const wanted = ['conv3d', 'unet3d-hippocampus', 'sliding-window'].filter((n) => cases.some((c) => c.case?.startsWith(n) && c.seconds !== undefined));
  const cfg = {
    features: k.features_per_stage, strides: k.strides, kernels: k.kernel_sizes, nConv: k.n_conv_per_stage, nConvDecoder: k.n_conv_per_stage_decoder,
    patch: p.cfg.patch_size, numClasses: p.numClasses, batchDice: p.cfg.batch_dice ?? true, batches: ctx.quick ? [2] : [2, 9],
    device: process.env.NNUNET_BENCH_TORCH_DEVICE ?? 'cpu',
    threads: ctx.mainThreads ?? os.availableParallelism(), slidingShape: sw ? sw.shape.slice(1) : null, cases: wanted,
  };
  ctx.log(`PyTorch ${found.version} (${found.py}), ${cfg.threads} threads: ${wanted.join(', ')}`);
  const loadavgAtStart = os.loadavg().map((v) => +v.toFixed(2));
  const r = spawnSync(found.py, [SCRIPT], { input: JSON.stringify(cfg), encoding: 'utf8', maxBuffer: 1 << 24 });
  const loadavgAtEnd = os.loadavg().map((v) => +v.toFixed(2));
  if (r.status !== 0) return { error: (r.stderr || '').split('\n').slice(-5).join('\n'), loadavgAtStart, loadavgAtEnd };
  const res = JSON.parse(r.stdout);
  const comparison = res.rows.map((t) => {
    const o = ours(cases, t);
    if (t.case.startsWith('conv3d')) {
      const oc = cases.find((c) => c.case === t.case && c.backend === ctx.mainBackend);
      return { case: t.case, unit: 'GFLOP/s fwd+bwd', ours: oc?.gflops.fwdBwd, pytorch: t.gflopsFwdBwd, oursPerCpuSecond: oc?.gflopPerCpuSecond, pytorchPerCpuSecond: t.gflopsPerCpuSecond, ratio: oc ? +(t.gflopsFwdBwd / oc.gflops.fwdBwd).toFixed(2) : null };
    }
    return { case: t.case, batch: t.batch, path: o?.path ?? 'host', oursSeconds: o?.seconds, oursCpuSeconds: o?.cpuSeconds, pytorchSeconds: t.seconds, pytorchCpuSeconds: t.cpuSeconds, ratio: o ? +(o.seconds / t.seconds).toFixed(2) : null, cpuRatio: o ? +(o.cpuSeconds / t.cpuSeconds).toFixed(2) : null };
  });
  for (const c of comparison) ctx.log(`vs PyTorch: ${JSON.stringify(c)}`);
  return { version: res.torch, threads: res.threads, python: found.py, loadavgAtStart, loadavgAtEnd, rows: res.rows, comparison };
}
