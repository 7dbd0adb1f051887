/**
 * Fuzz targets for the JSON and binary state the program reads besides images: dataset.json through `loadDataset`
 * + `validateDataset`, plans (`loadPlans` + `getConfiguration` + `validatePlans`), splits (`readSplits` +
 * `foldCases`), checkpoints (`loadCheckpoint`) and preprocessed cases (`readPreprocessedCase`). Mutations are
 * structure-aware (a JSON value replaced by an edge value of another type, a key deleted or added) and byte-level;
 * for the checksummed formats the checksum is recomputed after a structural mutation, as a buggy or foreign writer
 * would, so the reader's own field checks are exercised rather than only its checksum.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import * as core from '@nnunet-ts/core';
import { addCase, datasetJsonV2, makeDatasetV2, vol } from '../bad-inputs/generate.js';
import { makeRegistry } from '../bad-inputs/harness.js';
import { applyByteMutations, byteMutation, classifyError, type ByteMutation, type Outcome, type Target } from './engine.js';

const EDGE_VALUES: unknown[] = [null, 0, -1, 1, 1.5, -0.5, 1e308, -1e308, 2 ** 53, '', 'x', '0', '.nii.gz', 'CT', [], [0], [[1, 2]], {}, { a: 1 }, true, false, 'NaN', [-1, -1, -1], [0, 0, 0], [1e9, 1e9, 1e9]];

/** A structural JSON mutation: at the k-th value (pre-order), replace it, delete it (object keys), or add a key. */
export interface JsonMutation {
  k: number;
  op: 'replace' | 'delete' | 'add';
  value: number;
  key: string;
}
const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  k: fc.nat(),
  op: fc.constantFrom('replace' as const, 'delete' as const, 'add' as const),
  value: fc.nat({ max: EDGE_VALUES.length - 1 }),
  key: fc.constantFrom('labels', 'channel_names', 'file_ending', 'numTraining', 'configurations', 'patch_size', 'spacing', 'train', 'val', 'shape', 'dataBytes', 'blobs', 'offset', 'length', 'regions_class_order', '__proto__', 'x'),
});

function nodes(v: unknown, out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = []): typeof out {
  if (v && typeof v === 'object') {
    for (const [k, c] of Object.entries(v as object)) {
      out.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
      nodes(c, out);
    }
  }
  return out;
}

/** Apply structural mutations to a JSON value (a deep copy). */
export function mutateJson(value: unknown, ms: JsonMutation[]): unknown {
  const root = { v: structuredClone(value) as unknown };
  for (const m of ms) {
    const all = nodes(root);
    if (!all.length) break; // the whole document was deleted
    const n = all[m.k % all.length]!;
    const edge = structuredClone(EDGE_VALUES[m.value]);
    const p = n.parent as Record<string | number, unknown>;
    if (m.op === 'replace') p[n.key] = edge;
    else if (m.op === 'delete') {
      if (Array.isArray(p)) p.splice(n.key as number, 1);
      else delete p[n.key];
    } else {
      const target = p[n.key];
      if (target && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, m.key, { value: edge, enumerable: true, writable: true, configurable: true });
      else p[n.key] = edge;
    }
  }
  return root.v;
}

export interface DocInput {
  json: JsonMutation[];
  bytes: ByteMutation[];
}
export const docArb: fc.Arbitrary<DocInput> = fc.record({
  json: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 4, arbitrary: fc.array(jsonMutation, { minLength: 1, maxLength: 3 }) }),
  bytes: fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 2 }) }),
});

const enc = new TextEncoder();
export const text = (v: unknown, ms: ByteMutation[]): Uint8Array => applyByteMutations(enc.encode(JSON.stringify(v, null, 1)), ms);

export async function outcome(file: string, f: () => Promise<unknown>): Promise<Outcome> {
  try {
    await f();
    return { kind: 'ok' };
  } catch (e) {
    return classifyError(e, file);
  }
}

export interface DatasetInput extends DocInput {
  /** A case file replaced by a mutated copy (its NIfTI bytes before gzip), then restored: which file, which mutations. */
  file?: { which: number; mutations: ByteMutation[] };
}

export const datasetArb: fc.Arbitrary<DatasetInput> = fc.tuple(
  docArb,
  fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.record({ which: fc.nat(), mutations: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) }) }),
).map(([d, file]) => (file ? { ...d, file } : d));

/**
 * The registry's readers behind a cache by path: every input re-runs `loadDataset` + `validateDataset` in full, but
 * the case files that did not change are parsed once (the fuzz target itself is the only writer, and it names the
 * one file it mutates, which is always read afresh). Returns the registry and the function that marks a file changed.
 */
