// Batch-stream audit (the Dice question of issue 9): draws a fold's whole training schedule of batches (epochs x
// iterations, plus the validation batches) three ways and compares them:
//   new-local  : this checkout's trainer, batches made on the training thread (dataWorkers 0),
//   new-worker : the same through the data-loading workers (dataWorkers 1): must be byte-identical to new-local,
//   old        : an older checkout's trainer (its setupTraining, PatchLoader, augmentation and separate loader /
//                augmentation / validation generators, as its trainFold drew them; default 79a9769).
// Reported per stream, with standard errors: case-selection counts (chi-square against uniform with replacement),
// forced-foreground positions and foreground fractions before and after augmentation, per-class voxel fractions,
// per-transform application rates and parameter distributions, batch intensity mean/std, duplicate samples, and
// the per-batch generators' seeds (duplicates and overlapping mulberry32 sequences).
// Usage: node bench/batch-stats.mjs <nnUNet_preprocessed folder> <old checkout (built)> [seed=12345] [epochs=16]
//        [iterations=30] [valIterations=2]   -> one JSON object on stdout; nothing is written.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as core from '@nnunet-ts/core';
import * as cpu from '@nnunet-ts/backend-cpu';
import * as loss from '@nnunet-ts/loss';
import * as aug from '@nnunet-ts/augment';
import * as u3 from '@nnunet-ts/net-unet3d';
import { setupTraining as newSetup } from '../packages/core/dist/training/trainer-setup.js';

const [pp, oldRoot, seedArg = '12345', epochsArg = '16', itersArg = '30', valArg = '2'] = process.argv.slice(2);
const seed = Number(seedArg);
const [E, I, V] = [Number(epochsArg), Number(itersArg), Number(valArg)];
const imp = (pkg, file = 'dist/index.js') => import(join(oldRoot, 'packages', pkg, file));
const [oc, ocpu, oloss, oaug, ou3, oSetupMod] = await Promise.all([imp('core'), imp('backend-cpu'), imp('loss'), imp('augment'), imp('net-unet3d'), imp('core', 'dist/training/trainer-setup.js')]);

const plans = JSON.parse(readFileSync(join(pp, 'nnUNetPlans.json'), 'utf8'));
const dataset = JSON.parse(readFileSync(join(pp, 'dataset.json'), 'utf8'));
const splits = JSON.parse(readFileSync(join(pp, 'splits_final.json'), 'utf8'));
const base = { plans, configuration: '3d_fullres', dataset, preprocessedDir: join(pp, '3d_fullres'), splits, fold: 0, outputDir: '/nonexistent', epochs: E, iterationsPerEpoch: I, validationIterations: V, settings: { seed } };

const newReg = new core.Registry();
for (const m of [cpu, loss, aug, u3]) m.registerDefaults(newReg);
const oldReg = new oc.Registry();
for (const m of [ocpu, oloss, oaug, ou3]) m.registerDefaults(oldReg);
const device = await newReg.get('backend', 'cpu-js').createDevice();
const source = await core.defaultCaseSource(base.preprocessedDir);
const local = await newSetup({ ...base, registry: newReg, device, dataWorkers: 0 }, source);
const worker = await newSetup({ ...base, registry: newReg, device, dataWorkers: 1 }, source);
const octx = await oSetupMod.setupTraining({ ...base, registry: oldReg, backend: await oldReg.get('backend', 'cpu-js').create() }, await oc.defaultCaseSource(base.preprocessedDir));

// ---------------------------------------------------------------- recording
const hash = (...arrs) => {
  const h = createHash('sha1');
  for (const a of arrs) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex').slice(0, 16);
};
const newStats = () => ({ cases: new Map(), positions: [], transforms: new Map(), batches: [], rawHashes: [], finalHashes: [], val: { cases: new Map(), positions: [], batches: [] } });

