import type { Parameter } from '../contracts/network.js';
import { NnunetError } from '../util/errors.js';
import { PyDict, PyTuple, toPlain, type PyValue } from './pickle.js';
import { isTorchTensor, readTorchCheckpoint, tensorToFloat32, type TorchCheckpoint, type TorchTensor } from './torch-checkpoint.js';

/**
 * An nnU-Net v2 `checkpoint_*.pth` as written by `nnUNetTrainer.save_checkpoint`
 * (nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py): `network_weights` (the network's `state_dict()`), `init_args`
 * (plans, configuration, fold, dataset_json, ...), `trainer_name`, `inference_allowed_mirroring_axes`,
 * `current_epoch`, `logging`, `_best_ema` (and, unless stripped, `optimizer_state`, `grad_scaler_state`).
 */
export interface NnunetCheckpoint {
  file: string;
  /** The trainer class that wrote it (its network is built from the plans unless the class overrides that). */
  trainerName: string;
  /** `init_args.configuration` (what the predictor uses; the folder name says the same). */
  configuration: string | null;
  fold: number | 'all' | null;
  /** Axes of the patch along which test-time mirroring is allowed (`[]`: none). */
  mirrorAxes: number[];
  currentEpoch: number | null;
  /** `state_dict` entries in file order (aliases included: several names may share one storage). */
  weights: Map<string, TorchTensor>;
  /** `init_args` as plain JSON-like data (tensors and devices shown as strings). */
  initArgs: Record<string, unknown>;
  /** Top-level keys of the checkpoint dict, in order. */
  keys: string[];
  raw: TorchCheckpoint;
}

function fieldOf(root: PyDict, key: string, file: string): PyValue {
  if (!root.has(key)) throw new NnunetError(`the checkpoint has no '${key}' entry (keys: ${[...root.keys()].join(', ')})`, { file, hint: 'pass a checkpoint written by an nnU-Net v2 trainer (fold_x/checkpoint_final.pth)' });
  return root.get(key)!;
}

function mirrorAxesOf(v: PyValue | undefined): number[] {
  if (v === null || v === undefined) return [];
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : [v];
  return items.filter((x): x is number => typeof x === 'number');
}

/** JSON-like view of init_args: tensors and other objects become short descriptive strings. */
function plainInitArgs(v: PyValue | undefined): Record<string, unknown> {
  if (!(v instanceof PyDict)) return {};
  const o = toPlain(v) as Record<string, unknown>;
  for (const [k, x] of Object.entries(o)) {
    if (x && typeof x === 'object' && 'pyKind' in x) o[k] = (x as { pyKind: string; device?: string }).device ?? `<${(x as { pyKind: string }).pyKind}>`;
  }
  return o;
}

/**
 * Parse an nnU-Net v2 checkpoint (bytes of `checkpoint_final.pth` / `checkpoint_best.pth`) with the restricted
 * unpickler: nothing is executed or imported.
 * @throws NnunetError naming `file` when it is not a torch zip, holds globals beyond plain tensors/numbers, or lacks
 *   `network_weights`
 */
export function readNnunetCheckpoint(bytes: Uint8Array, file: string): NnunetCheckpoint {
  const raw = readTorchCheckpoint(bytes, file);
  const root = raw.root;
  if (!(root instanceof PyDict)) throw new NnunetError('the checkpoint is not a dict', { file, hint: 'pass a checkpoint written by an nnU-Net v2 trainer' });
  const sd = fieldOf(root, 'network_weights', file);
  if (!(sd instanceof PyDict)) throw new NnunetError("'network_weights' is not a state dict", { file });
  const weights = new Map<string, TorchTensor>();
  for (const [k, t] of sd) {
    if (typeof k !== 'string' || !isTorchTensor(t)) throw new NnunetError(`network_weights entry ${String(k)} is not a tensor`, { file });
    weights.set(k, t);
  }
  const init = root.get('init_args');
  const initArgs = plainInitArgs(init);
  const fold = initArgs.fold;
  return {
    file,
    trainerName: typeof root.get('trainer_name') === 'string' ? (root.get('trainer_name') as string) : 'nnUNetTrainer',
    configuration: typeof initArgs.configuration === 'string' ? initArgs.configuration : null,
    fold: typeof fold === 'number' || fold === 'all' ? fold : null,
    mirrorAxes: mirrorAxesOf(root.get('inference_allowed_mirroring_axes')),
    currentEpoch: typeof root.get('current_epoch') === 'number' ? (root.get('current_epoch') as number) : null,
    weights,
    initArgs,
    keys: [...root.keys()].map(String),
    raw,
  };
}

