/**
 * Fuzz targets for the readers the first targets did not cover: MetaImage with a detached data file (.mhd + .raw),
 * DICOM series (a folder of slices through `readDicomSeries`), `dataset_fingerprint.json` (`checkFingerprintFile`, then
 * planning with it as `plan --fingerprint` does), `--config` files (`checkRunConfig` + `resolveRunOptions`), nnU-Net
 * v2 checkpoints (`checkpoint_final.pth`: torch zip + restricted unpickler, `readNnunetCheckpoint`) and our model
 * folders (`readModelFolder`: plans.json, dataset.json, postprocessing.json; then the label setup and the
 * postprocessing steps prediction applies). Same outcome rules as the other targets (engine.ts).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as core from '@nnunet-ts/core';
import { readDicomSeries, readItk } from '@nnunet-ts/io-itk';
import { dicomBytes } from '../bad-inputs/generate.js';
import { makeRegistry } from '../bad-inputs/harness.js';
import { applyByteMutations, byteMutation, classifyError, geometryProblem, type ByteMutation, type Outcome, type Target } from './engine.js';
import { docArb, mutateJson, outcome, text, type DocInput } from './data-targets.js';
import { mhaFile, textArb, type TextImageInput } from './itk-targets.js';

/** A user error names a file inside `dir` (the model folder, the series folder), or `dir` itself. */
function classifyIn(e: unknown, dir: string): Outcome {
  if (e instanceof core.NnunetError && ((e.file ?? '').startsWith(dir) || e.message.includes(dir))) return { kind: 'user-error' };
  return classifyError(e, dir);
}

/** .mhd header + .raw data: the .mha generator's header with `ElementDataFile = input.raw`; mutations hit the header or the .raw. */
export function mhdTarget(dir: string): Target<TextImageInput & { rawCut: number }> {
  mkdirSync(dir, { recursive: true });
  const split = (x: TextImageInput): { header: Uint8Array; raw: Uint8Array } => {
    const all = mhaFile({ ...x, byteMutations: [] });
    const s = new TextDecoder('latin1').decode(all);
    const end = s.indexOf('ElementDataFile = LOCAL\n');
    const headerText = end >= 0 ? `${s.slice(0, end)}ElementDataFile = input.raw\n` : s;
    return { header: new TextEncoder().encode(headerText), raw: end >= 0 ? all.slice(end + 'ElementDataFile = LOCAL\n'.length) : new Uint8Array(0) };
  };
  const arbitrary = fc.tuple(textArb, fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }) })).map(([t, rawCut]) => ({ ...t, rawCut }));
  return {
    name: 'mhd',
    arbitrary,
    bytesOf: (x) => ({ name: 'input.mhd', bytes: applyByteMutations(split(x).header, x.byteMutations) }),
    async run(x) {
      const { header, raw } = split(x);
      const file = join(dir, 'input.mhd');
      writeFileSync(file, applyByteMutations(header, x.byteMutations));
      writeFileSync(join(dir, 'input.raw'), x.rawCut ? raw.slice(0, Math.max(0, raw.length - x.rawCut)) : raw);
      const mutated = x.lineMutations.length + x.byteMutations.length > 0 || x.rawCut > 0;
      let im;
      try {
        im = await readItk(file);
      } catch (e) {
        const o = classifyIn(e, dir);
        if (o.kind === 'user-error' && !mutated) return { kind: 'silent', detail: `a valid file was refused: ${(e as Error).message.slice(0, 150)}` };
        return o;
      }
      const geo = geometryProblem(im);
      if (geo) return { kind: 'silent', detail: geo };
      if (!mutated && im.shape.join() !== [1, x.grid.sizes[2], x.grid.sizes[1], x.grid.sizes[0]].join()) return { kind: 'silent', detail: `round trip: shape ${im.shape}` };
      return { kind: 'ok' };
    },
  };
}

export interface SeriesInput {
  slices: number;
  rows: number;
  columns: number;
  seed: number;
  gap: number;
  /** Slice given a different orientation / size, or none (-1). */
  odd: number;
  oddKind: 'iop' | 'size' | 'gap' | 'duplicate';
  victim: number;
  byteMutations: ByteMutation[];
}

