#!/usr/bin/env node
// Same training on two device backends: the Hippocampus 3d_fullres plan (bench/hippocampus.mjs), the network built
// from the same seed on each (bench/device-unet.mjs), the same batches (uniform(-1, 1) images from a per-iteration
// seed, the bench's ellipsoid labels), `--iterations` steps of nnU-Net's train_step at `--batch`. Prints the two loss
// curves, the relative difference per iteration and the seconds per iteration; exits 1 when any relative
// difference reaches `--tol` (default 1e-3, issue 10's done-when for webgpu vs cpu-native).
// Usage: node bench/compare-devices.mjs [--a cpu-native] [--b webgpu] [--iterations 20] [--batch 2] [--out f.json]
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { rand, round } from './lib.mjs';
import { hippocampusPlan, labels } from './hippocampus.mjs';
import { buildDeviceUNet, trainStep } from './device-unet.mjs';

const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const [nameA, nameB] = [opt('--a', 'cpu-native'), opt('--b', 'webgpu')];
const iterations = Number(opt('--iterations', 20));
const batch = Number(opt('--batch', 2));
const tol = Number(opt('--tol', 1e-3));
const log = (s) => process.stderr.write(`[compare] ${s}\n`);

const core = await import('@nnunet-ts/core');
const registry = new core.Registry();
for (const spec of ['@nnunet-ts/backend-cpu', '@nnunet-ts/backend-tfjs', '@nnunet-ts/backend-webgpu']) (await import(spec)).registerDefaults(registry);
const p = await hippocampusPlan();
const patch = p.cfg.patch_size;
const seg = labels(batch, patch);

async function curve(name) {
  const dev = await core.selectDevice(registry, name, log);
  const net = buildDeviceUNet(dev, p.arch, 1, p.numClasses, 0);
  const losses = [];
  const seconds = [];
  for (let it = 0; it < iterations; it++) {
    const t = performance.now();
    const x = rand(batch * patch.reduce((a, b) => a * b, 1), 1000 + it);
    losses.push(await trainStep(net, x, [batch, 1, ...patch], seg.data, seg.shape, { batchDice: p.cfg.batch_dice ?? true }));
    seconds.push(round((performance.now() - t) / 1000, 3));
    log(`${name} iteration ${it}: loss ${losses.at(-1)} (${seconds.at(-1)} s)`);
  }
  const description = dev.info.description;
  dev.destroy?.();
  return { name, description, losses, seconds };
}

const loadStart = os.loadavg().map((v) => round(v, 2));
const a = await curve(nameA);
const b = await curve(nameB);
const rel = a.losses.map((v, i) => Math.abs(v - b.losses[i]) / Math.max(Math.abs(v), 1e-12));
const result = {
  plan: { configuration: '3d_fullres', patch, batch, iterations, batchDice: p.cfg.batch_dice ?? true },
  a, b, relativeDifference: rel.map((v) => +v.toExponential(2)), maxRelativeDifference: +Math.max(...rel).toExponential(2), tol,
  pass: rel.every((v) => v < tol),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgStart: loadStart, loadavgEnd: os.loadavg().map((v) => round(v, 2)) },
};
const json = JSON.stringify(result, null, 2);
const out = opt('--out');
if (out) writeFileSync(out, json + '\n');
process.stdout.write(json + '\n');
log(`max relative difference ${result.maxRelativeDifference} (tolerance ${tol}): ${result.pass ? 'PASS' : 'FAIL'}`);
process.exit(result.pass ? 0 : 1);
