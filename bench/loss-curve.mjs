// Loss curve of the first training iterations (issue 9 check): trainFold on a preprocessed run folder
// (`nnunet-ts plan` + `preprocess`), one epoch of N iterations at batch B, per-iteration losses as JSON.
// Usage: node bench/loss-curve.mjs <run folder> [iterations=20] [batch=2] [backend=cpu-native] [mode=device|host] < ids
// mode `device`: the plugin's device backend (createDevice); `host`: its host-memory convolutions (create()) inside
// the JavaScript HostDeviceBackend, which is what the trainer before the device contract computed with.
// Run it from two checkouts (before/after a change) on the same run folder and ids to compare the curves.
import { readFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as core from '@nnunet-ts/core';
import * as cpu from '@nnunet-ts/backend-cpu';
import * as loss from '@nnunet-ts/loss';
import * as aug from '@nnunet-ts/augment';
import * as u3 from '@nnunet-ts/net-unet3d';

const [run, iters = '20', batch = '2', backendName = 'cpu-native', mode = 'device'] = process.argv.slice(2);
const pp = join(run, 'nnUNet_preprocessed');
const registry = new core.Registry();
for (const m of [cpu, loss, aug, u3]) m.registerDefaults(registry);
const plans = JSON.parse(readFileSync(join(pp, 'nnUNetPlans.json'), 'utf8'));
const dataset = JSON.parse(readFileSync(join(pp, 'dataset.json'), 'utf8'));
const ids = readFileSync(0, 'utf8').trim().split(/\s+/);
const splits = [{ train: ids.slice(0, Math.floor(ids.length * 0.8)), val: ids.slice(Math.floor(ids.length * 0.8)) }];
const plugin = registry.get('backend', backendName);
const target = mode === 'device' && plugin.createDevice ? { device: await plugin.createDevice() } : { backend: await plugin.create() };
const losses = [];
const t0 = performance.now();
await core.trainFold({
  registry, ...target, plans, configuration: '3d_fullres', dataset, preprocessedDir: join(pp, '3d_fullres'), splits, fold: 0,
  outputDir: mkdtempSync(join(tmpdir(), 'lc-')), epochs: 1, iterationsPerEpoch: Number(iters), validationIterations: 1,
  batchSize: Number(batch), settings: { seed: 12345 }, onProgress: (p) => p.phase === 'train' && losses.push(p.loss),
});
console.log(JSON.stringify({ backend: backendName, mode: 'device' in target ? 'device' : 'host', batch: Number(batch), seconds: (performance.now() - t0) / 1000, losses }));
