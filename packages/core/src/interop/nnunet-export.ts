import { zipSync } from 'fflate';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../training/atomic.js';
import { availableFolds } from '../inference/model.js';
import { loadCheckpoint, type CheckpointMeta } from '../training/checkpoint.js';
import { DataError, NnunetError } from '../util/errors.js';
import { checkpointKind } from './nnunet-model.js';
import { checkModelFolds, readModelFolderFiles, trainedFolds } from '../pipeline/model-folder.js';
import { writePlansFile } from '../planning/plans-file.js';
import { PickleDevice, PickleFloat, PickleGlobalRef, PickleOrderedDict, PickleTensor, PickleTuple, pickle, type PickleValue } from './pickle-write.js';

/** A named float32 array as our parameter files hold it (`core/nn/checkpoint.ts`, `NNTSPAR1`). */
export interface NamedArray {
  name: string;
  shape: number[];
  values: Float32Array;
}

/**
 * Parse our parameter file (`saveParameters`: `NNTSPAR1`, uint32 LE header length, JSON `[{name, shape}]`, float32
 * LE values in order) without building a network.
 * @throws DataError naming `file` when the magic, header or length is wrong
 */
export function readParameterFile(bytes: Uint8Array, file: string): NamedArray[] {
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== 'NNTSPAR1') throw new DataError('not an nnunet-ts parameter blob (bad magic)', { file, hint: 'the checkpoint is corrupt' });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hl = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hl))) as { name: string; shape: number[] }[];
  let off = 12 + hl;
  return header.map((h) => {
    const n = h.shape.reduce((a, b) => a * b, 1);
    if (off + 4 * n > bytes.length) throw new DataError('parameter blob truncated', { file });
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = dv.getFloat32(off + 4 * i, true);
    off += 4 * n;
    return { name: h.name, shape: h.shape, values };
  });
}

/**
 * The state-dict entry names dynamic_network_architectures' `state_dict()` has for our parameters, in its order:
 * each conv block's `conv.*` / `norm.*` followed by their `all_modules.0.*` / `all_modules.1.*` aliases
 * (ConvDropoutNormReLU without dropout), and the decoder's reference to the encoder repeated as `decoder.encoder.*`
 * right after the encoder. Returns `[stateDictName, index into params]` pairs.
 */
export function nnunetStateDictEntries(names: string[]): [string, number][] {
  const out: [string, number][] = [];
  let group: [string, number][] = [];
  const flush = () => {
    for (const [n, i] of group) out.push([n.replace(/\.conv\.(weight|bias)$/, '.all_modules.0.$1').replace(/\.norm\.(weight|bias)$/, '.all_modules.1.$1'), i]);
    group = [];
  };
  const blockOf = (n: string) => /^(.*)\.(conv|norm)\.(weight|bias)$/.exec(n)?.[1];
  names.forEach((n, i) => {
    const b = blockOf(n);
    if (group.length && blockOf(group[0]![0]) !== b) flush();
    out.push([n, i]);
    if (b !== undefined) group.push([n, i]);
  });
  flush();
  const enc = out.filter(([n]) => n.startsWith('encoder.'));
  const rest = out.filter(([n]) => !n.startsWith('encoder.'));
  return [...enc, ...enc.map(([n, i]): [string, number] => [`decoder.${n}`, i]), ...rest];
}

/** PyTorch's shape of one of our parameters: 2D networks' `[o, i, 1, ky, kx]` kernels become `[o, i, ky, kx]`. */
function torchShape(shape: number[], dims: 2 | 3): number[] {
  return dims === 2 && shape.length === 5 && shape[2] === 1 ? [shape[0]!, shape[1]!, shape[3]!, shape[4]!] : shape;
}

/**
 * Write a `torch.save`-compatible zip (`<archive>/data.pkl`, `<archive>/version` = 3, `<archive>/byteorder`,
 * `<archive>/data/<key>` raw float32 LE storages), entries stored uncompressed and dated 1980-01-01 (reproducible bytes).
 */
export function writeTorchZip(root: PickleValue, storages: Map<string, Float32Array>, archive: string): Uint8Array {
  const files: Record<string, Uint8Array> = {
    [`${archive}/data.pkl`]: pickle(root),
    [`${archive}/byteorder`]: new TextEncoder().encode('little'),
  };
  for (const [k, v] of storages) files[`${archive}/data/${k}`] = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  files[`${archive}/version`] = new TextEncoder().encode('3\n');
  // a fixed entry date (the zip format's earliest, local time as fflate encodes it): the same weights give the same bytes
  return zipSync(files, { level: 0, mtime: new Date(1980, 0, 1) });
}

