import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError } from '../util/errors.js';
import { writeFilesAtomic } from '../util/atomic.js';
import type { RngState } from './rng.js';
import type { DeadlineStop } from './deadline.js';

/** Per-epoch training log, nnU-Net logger names (`nnunet_logger.py`), one entry per completed epoch. */
export interface ProgressLog {
  mean_fg_dice: number[];
  ema_fg_dice: number[];
  dice_per_class_or_region: number[][];
  train_losses: number[];
  val_losses: number[];
  lrs: number[];
  epoch_start_timestamps: number[];
  epoch_end_timestamps: number[];
}

/** An empty {@link ProgressLog}. */
export function emptyLog(): ProgressLog {
  return { mean_fg_dice: [], ema_fg_dice: [], dice_per_class_or_region: [], train_losses: [], val_losses: [], lrs: [], epoch_start_timestamps: [], epoch_end_timestamps: [] };
}

/** JSON half of a checkpoint (`checkpoint_<kind>.json`); tensors live in the `.bin` beside it. */
export interface CheckpointMeta {
  format: 'nnunet-ts-checkpoint/1';
  trainer_name: string;
  configuration: string;
  fold: number | 'all';
  plans_name: string;
  dataset_name: string;
  network_class_name: string;
  dims: 2 | 3;
  input_channels: number;
  num_classes: number;
  patch_size: number[];
  /** Mirror axes (patch axes) used in training; prediction uses the same (nnU-Net's key name). */
  inference_allowed_mirroring_axes: number[];
  /** Epochs completed: training resumes at this epoch index. */
  current_epoch: number;
  num_epochs: number;
  num_iterations_per_epoch: number;
  num_val_iterations_per_epoch: number;
  batch_size: number;
  seed: number;
  augmentation: string;
  best_ema: number | null;
  /** Cascade only: the previous stage's configuration and the labels whose one-hot channels are inputs. */
  previous_stage?: string;
  previous_stage_labels?: number[];
  /** Time budget only: the shorter schedule the deadline imposed (`DeadlineClock`); absent when the plan ran whole. */
  time_budget_stop?: DeadlineStop;
  rng: Record<string, RngState>;
  logging: ProgressLog;
  /** Byte ranges in the `.bin`: `parameters` (nn `saveParameters` bytes), then `optimizer.<i>` float32 LE buffers. */
  blobs: { name: string; offset: number; length: number }[];
  bin_bytes: number;
  bin_sha256: string;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  meta: CheckpointMeta;
  parameters: Uint8Array;
  optimizer: Float32Array[];
}

/** Paths of checkpoint `kind` (`latest`, `best`, `final`) in a fold folder. */
export function checkpointPaths(foldDir: string, kind: string): { json: string; bin: string } {
  return { json: join(foldDir, `checkpoint_${kind}.json`), bin: join(foldDir, `checkpoint_${kind}.bin`) };
}

/**
 * Write a checkpoint atomically: the `.bin` (parameters + optimizer buffers) and the `.json` holding its size and
 * SHA-256 both go to flushed temporary files, then are renamed back to back (`writeFilesAtomic`). `meta.blobs`, `bin_bytes` and `bin_sha256` are filled in here.
 */
export async function saveCheckpoint(foldDir: string, kind: string, ck: Omit<Checkpoint, 'meta'> & { meta: Omit<CheckpointMeta, 'blobs' | 'bin_bytes' | 'bin_sha256'> }): Promise<void> {
  const parts: { name: string; bytes: Uint8Array }[] = [{ name: 'parameters', bytes: ck.parameters }];
  ck.optimizer.forEach((b, i) => parts.push({ name: `optimizer.${i}`, bytes: floatBytes(b) }));
  const blobs: CheckpointMeta['blobs'] = [];
  let off = 0;
  for (const p of parts) {
    blobs.push({ name: p.name, offset: off, length: p.bytes.length });
    off += p.bytes.length + ((4 - (p.bytes.length % 4)) % 4);
  }
  const bin = new Uint8Array(off);
  parts.forEach((p, i) => bin.set(p.bytes, blobs[i]!.offset));
  const sha = createHash('sha256').update(bin).digest('hex');
  const paths = checkpointPaths(foldDir, kind);
  const meta: CheckpointMeta = { ...ck.meta, blobs, bin_bytes: bin.length, bin_sha256: sha };
  // both written and flushed before either is renamed, so a kill never leaves a new .bin next to an old .json
  await writeFilesAtomic([{ path: paths.bin, data: bin }, { path: paths.json, data: JSON.stringify(meta, null, 1) }]);
}

function floatBytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i]!, true);
  return out;
}

function bytesFloat(b: Uint8Array): Float32Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** Type and range problems of checkpoint metadata (the `.json` is not covered by the checksum of the `.bin`). */
function metaProblems(meta: CheckpointMeta, binBytes: number): string[] {
  const out: string[] = [];
  const int = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
  for (const b of meta.blobs as unknown[]) {
    const x = b as { name?: unknown; offset?: unknown; length?: unknown } | null;
    if (!x || typeof x.name !== 'string' || !int(x.offset, 0) || !int(x.length, 0) || (x.offset as number) + (x.length as number) > binBytes) {
      out.push(`blob ${JSON.stringify(b)} is not a {name, offset, length} range inside the ${binBytes}-byte .bin`);
    } else if (x.name.startsWith('optimizer.') && (x.length as number) % 4 !== 0) out.push(`blob ${x.name} length ${x.length} is not a multiple of 4`);
  }
  const m = meta as unknown as Record<string, unknown>;
  for (const k of ['current_epoch', 'num_epochs', 'num_iterations_per_epoch', 'batch_size']) if (!int(m[k], 0)) out.push(`'${k}' must be a non-negative integer, got ${JSON.stringify(m[k])}`);
  for (const k of ['input_channels', 'num_classes']) if (!int(m[k], 1)) out.push(`'${k}' must be a positive integer, got ${JSON.stringify(m[k])}`);
  if (!Array.isArray(m.patch_size) || !m.patch_size.every((v) => int(v, 1))) out.push(`'patch_size' must be a list of positive integers, got ${JSON.stringify(m.patch_size)}`);
  return out;
}

/** True when both files of checkpoint `kind` exist. */
export async function hasCheckpoint(foldDir: string, kind: string): Promise<boolean> {
  const p = checkpointPaths(foldDir, kind);
  const ok = async (f: string) => fs.access(f).then(() => true, () => false);
  return (await ok(p.json)) && (await ok(p.bin));
}

/**
 * Read checkpoint `kind` of a fold folder and verify the `.bin` against the size and SHA-256 recorded in the `.json`.
 * Throws `DataError` naming the file when either is missing, unparsable, truncated or altered (B45).
 */
export async function loadCheckpoint(foldDir: string, kind: string): Promise<Checkpoint> {
  const p = checkpointPaths(foldDir, kind);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await fs.readFile(p.json, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new DataError(`cannot read checkpoint: ${(e as Error).message}`, { file: p.json, hint: 'train this fold (again) or use another checkpoint', cause: e });
  }
  if (!meta || typeof meta !== 'object' || meta.format !== 'nnunet-ts-checkpoint/1' || !Array.isArray(meta.blobs)) {
    throw new DataError('not an nnunet-ts checkpoint (unknown format)', { file: p.json, hint: 'train this fold with nnunet-ts' });
  }
  let bin: Uint8Array;
  try {
    bin = new Uint8Array(await fs.readFile(p.bin));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DataError(missing ? `checkpoint weights missing: ${basename(p.json)} is here but ${basename(p.bin)} is not (the .json holds only the metadata)` : `cannot read checkpoint weights: ${(e as Error).message}`, {
      file: p.bin,
      hint: missing ? `copy ${basename(p.bin)} together with ${basename(p.json)} (a checkpoint is both files), or train this fold again` : 'train this fold (again)',
      cause: e,
    });
  }
  if (bin.length !== meta.bin_bytes || createHash('sha256').update(bin).digest('hex') !== meta.bin_sha256) {
    throw new DataError(`checkpoint weights are corrupt (${bin.length} bytes, expected ${meta.bin_bytes}, checksum ${bin.length === meta.bin_bytes ? 'differs' : 'not checked'})`, {
      file: p.bin,
      hint: 'delete the fold folder and train again, or resume from another checkpoint',
    });
  }
  const bad = metaProblems(meta, bin.length);
  if (bad.length) throw new DataError(`checkpoint metadata is invalid: ${bad.join('; ')}`, { file: p.json, hint: 'the .json was edited or damaged: delete the fold folder and train again, or resume from another checkpoint' });
  const blob = (name: string) => {
    const b = meta.blobs.find((x) => x.name === name);
    if (!b) throw new DataError(`checkpoint has no '${name}' entry`, { file: p.json });
    return bin.subarray(b.offset, b.offset + b.length);
  };
  const optimizer = meta.blobs.filter((b) => b.name.startsWith('optimizer.')).map((b) => bytesFloat(blob(b.name)));
  return { meta, parameters: blob('parameters'), optimizer };
}