const seriesArb: fc.Arbitrary<SeriesInput> = fc.record({
  slices: fc.integer({ min: 1, max: 4 }),
  rows: fc.integer({ min: 1, max: 4 }),
  columns: fc.integer({ min: 1, max: 4 }),
  seed: fc.nat(),
  gap: fc.integer({ min: 1, max: 40 }).map((v) => v / 8),
  odd: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat({ max: 3 }) }),
  oddKind: fc.constantFrom('iop' as const, 'size' as const, 'gap' as const, 'duplicate' as const),
  victim: fc.nat({ max: 3 }),
  byteMutations: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 2 }) }),
});

function seriesPixels(x: SeriesInput, k: number, n: number): number[] {
  let s = (x.seed + k * 7919) >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % 4096;
  });
}

/** A DICOM series (slices along +z, explicit VR LE) with one odd slice or one byte-mutated file, read as a folder. */
export function dicomSeriesTarget(dir: string): Target<SeriesInput> {
  const make = (x: SeriesInput): Uint8Array[] =>
    Array.from({ length: x.slices }, (_, k) => {
      const odd = x.odd === k % 4 && x.odd < x.slices;
      const rows = odd && x.oddKind === 'size' ? x.rows + 1 : x.rows;
      const z = odd && x.oddKind === 'gap' ? k * x.gap + x.gap / 2 : odd && x.oddKind === 'duplicate' && k > 0 ? (k - 1) * x.gap : k * x.gap;
      const b = dicomBytes({
        rows, columns: x.columns, pixels: seriesPixels(x, k, rows * x.columns), imagePositionPatient: [-10, 5, z],
        imageOrientationPatient: odd && x.oddKind === 'iop' ? [1, 0, 0, 0, 0, -1] : [1, 0, 0, 0, 1, 0], pixelSpacing: [0.5, 0.75],
        pixelRepresentation: 0, rescaleSlope: 1, rescaleIntercept: 0, instanceNumber: k + 1,
      });
      return k === x.victim % x.slices ? applyByteMutations(b, x.byteMutations) : b;
    });
  return {
    name: 'dicomseries',
    arbitrary: seriesArb,
    async run(x) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      make(x).forEach((b, k) => writeFileSync(join(dir, `slice${k}.dcm`), b));
      const mutated = x.byteMutations.length > 0 || (x.odd >= 0 && x.odd < x.slices);
      let im;
      try {
        im = await readDicomSeries(dir);
      } catch (e) {
        const o = classifyIn(e, dir);
        if (o.kind === 'user-error' && !mutated) return { kind: 'silent', detail: `a valid series was refused: ${(e as Error).message.slice(0, 150)}` };
        return o;
      }
      const geo = geometryProblem(im);
      if (geo) return { kind: 'silent', detail: geo };
      if (!mutated) {
        if (im.shape.join() !== [1, x.slices, x.rows, x.columns].join()) return { kind: 'silent', detail: `round trip: shape ${im.shape}` };
        for (let k = 0; k < x.slices; k++) {
          const px = seriesPixels(x, k, x.rows * x.columns);
          for (let i = 0; i < px.length; i++) if (im.data[k * px.length + i] !== px[i]) return { kind: 'silent', detail: `round trip: slice ${k} pixel ${i}` };
        }
        if (x.slices > 1 && Math.abs(im.spacing[0]! - x.gap) > 1e-4) return { kind: 'silent', detail: `slice spacing ${im.spacing[0]} != ${x.gap}` };
      }
      return { kind: 'ok' };
    },
  };
}

