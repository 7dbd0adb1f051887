/**
 * Shared glue for the bad-input tests: a registry with every package's defaults, a lookup that turns a missing
 * export into a clear "implementation missing" failure, and helpers that turn a thrown error or a returned report
 * into text the tests can assert on.
 */
import * as core from '@nnunet-ts/core';
import * as ioNifti from '@nnunet-ts/io-nifti';
import * as ioItk from '@nnunet-ts/io-itk';
import * as cli from '@nnunet-ts/cli';
import type { ImageReader, ImageWriter, MedicalImage, Registry } from '@nnunet-ts/core';

export { core, ioNifti, ioItk, cli };

type AnyFn = (...args: any[]) => any;

/** A named export of a module, or a clear failure naming what is missing. */
export function need<T = AnyFn>(mod: Record<string, unknown>, name: string, pkg = '@nnunet-ts/core'): T {
  const v = mod[name];
  if (v === undefined) throw new Error(`implementation missing: ${name} is not exported by ${pkg}`);
  return v as T;
}

/** True when the module exports `name`. */
export function has(mod: Record<string, unknown>, name: string): boolean {
  return mod[name] !== undefined;
}

/** A fresh registry with core, io-nifti and io-itk defaults (whatever of them exists yet). */
export function makeRegistry(): Registry {
  const reg = new core.Registry();
  const c = core as unknown as Record<string, unknown>;
  if (typeof c['registerCoreDefaults'] === 'function') (c['registerCoreDefaults'] as AnyFn)(reg);
  for (const m of [ioNifti, ioItk] as unknown as Record<string, unknown>[]) {
    if (typeof m['registerDefaults'] === 'function') (m['registerDefaults'] as AnyFn)(reg, { override: true });
  }
  return reg;
}

/** Register every package's defaults (networks, loss, augmentation, backends) on top of `makeRegistry`. */
export async function makeFullRegistry(): Promise<Registry> {
  const reg = makeRegistry();
  const pkgs = [
    '@nnunet-ts/net-unet3d',
    '@nnunet-ts/net-unet2d',
    '@nnunet-ts/net-cascade',
    '@nnunet-ts/loss',
    '@nnunet-ts/augment',
    '@nnunet-ts/backend-cpu',
  ];
  for (const p of pkgs) {
    try {
      const m = (await import(p)) as Record<string, unknown>;
      if (typeof m['registerDefaults'] === 'function') (m['registerDefaults'] as AnyFn)(reg, { override: true });
    } catch {
      /* package not usable yet */
    }
  }
  return reg;
}

/** The NIfTI reader: the registry's `nifti` reader, else io-nifti's `readNifti`. */
export function niftiReader(reg = makeRegistry()): ImageReader {
  if (reg.has('reader', 'nifti')) return reg.get('reader', 'nifti');
  const read = need<(p: string) => Promise<MedicalImage>>(ioNifti as never, 'readNifti', '@nnunet-ts/io-nifti');
  return { name: 'nifti', extensions: ['.nii', '.nii.gz'], read };
}

/** The NIfTI writer from the registry, else io-nifti's `writeNifti`. */
export function niftiWriter(reg = makeRegistry()): ImageWriter {
  if (reg.has('writer', 'nifti')) return reg.get('writer', 'nifti');
  const write = need<ImageWriter['write']>(ioNifti as never, 'writeNifti', '@nnunet-ts/io-nifti');
  return { name: 'nifti', extensions: ['.nii', '.nii.gz'], write };
}

/** Message, hint and name of an error, joined (what a user would see). */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const hint = (e as { hint?: string }).hint;
    const cause = e.cause instanceof Error ? ` (cause: ${e.cause.message})` : '';
    return `${e.name}: ${e.message}${hint ? `\nhint: ${hint}` : ''}${cause}`;
  }
  return String(e);
}

/** Run `f` and return the error it throws; fails when it does not throw. */
export async function thrown(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but the call returned normally');
}

/** True for the errors a user may see (DataError/NnunetError), i.e. not a raw TypeError/RangeError. */
export function isUserError(e: unknown): boolean {
  return e instanceof core.NnunetError || (e instanceof Error && /^(DataError|NnunetError)$/.test(e.name));
}

/**
 * Load a dataset folder (`loadDataset`) and run the validator (`validateDataset(ds, registry)`), flattening the
 * outcome: `ok` false when either throws a user error or the report has problems; `text` holds every message
 * (problems and notes) so tests can look for file names, values and fixes; `errorText` only the problems.
 */
export async function validate(
  folder: string,
  opts?: Record<string, unknown>,
): Promise<{ ok: boolean; text: string; errorText: string; report?: unknown; loadError?: Error }> {
  const loadDataset = need<AnyFn>(core as never, 'loadDataset');
  const validateDataset = need<AnyFn>(core as never, 'validateDataset');
  let ds: unknown;
  try {
    ds = await loadDataset(folder);
  } catch (e) {
    if (!isUserError(e)) throw e;
    return { ok: false, text: errorText(e), errorText: errorText(e), loadError: e as Error };
  }
  try {
    const report = await validateDataset(ds, makeRegistry(), opts);
    const errs = collect(report, ['errors', 'problems', 'issues']);
    const warns = collect(report, ['warnings', 'notes']);
    const okField = (report as { ok?: boolean; valid?: boolean })?.ok ?? (report as { valid?: boolean })?.valid;
    const ok = typeof okField === 'boolean' ? okField : errs.length === 0;
    return { ok, text: [...errs, ...warns].join('\n') || JSON.stringify(report), errorText: errs.join('\n'), report };
  } catch (e) {
    if (!isUserError(e)) throw e;
    return { ok: false, text: errorText(e), errorText: errorText(e) };
  }
}

function collect(report: unknown, keys: string[]): string[] {
  if (!report || typeof report !== 'object') return [];
  const out: string[] = [];
  for (const k of keys) {
    const v = (report as Record<string, unknown>)[k];
    if (Array.isArray(v)) for (const item of v) out.push(typeof item === 'string' ? item : itemText(item));
  }
  return out;
}

function itemText(item: unknown): string {
  if (item instanceof Error) return errorText(item);
  if (item && typeof item === 'object') {
    const o = item as Record<string, unknown>;
    const parts = [o['file'], o['case'], o['message'], o['hint']].filter((x) => typeof x === 'string');
    return parts.length ? parts.join(': ') : JSON.stringify(o);
  }
  return String(item);
}

/** All numbers appearing in a text. */
export function numbersIn(text: string): number[] {
  return (text.match(/-?\d+(?:\.\d+)?(?:e-?\d+)?/gi) ?? []).map(Number);
}

/** True when some number in `text` is within `tol` of `x`. */
export function mentionsNumber(text: string, x: number, tol: number): boolean {
  return numbersIn(text).some((n) => Math.abs(n - x) <= tol);
}
