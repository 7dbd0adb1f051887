// Trainer audit, old vs new (the Dice question of issue 9): the fold's initial weights per layer and one to three
// training steps on the SAME batch and the SAME weights, computed by this checkout's device trainer (`trainStep`,
// cpu-native device) and by an older checkout's host trainer (its own network, loss, targets, clipping and SGD, as
// its trainFold ran them). Everything comes from each checkout's own `setupTraining`, so the settings compared are
// the ones in effect (loss options, deep supervision weights, optimizer, patch, batch, initial patch).
// Usage: node bench/trainer-audit.mjs <nnUNet_preprocessed folder> <old checkout (built)> [seed=12345] [epoch=8] [steps=3]
// Output: one JSON object on stdout. Nothing is written.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@nnunet-ts/core';
import * as cpu from '@nnunet-ts/backend-cpu';
import * as loss from '@nnunet-ts/loss';
import * as aug from '@nnunet-ts/augment';
import * as u3 from '@nnunet-ts/net-unet3d';
import { setupTraining as newSetup } from '../packages/core/dist/training/trainer-setup.js';
import { trainStep } from '../packages/core/dist/training/train-step.js';

const [pp, oldRoot, seedArg = '12345', epochArg = '8', stepsArg = '3'] = process.argv.slice(2);
const seed = Number(seedArg);
const imp = (pkg, file = 'dist/index.js') => import(join(oldRoot, 'packages', pkg, file));
const [oc, ocpu, oloss, oaug, ou3, oSetupMod] = await Promise.all([imp('core'), imp('backend-cpu'), imp('loss'), imp('augment'), imp('net-unet3d'), imp('core', 'dist/training/trainer-setup.js')]);

const plans = JSON.parse(readFileSync(join(pp, 'nnUNetPlans.json'), 'utf8'));
const dataset = JSON.parse(readFileSync(join(pp, 'dataset.json'), 'utf8'));
const splits = JSON.parse(readFileSync(join(pp, 'splits_final.json'), 'utf8'));
const base = { plans, configuration: '3d_fullres', dataset, preprocessedDir: join(pp, '3d_fullres'), splits, fold: 0, outputDir: '/nonexistent', epochs: 16, iterationsPerEpoch: 30, validationIterations: 2, settings: { seed } };

const newReg = new core.Registry();
for (const m of [cpu, loss, aug, u3]) m.registerDefaults(newReg);
const oldReg = new oc.Registry();
for (const m of [ocpu, oloss, oaug, ou3]) m.registerDefaults(oldReg);
const device = await newReg.get('backend', 'cpu-native').createDevice();
const nctx = await newSetup({ ...base, registry: newReg, device, dataWorkers: 0 }, await core.defaultCaseSource(base.preprocessedDir));
const octx = await oSetupMod.setupTraining({ ...base, registry: oldReg, backend: await oldReg.get('backend', 'cpu-native').create() }, await oc.defaultCaseSource(base.preprocessedDir));

// ---- 1. initial weights
await nctx.network.pullParameters();
const stat = (a) => {
  let s = 0, q = 0;
  for (const v of a) s += v;
  const m = s / a.length;
  for (const v of a) q += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(q / a.length) };
};
const expectedStd = (p) => (p.shape.length >= 3 ? Math.sqrt(2 / (1 + 1e-4)) / Math.sqrt(p.shape.slice(1).reduce((x, y) => x * y, 1)) : null);
const layers = nctx.network.parameters.map((p, i) => {
  const o = octx.network.parameters[i];
  let maxAbsDiff = 0;
  for (let k = 0; k < p.value.length; k++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(p.value[k] - o.value[k]));
  const sn = stat(p.value);
  return { name: p.name, shape: p.shape, oldName: o.name, new: sn, old: stat(o.value), expectedStd: expectedStd(p), stdRatio: expectedStd(p) ? sn.std / expectedStd(p) : null, maxAbsDiff };
});