/** The checkpoint dict nnU-Net v2's trainer writes (`save_checkpoint`), from one of our checkpoints. */
function nnunetCheckpointDict(meta: CheckpointMeta, params: NamedArray[], plans: unknown, dataset: unknown): { root: PickleValue; storages: Map<string, Float32Array> } {
  const storages = new Map<string, Float32Array>();
  params.forEach((p, i) => storages.set(String(i), p.values));
  const weights = nnunetStateDictEntries(params.map((p) => p.name)).map(([n, i]): [string, PickleValue] => [
    n, new PickleTensor(String(i), params[i]!.values.length, torchShape(params[i]!.shape, meta.dims)),
  ]);
  const log = meta.logging as unknown as Record<string, PickleValue>;
  const root: PickleValue = {
    network_weights: new PickleOrderedDict(weights),
    grad_scaler_state: null,
    logging: Object.fromEntries(Object.entries(log ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => (typeof x === 'number' ? new PickleFloat(x) : x)) : v])),
    _best_ema: meta.best_ema === null ? null : new PickleFloat(meta.best_ema),
    current_epoch: meta.current_epoch,
    init_args: {
      plans: plans as PickleValue, configuration: meta.configuration, fold: meta.fold, dataset_json: dataset as PickleValue,
      unpack_dataset: true, device: new PickleDevice('cpu'),
    },
    trainer_name: meta.trainer_name,
    inference_allowed_mirroring_axes: meta.inference_allowed_mirroring_axes.length ? new PickleTuple(meta.inference_allowed_mirroring_axes) : null,
  };
  return { root, storages };
}

/**
 * Write one of our trained model folders as an nnU-Net v2 results folder `outDir`: plans.json (read and validated by
 * `loadPlans`, written in the arch-dict form), dataset.json and dataset_fingerprint.json (copied), postprocessing.pkl (from postprocessing.json) and per fold
 * `fold_<k>/checkpoint_final.pth` in torch's zip format that `torch.load` reads and nnU-Net's predictor accepts
 * (`network_weights` with dynamic_network_architectures' names and aliases, `init_args`, `trainer_name`,
 * `inference_allowed_mirroring_axes`, `logging`, `_best_ema`, `current_epoch`; no `optimizer_state`, so nnU-Net
 * can predict with it but not resume training). Files are written atomically.
 * @returns the folds written
 * @throws DataError naming the folder when it has no trained fold, a checkpoint is unreadable or plans.json is invalid
 */
export async function exportNnunetModel(modelDir: string, outDir: string, opts: { folds?: (number | 'all')[]; checkpoint?: string } = {}): Promise<(number | 'all')[]> {
  const kind = checkpointKind(opts.checkpoint);
  const { plans } = readModelFolderFiles(modelDir);
  const folds = opts.folds?.length ? opts.folds : await availableFolds(modelDir, kind);
  if (!folds.length && !trainedFolds(modelDir).length) checkModelFolds(modelDir);
  if (!folds.length) throw new DataError(`no fold_<k>/checkpoint_${kind}.json to export`, { file: modelDir, hint: 'pass -m <model folder> written by nnunet-ts train (…/nnUNet_results/<trainer>__<plans>__<configuration>)' });
  const readText = (f: string) => fs.readFile(join(modelDir, f), 'utf8').catch((e: Error) => { throw new DataError(`cannot read ${f}: ${e.message}`, { file: join(modelDir, f) }); });
  const datasetText = await readText('dataset.json');
  const dataset = JSON.parse(datasetText) as unknown;
  await fs.mkdir(outDir, { recursive: true });
  await writePlansFile(join(outDir, 'plans.json'), plans);
  await writeFileAtomic(join(outDir, 'dataset.json'), datasetText);
  if (existsSync(join(modelDir, 'dataset_fingerprint.json'))) await writeFileAtomic(join(outDir, 'dataset_fingerprint.json'), await readText('dataset_fingerprint.json'));
  if (existsSync(join(modelDir, 'postprocessing.json'))) await writeFileAtomic(join(outDir, 'postprocessing.pkl'), postprocessingPkl(JSON.parse(await readText('postprocessing.json'))));
  for (const f of folds) {
    const foldDir = join(modelDir, `fold_${f}`);
    if (existsSync(join(foldDir, `checkpoint_${kind}.pth`)) && !existsSync(join(foldDir, `checkpoint_${kind}.json`))) {
      throw new NnunetError(`fold ${f} is already an nnU-Net checkpoint (.pth)`, { file: foldDir, hint: 'copy the folder instead' });
    }
    const ck = await loadCheckpoint(foldDir, kind);
    const params = readParameterFile(ck.parameters, join(foldDir, `checkpoint_${kind}.bin`));
    const { root, storages } = nnunetCheckpointDict(ck.meta, params, plans, dataset);
    await fs.mkdir(join(outDir, `fold_${f}`), { recursive: true });
    await writeFileAtomic(join(outDir, `fold_${f}`, 'checkpoint_final.pth'), writeTorchZip(root, storages, 'checkpoint_final'));
  }
  return folds;
}

/** nnU-Net's `postprocessing.pkl` (`(pp_fns, pp_fn_kwargs)`) from our postprocessing.json steps. */
function postprocessingPkl(plan: { postprocessing_fns?: { name: string; kwargs: Record<string, unknown> }[] }): Uint8Array {
  const steps = plan.postprocessing_fns ?? [];
  const known = 'remove_all_but_largest_component_from_segmentation';
  const bad = steps.find((s) => s.name !== known);
  if (bad) throw new NnunetError(`postprocessing step '${bad.name}' has no nnU-Net counterpart`, { hint: 'export without postprocessing.json' });
  const fn = new PickleGlobalRef('nnunetv2.postprocessing.remove_connected_components', known);
  return pickle(new PickleTuple([steps.map(() => fn), steps.map((s) => s.kwargs as PickleValue)]));
}