/** dataset_fingerprint.json, as `plan --fingerprint --dataset-json` reads it: checked, then planned with. */
export function fingerprintTarget(dir: string): Target<DocInput> {
  mkdirSync(dir, { recursive: true });
  const reg = makeRegistry();
  const fp = JSON.parse(readFileSync(new URL('../../packages/core/src/fingerprint/__fixtures__/fingerprint.json', import.meta.url), 'utf8')).fingerprint as core.DatasetFingerprint;
  const dsJson = { channel_names: { '0': 'CT', '1': 'MR' }, labels: { background: 0, a: 1 }, numTraining: 3, file_ending: '.nii.gz', name: 'Dataset001_Fuzz' } as unknown as core.DatasetJson;
  const file = join(dir, 'dataset_fingerprint.json');
  const plansFile = join(dir, 'nnUNetPlans.json');
  return {
    name: 'fingerprint',
    arbitrary: docArb,
    bytesOf: (x) => ({ name: 'dataset_fingerprint.json', bytes: text(mutateJson(fp, x.json), x.bytes) }),
    async run(x) {
      writeFileSync(file, text(mutateJson(fp, x.json), x.bytes));
      return outcome(file, async () => {
        const checked = core.checkFingerprintFile(core.readJson(file), file, 2);
        core.runPlan(checked, dsJson, reg, plansFile, {});
      });
    },
  };
}

/** A `--config` file: schema check and resolution in the flag > config > preset > default order. */
export function configTarget(dir: string): Target<DocInput> {
  mkdirSync(dir, { recursive: true });
  const base = { preset: 'quick', configurations: ['3d_fullres'], folds: [0, 1], epochs: 3, iterationsPerEpoch: 10, mirror: true, stepSize: 0.5, backend: 'auto', planner: 'nnUNetPlanner', gpuMemoryGb: 8, trainer: {} };
  const file = join(dir, 'config.json');
  return {
    name: 'config',
    arbitrary: docArb,
    bytesOf: (x) => ({ name: 'config.json', bytes: text(mutateJson(base, x.json), x.bytes) }),
    async run(x) {
      const bytes = text(mutateJson(base, x.json), x.bytes);
      writeFileSync(file, bytes);
      const o = await outcome(file, async () => {
        const layer = core.checkRunConfig(core.parseJsonFile(readFileSync(file, 'utf8'), file), file);
        const r = core.resolveRunOptions({ config: layer });
        const bad = (['epochs', 'iterationsPerEpoch', 'nFolds'] as const).filter((k) => !(Number.isInteger(r[k]) && r[k] >= 1));
        if (bad.length || !(r.stepSize > 0 && r.stepSize <= 1)) throw new TypeError(`resolved options out of range: ${bad.join(', ')} stepSize ${r.stepSize}`);
      });
      return o.kind === 'crash' && o.detail?.startsWith('TypeError: resolved') ? { kind: 'silent', detail: o.detail } : o;
    },
  };
}

/** nnU-Net v2's checkpoint_final.pth: a small valid torch zip, byte-mutated or with its pickle mutated. */
export function nnunetCheckpointTarget(dir: string): Target<{ bytes: ByteMutation[]; region: 'any' | 'pickle' }> {
  mkdirSync(dir, { recursive: true });
  const storages = new Map<string, Float32Array>([['0', new Float32Array([1, 2, 3, 4, 5, 6])], ['1', new Float32Array([0.5, -0.5])]]);
  const root: core.PickleValue = {
    network_weights: new core.PickleOrderedDict([
      ['encoder.stages.0.0.convs.0.conv.weight', new core.PickleTensor('0', 6, [2, 3, 1, 1, 1])],
      ['encoder.stages.0.0.convs.0.conv.bias', new core.PickleTensor('1', 2, [2])],
    ]),
    init_args: { configuration: '3d_fullres', fold: 0, plans: { a: 1 }, dataset_json: { labels: { background: 0, a: 1 } } },
    trainer_name: 'nnUNetTrainer',
    current_epoch: 3,
    inference_allowed_mirroring_axes: new core.PickleTuple([0, 1, 2]),
  };
  const base = core.writeTorchZip(root, storages, 'checkpoint_final');
  const file = join(dir, 'checkpoint_final.pth');
  // the pickle's offset inside the (stored, uncompressed) zip: mutations there exercise the unpickler, not the zip CRC
  const pkl = Buffer.from(base).indexOf(Buffer.from([0x80, 0x02]));
  return {
    name: 'nnunetpth',
    arbitrary: fc.record({ bytes: fc.array(byteMutation, { minLength: 0, maxLength: 3 }), region: fc.constantFrom('any' as const, 'pickle' as const) }),
    bytesOf: (x) => ({ name: 'checkpoint_final.pth', bytes: build(x) }),
    async run(x) {
      const b = build(x);
      writeFileSync(file, b);
      return outcome(file, async () => {
        const ck = core.readNnunetCheckpoint(new Uint8Array(readFileSync(file)), file);
        for (const t of ck.weights.values()) {
          const v = core.tensorToFloat32(ck.raw, t);
          if (v.length !== t.shape.reduce((a, s) => a * s, 1)) throw new TypeError(`tensor of shape ${t.shape} read as ${v.length} values`);
        }
      });
    },
  };
  function build(x: { bytes: ByteMutation[]; region: 'any' | 'pickle' }): Uint8Array {
    if (x.region === 'any' || pkl < 0) return applyByteMutations(base, x.bytes);
    // positions inside the pickle (first 200 bytes after its protocol header); truncation and appends stay global
    const ms = x.bytes.map((m) => (m.op === 'set' || m.op === 'flip' ? { ...m, at: pkl + (m.at % 200) } : m));
    return applyByteMutations(base, ms);
  }
}