function cachingRegistry(): { reg: core.Registry; changed: (path: string) => void } {
  const reg = makeRegistry();
  const cache = new Map<string, Promise<core.MedicalImage>>();
  for (const r of reg.all('reader')) {
    const read = r.read.bind(r);
    reg.register('reader', { ...r, read: (path: string) => {
      let p = cache.get(path);
      if (!p) {
        p = read(path);
        cache.set(path, p);
        p.catch(() => undefined);
      }
      return p;
    } }, { override: true });
  }
  return { reg, changed: (path) => void cache.delete(path) };
}

/**
 * dataset.json mutations on a small valid dataset (2 training cases of 2 channels, 1 test case repeating a training
 * case's voxels), through loadDataset + validateDataset (+ strict); a third of the inputs also byte-mutate one case
 * file (channel or label, NIfTI bytes before gzip), which the real reader parses. Unchanged files are parsed once
 * (`cachingRegistry`): the other inputs only re-run the dataset logic, the part under test here.
 */
export function datasetTarget(dir: string): Target<DatasetInput> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const base = datasetJsonV2(['CT', 'MR'], { background: 0, liver: 1, tumour: 2 }, 2);
  const root = makeDatasetV2(dir, base);
  const img = (s: number) => vol([4, 3, 2], 'int16', (a, b, c) => a * s + b - c * 100 - 500);
  const seg = () => vol([4, 3, 2], 'uint8', (a, b) => (a + b) % 3);
  for (let i = 0; i < 2; i++) addCase(root, `case_${i}`, [img(i + 1), img(i + 2)], seg());
  addCase(root, 'test_0', [img(2), img(3)], null, '.nii.gz', 'imagesTs');
  const files = ['imagesTr/case_0_0000', 'imagesTr/case_0_0001', 'labelsTr/case_0', 'imagesTr/case_1_0000', 'labelsTr/case_1', 'imagesTs/test_0_0001'].map((f) => join(root, `${f}.nii.gz`));
  const disk = new Map(files.map((f) => [f, new Uint8Array(readFileSync(f))]));
  const raw = new Map(files.map((f) => [f, new Uint8Array(gunzipSync(disk.get(f)!))]));
  const { reg, changed } = cachingRegistry();
  const file = join(root, 'dataset.json');
  const mutatedFile = (x: DatasetInput) => {
    const f = files[x.file!.which % files.length]!;
    return { path: f, bytes: gzipSync(applyByteMutations(raw.get(f)!, x.file!.mutations), { level: 1 }) };
  };
  return {
    name: 'dataset',
    arbitrary: datasetArb,
    bytesOf: (x) => ({ name: 'dataset.json', bytes: text(mutateJson(base, x.json), x.bytes) }),
    async run(x) {
      writeFileSync(file, text(mutateJson(base, x.json), x.bytes));
      const m = x.file ? mutatedFile(x) : null;
      if (m) {
        writeFileSync(m.path, m.bytes);
        changed(m.path);
      }
      try {
        return await outcome(file, async () => {
          const ds = await core.loadDataset(root);
          const r = await core.validateDataset(ds, reg, { strict: x.json.length % 2 === 1 });
          core.formatValidationReport(r);
        });
      } finally {
        if (m) {
          writeFileSync(m.path, disk.get(m.path)!);
          changed(m.path);
        }
      }
    },
  };
}

/** plans.json, splits_final.json, checkpoint json/bin and preprocessed cases. */
export function jsonTargets(dir: string): Target<DocInput>[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const reg = makeRegistry();
  const fp = JSON.parse(readFileSync(new URL('../../packages/core/src/fingerprint/__fixtures__/fingerprint.json', import.meta.url), 'utf8')).fingerprint as core.DatasetFingerprint;
  const dsJson = { channel_names: { '0': 'CT', '1': 'MR' }, labels: { background: 0, a: 1 }, numTraining: 3, file_ending: '.nii.gz', name: 'Dataset001_Fuzz' } as unknown as core.DatasetJson;
  const plansFile = join(dir, 'nnUNetPlans.json');
  const plans = core.runPlan(fp, dsJson, reg, plansFile, {});
  const splits = core.createSplits(['a', 'b', 'c', 'd', 'e', 'f'], 5, 1);
  const splitsFile = join(dir, 'splits_final.json');
  return [
    {
      name: 'plans',
      arbitrary: docArb,
      bytesOf: (x) => ({ name: 'nnUNetPlans.json', bytes: text(mutateJson(plans, x.json), x.bytes) }),
      async run(x) {
        writeFileSync(plansFile, text(mutateJson(plans, x.json), x.bytes));
        return outcome(plansFile, async () => {
          const p = core.loadPlans(plansFile);
          core.validatePlans(p);
          for (const c of core.listConfigurations(p)) core.getConfiguration(p, c);
        });
      },
    },
    {
      name: 'splits',
      arbitrary: docArb,
      bytesOf: (x) => ({ name: 'splits_final.json', bytes: text(mutateJson(splits, x.json), x.bytes) }),
      async run(x) {
        writeFileSync(splitsFile, text(mutateJson(splits, x.json), x.bytes));
        return outcome(splitsFile, async () => {
          const s = await core.readSplits(splitsFile);
          for (let f = 0; f < s.length; f++) core.foldCases(s, f);
        });
      },
    },
    checkpointTarget(join(dir, 'fold_0')),
    cacheTarget(join(dir, 'cache')),
  ];
}