// ---- 2. settings in effect
const settingsOf = (ctx, lossOpts) => ({
  settings: ctx.settings, batchSize: ctx.batchSize, patchSize: ctx.patchSize, initialPatchSize: ctx.da.initialPatchSize, da: ctx.da,
  epochs: ctx.epochs, iterations: ctx.iterations, valIterations: ctx.valIterations, numClasses: ctx.numClasses, ignoreLabel: ctx.ignoreLabel ?? null,
  transforms: ctx.transforms.map((t) => t.name), loss: ctx.loss.name, lossOptions: lossOpts,
  optimizer: { lr: ctx.optimizer.lr, ...(ctx.optimizer.o ?? ctx.optimizer.opts ?? {}) }, trainCases: ctx.trainLoader.ids?.length, valCases: ctx.valLoader?.ids?.length,
});
const settings = { new: settingsOf(nctx, nctx.loss.device), old: settingsOf(octx, null) };

// ---- 3. the same batch through both trainers
const epoch = Number(epochArg);
const lr = core.polyLR(nctx.settings.initialLr, epoch, nctx.epochs, nctx.settings.polyExponent);
const lrOld = oc.polyLR(octx.settings.initialLr, epoch, octx.epochs, octx.settings.polyExponent);
nctx.optimizer.lr = lr;
octx.optimizer.lr = lrOld;
const steps = [];
const before = nctx.network.parameters.map((p) => Float32Array.from(p.value));
for (let s = 0; s < Number(stepsArg); s++) {
  const batch = await core.makeBatch(nctx, { phase: 'train', epoch, iteration: s }, (smp, rng) => core.augmentSample(nctx, smp, rng), (smp) => smp);
  const lNew = await trainStep(nctx.network, nctx.optimizer, nctx.loss, batch, nctx.ignoreLabel, nctx.settings.gradClipNorm);
  // the old trainer's step (79a9769 train-fold.ts trainEpoch), on copies of the batch
  const x = { data: Float32Array.from(batch.x.data), shape: [...batch.x.shape] };
  octx.optimizer.zeroGrad();
  const outputs = octx.network.forward(x, true);
  const targets = outputs.map((out) => oc.downsampleSegTo(Int16Array.from(batch.seg), batch.segShape, out.shape.slice(2)));
  const res = octx.loss.compute({ outputs, targets, ignoreLabel: octx.ignoreLabel });
  octx.network.backward(res.grads);
  const gradNorm = Math.sqrt(octx.network.parameters.reduce((a, p) => a + p.grad.reduce((b, v) => b + v * v, 0), 0));
  oc.clipGradNorm(octx.network.parameters, octx.settings.gradClipNorm);
  octx.optimizer.step();
  steps.push({ step: s, lossNew: lNew, lossOld: res.loss, gradNormOld: gradNorm, dsTargetShapes: targets.map((t) => t.shape), dsWeightsOld: res.grads.map((g) => (g ? 1 : 0)) });
}
await nctx.network.pullParameters();
let worst = { rel: 0, name: '' };
const updates = nctx.network.parameters.map((p, i) => {
  const o = octx.network.parameters[i];
  let dn = 0, dd = 0;
  for (let k = 0; k < p.value.length; k++) {
    const un = p.value[k] - before[i][k];
    const uo = o.value[k] - before[i][k];
    dn += uo * uo;
    dd += (un - uo) ** 2;
  }
  const rel = Math.sqrt(dd) / Math.max(1e-30, Math.sqrt(dn));
  if (rel > worst.rel) worst = { rel, name: p.name };
  return { name: p.name, updateNormOld: Math.sqrt(dn), relDiff: rel };
});
await nctx.batches.close();
console.log(JSON.stringify({ seed, epoch, lr, lrOld, layers, settings, steps, worstUpdate: worst, updates, uptime: readFileSync('/proc/loadavg', 'utf8').trim() }, null, 1));