/** Prefixes that wrappers add to state-dict names (DDP `module.`, torch.compile `_orig_mod.`). */
const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

function stripWrappers(name: string): string {
  for (let again = true; again; ) {
    again = false;
    for (const p of WRAPPER_PREFIXES) {
      if (name.startsWith(p)) {
        name = name.slice(p.length);
        again = true;
      }
    }
  }
  return name;
}

function sameView(a: TorchTensor, b: TorchTensor): boolean {
  return a.storage.key === b.storage.key && a.offset === b.offset && a.shape.join() === b.shape.join() && a.stride.join() === b.stride.join();
}

function listNames(names: string[], max = 12): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')}, ... (${names.length} in all)`;
}

/**
 * Whether a checkpoint tensor of shape `theirs` fills our parameter of shape `ours`: equal shapes, or our 2D
 * networks' `[out, in, 1, ky, kx]` kernels against PyTorch's `[out, in, ky, kx]` (same values in C order).
 */
export function fitsShape(ours: number[], theirs: number[]): boolean {
  if (ours.join() === theirs.join()) return true;
  return ours.length === theirs.length + 1 && ours.length === 5 && ours[2] === 1 && [...ours.slice(0, 2), ...ours.slice(3)].join() === theirs.join();
}

/**
 * Copy a checkpoint's `network_weights` into a network's parameters by name (our names are
 * dynamic_network_architectures' `named_parameters()`). State-dict entries that alias a mapped entry (same storage
 * and view: e.g. `...convs.0.all_modules.0.weight` = `...convs.0.conv.weight`, `decoder.encoder.*` = `encoder.*`)
 * are accepted; anything else that does not fit refuses the whole checkpoint (nothing is written then).
 * @throws NnunetError listing the parameter names missing from the checkpoint, the checkpoint names with no
 *   parameter, and those whose shapes differ
 */
export function mapNetworkWeights(params: Parameter[], ck: NnunetCheckpoint): void {
  const byName = new Map<string, TorchTensor>();
  for (const [k, t] of ck.weights) if (!byName.has(stripWrappers(k))) byName.set(stripWrappers(k), t);
  const missing: string[] = [];
  const wrongShape: string[] = [];
  const used: TorchTensor[] = [];
  for (const p of params) {
    const t = byName.get(p.name);
    if (!t) missing.push(p.name);
    else if (!fitsShape(p.shape, t.shape)) wrongShape.push(`${p.name} [${t.shape}] vs ours [${p.shape}]`);
    else used.push(t);
  }
  const mapped = new Set(params.map((p) => p.name));
  const unexpected = [...byName.entries()].filter(([k, t]) => !mapped.has(k) && !used.some((u) => sameView(u, t))).map(([k]) => k);
  if (missing.length || wrongShape.length || unexpected.length) {
    const parts = [
      missing.length ? `missing from the checkpoint: ${listNames(missing)}` : '',
      unexpected.length ? `in the checkpoint but not in our network: ${listNames(unexpected)}` : '',
      wrongShape.length ? `shapes differ: ${listNames(wrongShape, 6)}` : '',
    ].filter(Boolean);
    throw new NnunetError(`the checkpoint's network_weights do not fit the network built from the plans (trainer ${ck.trainerName}): ${parts.join('; ')}`, {
      file: ck.file,
      hint: 'only PlainConvUNet and ResidualEncoderUNet as nnU-Net builds them from plans.json are supported; a trainer that changes the network (e.g. BatchNorm or another architecture) cannot be mapped',
    });
  }
  params.forEach((p, i) => p.value.set(tensorToFloat32(ck.raw, used[i]!)));
}