function checkpointTarget(foldDir: string): Target<DocInput> {
  mkdirSync(foldDir, { recursive: true });
  const paths = core.checkpointPaths(foldDir, 'latest');
  let base: { meta: unknown; bin: Uint8Array } | null = null;
  const init = async () => {
    if (base) return base;
    const meta = {
      format: 'nnunet-ts-checkpoint/1', trainer_name: 'nnUNetTrainer', configuration: '3d_fullres', fold: 0, plans_name: 'nnUNetPlans', dataset_name: 'D', network_class_name: 'PlainConvUNet',
      dims: 3, input_channels: 1, num_classes: 2, patch_size: [8, 8, 8], inference_allowed_mirroring_axes: [0, 1, 2], current_epoch: 3, num_epochs: 10, num_iterations_per_epoch: 5,
      num_val_iterations_per_epoch: 2, batch_size: 2, seed: 1, augmentation: 'default', best_ema: null, rng: {}, logging: core.emptyLog(),
    };
    await core.saveCheckpoint(foldDir, 'latest', { meta: meta as never, parameters: new Uint8Array(37).map((_, i) => i), optimizer: [new Float32Array([1, 2, 3])] });
    base = { meta: JSON.parse(readFileSync(paths.json, 'utf8')), bin: new Uint8Array(readFileSync(paths.bin)) };
    return base;
  };
  return {
    name: 'checkpoint',
    arbitrary: docArb,
    async run(x) {
      const b = await init();
      writeFileSync(paths.json, text(mutateJson(b.meta, x.json), []));
      writeFileSync(paths.bin, applyByteMutations(b.bin, x.bytes));
      return outcome(foldDir, async () => {
        const ck = await core.loadCheckpoint(foldDir, 'latest');
        if (!(ck.parameters instanceof Uint8Array) || ck.optimizer.some((o) => !(o instanceof Float32Array))) throw new TypeError('checkpoint parts have wrong types');
      });
    },
  };
}

function cacheTarget(dir: string): Target<DocInput> {
  mkdirSync(dir, { recursive: true });
  const file = core.preprocessedCasePath(dir, 'case_0');
  let base: Uint8Array | null = null;
  const init = async () => {
    if (base) return base;
    const data = new Float32Array(2 * 3 * 4 * 5).map((_, i) => i / 7);
    await core.writePreprocessedCase(dir, 'case_0', { data, seg: new Int16Array(3 * 4 * 5).fill(1), shape: [2, 3, 4, 5], properties: { spacing: [1, 1, 1] } } as never);
    base = new Uint8Array(readFileSync(file));
    return base;
  };
  /** Re-encode the header after a structural mutation (fresh checksum), then apply byte mutations. */
  const build = (b: Uint8Array, x: DocInput): Uint8Array => {
    let out = b;
    if (x.json.length) {
      const buf = Buffer.from(b);
      const hLen = buf.readUInt32LE(12);
      const header = JSON.parse(buf.subarray(16, 16 + hLen).toString('utf8'));
      const h2 = Buffer.from(JSON.stringify(mutateJson(header, x.json)) ?? 'null');
      const body = Buffer.concat([buf.subarray(0, 12), Buffer.alloc(4), h2, buf.subarray(16 + hLen, buf.length - 20)]);
      body.writeUInt32LE(h2.length, 12);
      out = new Uint8Array(Buffer.concat([body, createHash('sha1').update(body).digest()]));
    }
    return applyByteMutations(out, x.bytes);
  };
  return {
    name: 'cache',
    arbitrary: docArb,
    async run(x) {
      writeFileSync(file, build(await init(), x));
      return outcome(file, async () => {
        const c = await core.readPreprocessedCase(dir, 'case_0');
        const n = c.shape.reduce((a: number, v: number) => a * v, 1);
        if (!Array.isArray(c.shape) || c.shape.length !== 4 || c.data.length !== n) throw new TypeError(`read a case whose data (${c.data.length}) does not match its shape ${JSON.stringify(c.shape)}`);
        if (c.seg && c.seg.length !== n / c.shape[0]!) throw new TypeError(`seg length ${c.seg.length} does not match shape ${JSON.stringify(c.shape)}`);
      });
    },
  };
}