/** One of our model folders: plans.json, dataset.json or postprocessing.json mutated; then what predict uses of them. */
export function modelFolderTarget(dir: string): Target<DocInput & { which: 'plans' | 'dataset' | 'postprocessing' }> {
  const model = join(dir, 'nnUNetTrainer__nnUNetPlans__3d_fullres');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(model, 'fold_0'), { recursive: true });
  const reg = makeRegistry();
  const fp = JSON.parse(readFileSync(new URL('../../packages/core/src/fingerprint/__fixtures__/fingerprint.json', import.meta.url), 'utf8')).fingerprint as core.DatasetFingerprint;
  const dsJson = { channel_names: { '0': 'CT', '1': 'MR' }, labels: { background: 0, liver: 1, tumour: 2 }, numTraining: 3, file_ending: '.nii.gz', name: 'Dataset001_Fuzz' };
  const plans = core.runPlan(fp, dsJson as unknown as core.DatasetJson, reg, join(dir, 'plans-src.json'), {});
  const pp = { postprocessing_fns: [{ name: 'remove_all_but_largest_component_from_segmentation', kwargs: { labels_or_regions: [1, 2] } }, { name: 'remove_all_but_largest_component_from_segmentation', kwargs: { labels_or_regions: 2 } }], dice_before: {}, dice_after: {}, foreground_dice_before: 0.5, foreground_dice_after: 0.6 };
  writeFileSync(join(model, 'fold_0', 'checkpoint_final.json'), '{}');
  const docs = { plans, dataset: dsJson, postprocessing: pp };
  const seg = Int16Array.from({ length: 4 * 4 * 4 }, (_, i) => (i % 5 === 0 ? 1 : i % 7 === 0 ? 2 : 0));
  return {
    name: 'modelfolder',
    arbitrary: fc.tuple(docArb, fc.constantFrom('plans' as const, 'dataset' as const, 'postprocessing' as const)).map(([d, which]) => ({ ...d, which })),
    bytesOf: (x) => ({ name: `${x.which}.json`, bytes: text(mutateJson(docs[x.which], x.json), x.bytes) }),
    async run(x) {
      for (const k of ['plans', 'dataset', 'postprocessing'] as const) writeFileSync(join(model, `${k}.json`), k === x.which ? text(mutateJson(docs[k], x.json), x.bytes) : JSON.stringify(docs[k]));
      try {
        const folder = core.readModelFolder(model);
        core.getConfiguration(folder.plans, folder.configuration);
        core.labelManager(folder.dataset, join(model, 'dataset.json'));
        // as loadModel: the steps must name registered postprocessors
        if (folder.postprocessing) core.checkPostprocessingPlan(folder.postprocessing, join(model, 'postprocessing.json'), reg);
        const steps = folder.postprocessing?.postprocessing_fns;
        if (steps?.length) core.applyPostprocessing(seg, [4, 4, 4], steps, reg);
        return { kind: 'ok' };
      } catch (e) {
        return classifyIn(e, model);
      }
    },
  };
}
