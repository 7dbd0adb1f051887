// Resampling benchmark (task: order-3 120x256x256 -> 150x332x332 float32 vs scikit-image).
// Build first: npx tsc -p packages/core/tsconfig.json --outDir /tmp/nnts-core   (or the package build)
// Run: node packages/core/src/preprocessing/bench-resample.mjs [/tmp/nnts-core]
// Prints one JSON line per case; run with --expose-gc to report heap/external memory after a forced GC.
import { cpus, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? join(import.meta.dirname, '../../dist'));
const pre = await import(pathToFileURL(join(root, 'preprocessing/index.js')).href);

function randomVolume(n, seed = 1) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

function run(name, fn, reps = 2) {
  const times = [];
  const cpu = [];
  let out;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    out = fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  // wall time suffers when other processes share the cores; CPU time of this (single-threaded) process does not
  console.log(JSON.stringify({
    bench: name, seconds_best: Math.min(...times), cpu_seconds_best: Math.min(...cpu), seconds: times,
    load_avg_1m: loadavg()[0], node: process.version,
    cpu: cpus()[0]?.model, cores: cpus().length, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  }));
  return out;
}

const shape = [1, 120, 256, 256];
const newShape = [150, 332, 332];
const vol = randomVolume(120 * 256 * 256);
run('data order3 120x256x256->150x332x332', () =>
  pre.resampleData(vol, shape, newShape, { order: 3, orderZ: 0, separateZAxis: null }));
run('data order1 120x256x256->150x332x332', () =>
  pre.resampleData(vol, shape, newShape, { order: 1, orderZ: 0, separateZAxis: null }));
run('data order3 separate-z(axis 0, orderZ 0)', () =>
  pre.resampleData(vol, shape, newShape, { order: 3, orderZ: 0, separateZAxis: 0 }));
const seg = new Int16Array(vol.length);
for (let i = 0; i < seg.length; i++) seg[i] = vol[i] > 0.3 ? 2 : vol[i] > 0 ? 1 : 0;
run('seg order1 one-hot, noise labels (worst case)', () =>
  pre.resampleSeg(seg, shape.slice(1), newShape, { order: 1, orderZ: 0, separateZAxis: null }));
const smooth = new Int16Array(vol.length);
for (let z = 0, i = 0; z < 120; z++) for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++, i++) {
  const r = Math.hypot(z - 60, y - 128, x - 128);
  smooth[i] = r < 20 ? 3 : r < 50 ? 2 : r < 90 ? 1 : 0;
}
run('seg order1 one-hot, nested spheres (typical)', () =>
  pre.resampleSeg(smooth, shape.slice(1), newShape, { order: 1, orderZ: 0, separateZAxis: null }));
