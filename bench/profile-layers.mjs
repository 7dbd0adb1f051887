// Per-layer convolution profile of one device training step of the real network (net-unet3d's PlainConvUNet, core's
// trainStep, `hippocampus.mjs` trainingStep) on cpu-native: every call of the addon's three convolution entry points
// (forward, backwardData, backwardFilter; a transposed convolution's forward is a backwardData call with its
// stride-2 geometry, its data gradient a strided forward) with its geometry, pass, wall ms, CPU ms (both threads,
// process.cpuUsage) and GFLOP/s (2 * n * cOut * outputs * cIn * kernel volume per pass), medians over the reps.
// `node bench/profile-layers.mjs [--batch 2] [--reps 3] [--sort ms|order] [--path auto|direct|im2col|winograd]`
// stdout: one JSON object { batch, threads, loadavg, stepWall, stepCpu, convMs, convCpuMs, layers: [...] }.
import { cpuUsage } from 'node:process';
import { loadavg } from 'node:os';
import { hippocampusPlan, trainingStep } from './hippocampus.mjs';

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const batch = Number(arg('batch', 2));
const reps = Number(arg('reps', 3));
const sort = arg('sort', 'ms');
const p = await hippocampusPlan();
const cpu = await import('@nnunet-ts/backend-cpu');
const dev = await cpu.createCpuNativeDevice();
const addon = dev.addon;
if (!addon) throw new Error('profile-layers: cpu-native device has no addon (not built?)');
if (arg('path')) if (!addon.setPath(arg('path'))) throw new Error(`profile-layers: unknown --path ${arg('path')}`);

let calls = []; // per step: { key, pass, geo, ms, cpuMs }
const passes = { forward: 'fwd', backwardData: 'bwd-data', backwardFilter: 'bwd-filter' };
for (const [fn, pass] of Object.entries(passes)) {
  const f = addon[fn].bind(addon);
  addon[fn] = (...a) => {
    const g = a[fn === 'forward' ? 4 : 3];
    const c0 = cpuUsage();
    const t = performance.now();
    try {
      return f(...a);
    } finally {
      const ms = performance.now() - t;
      const c = cpuUsage(c0);
      calls.push({ pass, g: [...g], ms, cpuMs: (c.user + c.system) / 1000 });
    }
  };
}

function describe(g, pass) {
  const [n, ci, d, h, w, co, kd, kh, kw, sd, sh, sw, pd, ph, pw, od, oh, ow] = g;
  const flop = 2 * n * co * od * oh * ow * ci * kd * kh * kw;
  // a backwardData call with kernel = stride and no padding is a transposed convolution's forward (the decoder)
  const transposed = pass === 'bwd-data' && kd === sd && kh === sh && kw === sw && sd > 1 && pd + ph + pw === 0;
  const name = `${ci}->${co} k${kd}${kh}${kw} s${sd}${sh}${sw} p${pd}${ph}${pw} in ${d}x${h}x${w} out ${od}x${oh}x${ow}`;
  return { name, flop, transposed };
}

const { step } = await trainingStep(p, dev, batch);
await step();
const steps = [];
let wall = 0;
const c0 = cpuUsage();
const load0 = loadavg();
for (let i = 0; i < reps; i++) {
  calls = [];
  const t = performance.now();
  await step();
  wall += performance.now() - t;
  steps.push(calls);
}
const cu = cpuUsage(c0);
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const layers = steps[0].map((c, i) => {
  const { name, flop, transposed } = describe(c.g, c.pass);
  const ms = med(steps.map((s) => s[i].ms));
  const cpuMs = med(steps.map((s) => s[i].cpuMs));
  return {
    order: i,
    pass: transposed ? 'transposed-fwd' : c.pass,
    layer: name,
    ms: +ms.toFixed(2),
    cpuMs: +cpuMs.toFixed(2),
    gflops: +(flop / ms / 1e6).toFixed(1),
    gflopPerCpuS: +(flop / cpuMs / 1e6).toFixed(1),
  };
});
if (sort === 'ms') layers.sort((a, b) => b.ms - a.ms);
const sum = (k) => +layers.reduce((a, l) => a + l[k], 0).toFixed(1);
console.log(
  JSON.stringify(
    {
      batch,
      reps,
      threads: dev.info?.threads,
      device: dev.info?.description,
      loadavgAtStart: load0,
      loadavgAtEnd: loadavg(),
      stepWall: +(wall / reps / 1000).toFixed(3),
      stepCpu: +((cu.user + cu.system) / 1e6 / reps).toFixed(3),
      convMs: sum('ms'),
      convCpuMs: sum('cpuMs'),
      layers,
    },
    null,
    1,
  ),
);
