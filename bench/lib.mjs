// Shared helpers of the benchmark: timing, random data, optional imports of other packages' built dist.
import os from 'node:os';

/** Imports a workspace package's built dist; null (with the reason) when it is not built or lacks exports. */
export async function tryImport(spec, ...names) {
  try {
    // bench/gpu.sh runs a bundled build: the bundle's entry puts the packages in globalThis.__NNUNET_BUNDLED__
    const m = globalThis.__NNUNET_BUNDLED__?.[spec] ?? (await import(spec));
    const missing = names.filter((n) => m[n] === undefined);
    if (missing.length) return { mod: null, why: `${spec} does not export ${missing.join(', ')}` };
    return { mod: m, why: null };
  } catch (e) {
    return { mod: null, why: `${spec} not importable (${String(e.message).split('\n')[0]}); run npm run build` };
  }
}

/** Deterministic uniform(-1, 1) Float32Array. */
export function rand(n, seed = 1) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/**
 * Runs f once to warm up (unless warmup = 0), then `reps` times; returns median and min wall seconds and the mean
 * CPU seconds (user + system, all threads) per run. On a loaded machine wall time overstates the cost; FLOPs per
 * CPU-second shows what the code does with the CPU it gets.
 */
export async function time(f, { reps = 3, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) await f();
  const ts = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await f();
    ts.push((performance.now() - t) / 1000);
  }
  const cu = process.cpuUsage(c0);
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)], min: ts[0], reps, cpu: reps ? (cu.user + cu.system) / 1e6 / reps : 0 };
}

export function machine() {
  return {
    cores: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavgAtStart: os.loadavg().map((v) => +v.toFixed(2)),
  };
}

export const round = (v, d = 2) => (v === null || v === undefined ? v : +v.toFixed(d));

/** Wraps a ComputeBackend so that the time spent in its three kernels is counted (`stats.seconds`, `stats.calls`). */
export function timed(backend) {
  const stats = { seconds: 0, calls: 0 };
  const wrap = (f) => (...a) => {
    const t = performance.now();
    try {
      return f.apply(backend, a);
    } finally {
      stats.seconds += (performance.now() - t) / 1000;
      stats.calls++;
    }
  };
  return {
    stats,
    backend: {
      info: backend.info,
      conv3d: wrap(backend.conv3d),
      conv3dBackwardData: wrap(backend.conv3dBackwardData),
      conv3dBackwardFilter: wrap(backend.conv3dBackwardFilter),
    },
  };
}