/** Summaries of a transform's parameters: named numbers (and flags) per applied sample. */
function paramValues(name, p) {
  if (name === 'SpatialTransform') {
    if (!p.matrix) return null;
    const m = p.matrix;
    const det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
    const s = Math.cbrt(det);
    const rotated = m.some((v, i) => Math.abs(v / s - (i % 4 === 0 ? 1 : 0)) > 1e-9);
    const scaled = Math.abs(s - 1) > 1e-12;
    return { rotated: rotated ? 1 : 0, scaled: scaled ? 1 : 0, ...(scaled ? { scale: s } : {}), ...(rotated ? { rotationCosAngle: ((m[0] + m[4] + m[8]) / s - 1) / 2 } : {}) };
  }
  // 3d: axes of the patch [z, y, x] = 0, 1, 2 (augment's mirror); 2d configurations would shift them by one
  if (name === 'MirrorTransform') return { z: p.axes.includes(0) ? 1 : 0, y: p.axes.includes(1) ? 1 : 0, x: p.axes.includes(2) ? 1 : 0 };
  const out = {};
  const walk = (v, key) => {
    if (typeof v === 'number') out[key] = v;
    else if (Array.isArray(v)) v.forEach((x, i) => x !== null && walk(x, `${key}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== 'seed') walk(x, key ? `${key}.${k}` : k);
  };
  walk(p, '');
  return out;
}

function instrument(transforms, stats) {
  return transforms.map((t, idx) => ({
    ...t,
    getParameters(s, rng) {
      const p = t.getParameters(s, rng);
      const key = `${idx}:${t.name}`;
      let rec = stats.current.transforms.get(key);
      if (!rec) stats.current.transforms.set(key, (rec = { drawn: 0, applied: 0, values: {} }));
      rec.drawn++;
      const v = p === null ? null : paramValues(t.name, p);
      if (v) {
        rec.applied++;
        for (const [k, x] of Object.entries(v)) (rec.values[k] ??= []).push(x);
      }
      return p;
    },
    apply: (s, p) => t.apply(s, p),
  }));
}

function wrapLoader(loader, holder, phase) {
  const next = loader.nextBatch.bind(loader);
  loader.nextBatch = async (rng) => {
    const b = await next(rng);
    const st = phase === 'val' ? holder.current.val : holder.current;
    b.samples.forEach((s, j) => {
      const id = String(s.properties?.case);
      st.cases.set(id, (st.cases.get(id) ?? 0) + 1);
      let fg = 0;
      for (const v of s.seg) if (v > 0) fg++;
      (st.positions[j] ??= { n: 0, forced: 0, rawFg: 0, finalFg: 0, classFrac: [] }).n++;
      st.positions[j].forced += b.forced[j] ? 1 : 0;
      st.positions[j].rawFg += fg > 0 ? 1 : 0;
      if (phase === 'train') holder.current.rawHashes.push(`${id}:${hash(s.image)}`);
    });
    return b;
  };
}

function recordBatch(st, b, phase, K) {
  const [n] = b.x.shape;
  const per = b.seg.length / n;
  const target = phase === 'val' ? st.val : st;
  for (let j = 0; j < n; j++) {
    const seg = b.seg.subarray(j * per, (j + 1) * per);
    const counts = new Array(K).fill(0);
    for (const v of seg) counts[v]++;
    const pos = target.positions[j];
    pos.finalFg += counts.slice(1).some((c) => c > 0) ? 1 : 0;
    pos.classFrac.push(counts.map((c) => c / per));
    if (phase === 'train') st.finalHashes.push(hash(b.x.data.subarray(j * per, (j + 1) * per), seg));
  }
  let s = 0, q = 0;
  for (const v of b.x.data) s += v;
  const m = s / b.x.data.length;
  for (const v of b.x.data) q += (v - m) ** 2;
  target.batches.push({ mean: m, std: Math.sqrt(q / b.x.data.length) });
}

// ---------------------------------------------------------------- drawing
const K = local.numClasses;
const holders = { new: { current: newStats() }, old: { current: newStats() } };
local.transforms.splice(0, local.transforms.length, ...instrument(local.transforms, holders.new));
octx.transforms = instrument(octx.transforms, holders.old);
wrapLoader(local.trainLoader, holders.new, 'train');
wrapLoader(local.valLoader, holders.new, 'val');
wrapLoader(octx.trainLoader, holders.old, 'train');
wrapLoader(octx.valLoader, holders.old, 'val');

const t0 = performance.now();
let mismatches = 0;
let compared = 0;
for (let e = 0; e < E; e++) {
  for (const [phase, n] of [['train', I], ['val', V]]) {
    for (let it = 0; it < n; it++) {
      const r = { phase, epoch: e, iteration: it };
      const next = core.upcomingBatches(r, n, n);
      const a = await local.batches.get(r, next);
      const w = await worker.batches.get(r, next);
      compared++;
      if (hash(a.x.data, a.seg) !== hash(w.x.data, w.seg) || a.x.shape.join() !== w.x.shape.join()) mismatches++;
      recordBatch(holders.new.current, a, phase, K);
      // the old trainer (79a9769 train-fold.ts batchTensors): loader on rngs.train / rngs.val, augmentation on rngs.augment
      const loader = phase === 'train' ? octx.trainLoader : octx.valLoader;
      const { samples } = await loader.nextBatch(phase === 'train' ? octx.rngs.train : octx.rngs.val);
      const ob = oc.assembleBatch(samples.map((s) => (phase === 'train' ? oSetupMod.augmentSample(octx, s) : oSetupMod.validationSample(octx, s))));
      recordBatch(holders.old.current, { x: { data: ob.data, shape: ob.shape }, seg: ob.seg }, phase, K);
    }
  }
}
const seconds = (performance.now() - t0) / 1000;
await local.batches.close();
await worker.batches.close();

// ---------------------------------------------------------------- summaries
const meanSe = (xs) => {
  const n = xs.length;
  if (!n) return { n: 0 };
  const m = xs.reduce((a, v) => a + v, 0) / n;
  const sd = Math.sqrt(xs.reduce((a, v) => a + (v - m) ** 2, 0) / Math.max(1, n - 1));
  return { n, mean: m, sd, se: sd / Math.sqrt(n), min: Math.min(...xs), max: Math.max(...xs) };
};
const rate = (k, n) => ({ k, n, p: k / n, se: Math.sqrt((k / n) * (1 - k / n) / n) });
function caseSummary(cases, ids, draws) {
  const expected = draws / ids.length;
  const chi2 = ids.reduce((a, id) => a + ((cases.get(id) ?? 0) - expected) ** 2 / expected, 0);
  const counts = ids.map((id) => cases.get(id) ?? 0);
  return { draws, cases: ids.length, expectedPerCase: expected, chi2, dof: ids.length - 1, minCount: Math.min(...counts), maxCount: Math.max(...counts), unseen: counts.filter((c) => c === 0).length };
}
function positions(ps) {
  return ps.map((p, j) => ({
    position: j, forced: rate(p.forced, p.n), rawForeground: rate(p.rawFg, p.n), finalForeground: rate(p.finalFg, p.n),
    classVoxelFraction: Array.from({ length: K }, (_, k) => meanSe(p.classFrac.map((f) => f[k]))),
  }));
}
const dupes = (xs) => xs.length - new Set(xs).size;
function summary(st, loaderIds, valIds) {
  const transforms = {};
  for (const [key, r] of st.transforms) {
    transforms[key] = { rate: rate(r.applied, r.drawn), params: Object.fromEntries(Object.entries(r.values).map(([k, v]) => [k, meanSe(v)])) };
  }
  const trainDraws = [...st.cases.values()].reduce((a, v) => a + v, 0);
  const valDraws = [...st.val.cases.values()].reduce((a, v) => a + v, 0);
  return {
    train: {
      caseSelection: caseSummary(st.cases, loaderIds, trainDraws), positions: positions(st.positions), transforms,
      batchIntensity: { mean: meanSe(st.batches.map((b) => b.mean)), std: meanSe(st.batches.map((b) => b.std)) },
      duplicateRawWindows: dupes(st.rawHashes), duplicateFinalSamples: dupes(st.finalHashes),
    },
    val: { caseSelection: caseSummary(st.val.cases, valIds, valDraws), positions: positions(st.val.positions), batchIntensity: { mean: meanSe(st.val.batches.map((b) => b.mean)), std: meanSe(st.val.batches.map((b) => b.std)) } },
  };
}

/** z-scores of new - old for the rates and means that both streams report. */
function zScores(a, b, prefix = '', out = {}) {
  if (a && b && typeof a === 'object') {
    if ('se' in a && 'se' in b && ('p' in a || 'mean' in a)) {
      const va = a.p ?? a.mean, vb = b.p ?? b.mean;
      const se = Math.hypot(a.se, b.se);
      if (se > 0) out[prefix] = (va - vb) / se;
      return out;
    }
    for (const k of Object.keys(a)) if (k in b) zScores(a[k], b[k], prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

/** Per-batch generator seeds of the new stream: duplicates, and pairs whose mulberry32 sequences overlap within `w` draws. */
function seedCheck(w = 4096) {
  const seeds = [];
  for (let e = 0; e < E; e++) {
    for (let it = 0; it < I; it++) seeds.push(core.batchSeed(local.batchSeeds.train, e, it));
    for (let it = 0; it < V; it++) seeds.push(core.batchSeed(local.batchSeeds.val, e, it));
  }
  // mulberry32's state after k draws is seed + k * 0x6d2b79f5 (mod 2^32): two sequences overlap when their seeds
  // differ by a small multiple of that increment. inverse of the (odd) increment mod 2^32:
  const C = 0x6d2b79f5n, M = 1n << 32n;
  let inv = 1n;
  for (let i = 0; i < 5; i++) inv = (inv * (2n - C * inv)) % M;
  inv = ((inv % M) + M) % M;
  let overlaps = 0;
  let closest = Infinity;
  for (let i = 0; i < seeds.length; i++) {
    for (let j = i + 1; j < seeds.length; j++) {
      const k = (((BigInt(seeds[j]) - BigInt(seeds[i])) % M + M) % M * inv) % M;
      const dist = Number(k < M / 2n ? k : M - k);
      closest = Math.min(closest, dist);
      if (dist < w) overlaps++;
    }
  }
  return { batches: seeds.length, duplicateSeeds: seeds.length - new Set(seeds).size, overlappingPairsWithin: w, overlaps, closestOffsetDraws: closest };
}

const ids = { train: local.trainLoader.ids, val: local.valLoader.ids };
const result = {
  seed, epochs: E, iterations: I, validationIterations: V, seconds, uptime: readFileSync('/proc/loadavg', 'utf8').trim(),
  initialPatchSize: { new: local.da.initialPatchSize, old: octx.da.initialPatchSize }, patchSize: { new: local.patchSize, old: octx.patchSize },
  augmentationOptions: { new: { ...local.da }, old: { ...octx.da } },
  workersVsLocal: { batches: compared, byteMismatches: mismatches },
  seedCheck: seedCheck(),
  new: summary(holders.new.current, ids.train, ids.val),
  old: summary(holders.old.current, ids.train, ids.val),
};
result.zNewMinusOld = zScores(result.new, result.old);
result.largestZ = Object.entries(result.zNewMinusOld).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 10);
console.log(JSON.stringify(result, null, 1));
