// Per-op profile of one device training step of the real network (net-unet3d's PlainConvUNet, core's trainStep) on
// the main backend's device: wall seconds per contract op (every DeviceBackend method wrapped), CPU seconds of the
// step, and the rest (JavaScript between ops). `node bench/profile-step.mjs [--batch 2] [--reps 3]`
import { cpuUsage } from 'node:process';
import { hippocampusPlan, trainingStep } from './hippocampus.mjs';

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const batch = Number(arg('batch', 2));
const reps = Number(arg('reps', 3));
const p = await hippocampusPlan();
const cpu = await import('@nnunet-ts/backend-cpu');
const dev = await cpu.createCpuNativeDevice();
const stats = new Map();
let proto = Object.getPrototypeOf(dev);
const names = new Set();
while (proto && proto !== Object.prototype) {
  for (const k of Object.getOwnPropertyNames(proto)) if (k !== 'constructor' && typeof dev[k] === 'function') names.add(k);
  proto = Object.getPrototypeOf(proto);
}
let depth = 0;
for (const k of names) {
  const f = dev[k].bind(dev);
  dev[k] = (...a) => {
    if (depth > 0) return f(...a);
    depth++;
    const t = performance.now();
    try {
      return f(...a);
    } finally {
      depth--;
      const s = stats.get(k) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += performance.now() - t;
      stats.set(k, s);
    }
  };
}
let step;
if (process.argv.includes('--harness')) {
  const h = await import('./device-unet.mjs');
  const { rand } = await import('./lib.mjs');
  const { labels } = await import('./hippocampus.mjs');
  const net = h.buildDeviceUNet(dev, p.arch, 1, p.numClasses, 0);
  const patch = p.cfg.patch_size;
  const x = rand(batch * patch.reduce((a, b) => a * b, 1), 5);
  const seg = labels(batch, patch);
  step = () => h.trainStep(net, x, [batch, 1, ...patch], seg.data, seg.shape, { batchDice: p.cfg.batch_dice ?? true });
} else step = (await trainingStep(p, dev, batch)).step;
await step();
stats.clear();
const c0 = cpuUsage();
const t0 = performance.now();
for (let i = 0; i < reps; i++) await step();
const wall = (performance.now() - t0) / reps / 1000;
const c = cpuUsage(c0);
const rows = [...stats].map(([k, s]) => ({ op: k, calls: s.n / reps, ms: +(s.ms / reps).toFixed(1) })).sort((a, b) => b.ms - a.ms);
const inOps = rows.reduce((a, r) => a + r.ms, 0) / 1000;
console.log(JSON.stringify({ harness: process.argv.includes('--harness'), batch, threads: dev.info?.threads, wall: +wall.toFixed(3), cpuSeconds: +((c.user + c.system) / 1e6 / reps).toFixed(3), inOps: +inOps.toFixed(3), rows }, null, 1));
