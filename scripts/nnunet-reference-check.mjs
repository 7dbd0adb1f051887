#!/usr/bin/env node
/**
 * Compare our predictions from nnU-Net's own model folders (shared/models) with nnU-Net's reference outputs, in both
 * sliding-window accumulations (float32, ours; nnunet-fp16, nnU-Net's), and print one JSON report:
 * - per model: single-patch logits max |diff| and sliding-window logits (hippocampus_008, mirroring off and on)
 *   max |diff| and argmax disagreements;
 * - per reference case: segmentation voxels that differ from nnU-Net's .nii.gz, next to the manifest's count of
 *   near-ties (top-2 probability gap below 1e-3 and 1e-2), and the Dice of each label against nnU-Net's.
 * Uses the built packages (npm run build first). Usage:
 *   NNUNET_SHARED=/path/to/shared node scripts/nnunet-reference-check.mjs [--models A,B,C] [--cases N] [--out report.json]
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { forwardHost, loadTrainedModel, predictPreprocessed, readNpy, selectDevice, readModelFolder, loadModel, predictFolder, silentReporter } from '@nnunet-ts/core';
import { createDefaultRegistry } from '@nnunet-ts/cli';

const { values } = parseArgs({ options: { models: { type: 'string', default: 'A,B,C' }, cases: { type: 'string', default: '99' }, out: { type: 'string' } } });
const SHARED = process.env.NNUNET_SHARED ?? resolve('..', 'shared');
const NAMES = {
  A: 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres',
  B: 'nnUNetTrainer_1x2__nnUNetResEncUNetMPlans_gpu0p1GB__3d_fullres',
  C: 'nnUNetTrainer_1x5__nnUNetPlans__2d',
};
const registry = createDefaultRegistry();
const backend = await selectDevice(registry, 'auto', () => {});
const reader = registry.get('reader', 'nifti');

const maxAbs = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
function argmaxDiffs(a, b, K) {
  const n = a.length / K;
  let d = 0;
  for (let i = 0; i < n; i++) {
    let ka = 0, kb = 0;
    for (let k = 1; k < K; k++) {
      if (a[k * n + i] > a[ka * n + i]) ka = k;
      if (b[k * n + i] > b[kb * n + i]) kb = k;
    }
    if (ka !== kb) d++;
  }
  return d;
}

/** Dice of each foreground label present in either segmentation, ours against nnU-Net's (1 when both are empty). */
function dicePerLabel(a, b) {
  const labels = new Set();
  for (let i = 0; i < a.length; i++) { if (a[i] > 0) labels.add(a[i]); if (b[i] > 0) labels.add(b[i]); }
  const res = {};
  for (const l of [...labels].sort((x, y) => x - y)) {
    let inter = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { const x = a[i] === l, y = b[i] === l; if (x) na++; if (y) nb++; if (x && y) inter++; }
    res[l] = na + nb ? (2 * inter) / (na + nb) : 1;
  }
  return res;
}

async function logitsChecks(m) {
  const dir = join(SHARED, 'models', 'Dataset004_Hippocampus', NAMES[m]);
  const ref = (f) => readNpy(readFileSync(join(SHARED, 'models', 'references', 'Dataset004_Hippocampus', NAMES[m], f)), f);
  const model = await loadTrainedModel(dir, [0], registry, backend);
  const pin = ref('hippocampus_008_patch_input.npy');
  const spatial = pin.shape.length === 3 ? [1, ...pin.shape.slice(1)] : pin.shape.slice(1);
  const out = forwardHost(model.networks[0], { data: pin.data, shape: [1, pin.shape[0], ...spatial] }, false)[0];
  const res = { patch_logits_max_abs: maxAbs(out.data, ref('hippocampus_008_patch_logits.npy').data) };
  const input = ref('hippocampus_008_preprocessed_input.npy');
  for (const mirror of [false, true]) {
    const r = ref(`hippocampus_008_sliding_window_logits_${mirror ? 'mirror' : 'nomirror'}.npy`).data;
    for (const accumulation of ['float32', 'nnunet-fp16']) {
      const t0 = Date.now();
      const l = await predictPreprocessed(model, input.data, input.shape, { mirror, accumulation });
      res[`sliding_window_${mirror ? 'mirror' : 'nomirror'}_${accumulation}`] = { max_abs: maxAbs(l, r), argmax_differs: argmaxDiffs(l, r, model.numClasses), seconds: (Date.now() - t0) / 1000 };
    }
  }
  return res;
}

async function segmentationChecks(m, nCases) {
  const refDir = join(SHARED, 'models', 'references', 'Dataset004_Hippocampus', NAMES[m]);
  const manifest = JSON.parse(readFileSync(join(refDir, 'manifest.json'), 'utf8'));
  const cases = manifest.predictions.cases.slice(0, nCases);
  const tmp = mkdtempSync(join(tmpdir(), 'nnunet-refcheck-'));
  const inDir = join(tmp, 'in');
  mkdirSync(inDir);
  const examples = resolve('examples', 'Task04_Hippocampus_subset', 'imagesTs');
  for (const c of cases) symlinkSync(join(examples, `${c.case}.nii.gz`), join(inDir, `${c.case}_0000.nii.gz`));
  const folder = readModelFolder(join(SHARED, 'models', 'Dataset004_Hippocampus', NAMES[m]));
  const model = await loadModel(folder, registry, backend);
  const out = {};
  for (const accumulation of ['float32', 'nnunet-fp16']) {
    const o = join(tmp, accumulation);
    const t0 = Date.now();
    await predictFolder(model, inDir, o, registry, silentReporter(), { accumulation });
    const seconds = (Date.now() - t0) / 1000;
    for (const c of cases) {
      const ours = await reader.read(join(o, `${c.case}.nii.gz`));
      const theirs = await reader.read(join(refDir, 'predictions', `${c.case}.nii.gz`));
      let d = 0;
      for (let i = 0; i < ours.data.length; i++) if (ours.data[i] !== theirs.data[i]) d++;
      out[c.case] ??= { near_ties_below_1e3: c.probabilities['voxels_with_top2_margin_below_1e-3'], near_ties_below_1e2: c.probabilities['voxels_with_top2_margin_below_1e-2'] };
      out[c.case][`differing_voxels_${accumulation}`] = d;
      out[c.case][`dice_vs_nnunet_${accumulation}`] = dicePerLabel(ours.data, theirs.data);
    }
    out[`seconds_${accumulation}`] = seconds;
  }
  rmSync(tmp, { recursive: true, force: true });
  return out;
}

const report = { backend: backend.info.name, started: new Date().toISOString(), models: {} };
for (const m of values.models.split(',')) {
  report.models[m] = { folder: NAMES[m], logits: await logitsChecks(m), segmentations: await segmentationChecks(m, Number(values.cases)) };
  console.error(`model ${m} done`);
  // written after each model, so a long run that is stopped keeps the models it finished
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 1));
}
console.log(JSON.stringify(report, null, 1));
