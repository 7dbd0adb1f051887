import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ItkImage } from './convert.js';

/**
 * Reusing itk-wasm read pipelines across reads.
 *
 * `readImageNode` of @itk-wasm/image-io loads, zstd-decodes and instantiates the reader's wasm module on every call
 * (about 100-150 ms), which dominates reading a DICOM series slice by slice. The Emscripten modules of itk-wasm are
 * built to be called repeatedly (itk-wasm's browser runner keeps them; `callMain` restores the stack each time), so
 * this module keeps one instance per format and runs it directly: about 5 ms per small read. A module is dropped
 * (and re-created on the next read) after a wasm abort and when its heap grew beyond `KEEP_BELOW_BYTES` (wasm memory
 * never shrinks, and a corrupt header can make ITK allocate a lot before it fails). The compiled `WebAssembly.Module`
 * of each pipeline is kept, so re-creating an instance costs an instantiation (a few ms), not another zstd decode and
 * compilation of the wasm binary (measured: about 0.8 CPU-s each for GDCM's, as V8 compiles it again in the
 * background; corrupt DICOM files drop the instance often). The runner uses two files of itk-wasm's `dist/pipeline/internal` folder, which its export map does not
 * list; when they are missing (another itk-wasm version), `cachedRead` returns null and the caller falls back to
 * `readImageNode`.
 */

/** A module whose wasm heap grew beyond this is dropped after the read (wasm memory never shrinks). */
const KEEP_BELOW_BYTES = 64 * 1024 ** 2;

/** File ending (lower case) -> @itk-wasm/image-io pipeline name. */
const PIPELINES: Record<string, string> = {
  '.nrrd': 'nrrd-read-image',
  '.nhdr': 'nrrd-read-image',
  '.mha': 'meta-read-image',
  '.mhd': 'meta-read-image',
  '.dcm': 'gdcm-read-image',
  '.nii': 'nifti-read-image',
  '.gz': 'nifti-read-image',
};

interface EmModule {
  HEAPU8?: Uint8Array;
  mountDir(dir: string): string;
  unmountDir(dir: string): void;
  fs_mkdirs(dir: string): void;
  fs_writeFile(path: string, data: Uint8Array): void;
  fs_unlink(path: string): void;
}

/**
 * Pipelines whose input is copied into the module's in-memory file system instead of reading the file through a
 * mounted host folder. GDCM leaves the file it reads open when it fails with a C++ exception: through a mounted folder
 * each such read leaked one operating-system file descriptor (1-2 per corrupt DICOM file, measured; the dicom fuzz
 * target, seed 2701, stopped with EMFILE after 41,949 inputs). In memory, an open stream is only an entry of the
 * instance's own file table (and a reference to the copy's bytes): the instance is dropped once failed reads left
 * `LEFT_OPEN_MAX` inputs or `LEFT_OPEN_MAX_BYTES` open in it. The other pipelines close
 * their files (0 descriptors left after 80 corrupt NRRD and MetaImage reads each).
 */
const IN_MEMORY = new Set(['gdcm-read-image']);
/** Folder of the in-memory input inside an instance's file system. */
const MEMORY_DIR = '/nnunet-input';
/**
 * An instance whose failed in-memory reads left more than this many input bytes (or `LEFT_OPEN_MAX` inputs) open in
 * its file table is dropped. Dropping after every failed read instead made a fresh instance per corrupt file
 * (about 30 CPU ms each: the dicom fuzz target went from 22 to 52 CPU ms per input).
 */
const LEFT_OPEN_MAX_BYTES = 32 * 1024 ** 2;
const LEFT_OPEN_MAX = 256;
/** Per instance: inputs (count, bytes) that failed in-memory reads left open. */
const leftOpen = new WeakMap<EmModule, { count: number; bytes: number }>();

/** Count a failed in-memory read of `bytes` on `m`; whether `m` must now be dropped. */
function leaveOpen(m: EmModule, bytes: number): boolean {
  const o = leftOpen.get(m) ?? { count: 0, bytes: 0 };
  o.count++;
  o.bytes += bytes;
  leftOpen.set(m, o);
  return o.count > LEFT_OPEN_MAX || o.bytes > LEFT_OPEN_MAX_BYTES;
}
/** The factory an itk-wasm pipeline's Emscripten `.js` file exports (MODULARIZE + EXPORT_ES6). */
type EmFactory = (moduleArg: { instantiateWasm?: (imports: object, receive: (instance: object, module: object) => void) => object }) => Promise<EmModule>;
/** The parts of the WebAssembly API used here (this package compiles without the DOM library's declarations). */
const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object>; instantiate(module: object, imports: object): Promise<object> } }).WebAssembly;
interface Internals {
  load(pipelinePath: string): Promise<EmModule>;
  /** zstd decoder of itk-wasm's own dependency, or null (then `load` is used for every instance). */
  zstd: { decode(bytes: Uint8Array): Uint8Array } | null;
  run(m: EmModule, args: string[], outputs: { type: string }[], inputs: unknown[]): { returnValue: number; stderr: string; outputs: { data: unknown }[] };
  types: { JsonCompatible: string; Image: string };
  pipelines: string;
}

let internals: Promise<Internals | null> | null = null;
const modules = new Map<string, Promise<EmModule>>();
const compiled = new Map<string, Promise<{ wasm: object; factory: EmFactory }>>();

/**
 * A fresh instance of pipeline `name`: its compiled wasm (kept across instances) instantiated through the Emscripten
 * factory's `instantiateWasm` hook; without the zstd decoder, itk-wasm's own loader.
 */
async function instantiate(it: Internals, name: string): Promise<EmModule> {
  const zstd = it.zstd;
  const base = join(it.pipelines, name);
  if (!zstd) return it.load(base);
  let c = compiled.get(name);
  if (!c) {
    c = (async () => {
      const wasm = await wasmApi.compile(zstd.decode(new Uint8Array(await readFile(`${base}.wasm.zst`))));
      const factory = ((await import(pathToFileURL(`${base}.js`).href)) as { default: EmFactory }).default;
      return { wasm, factory };
    })();
    compiled.set(name, c);
    c.catch(() => compiled.delete(name));
  }
  const { wasm, factory } = await c;
  let fail: (e: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const ready = factory({
    instantiateWasm(imports, receive) {
      wasmApi.instantiate(wasm, imports).then((i) => receive(i, wasm), fail);
      return {};
    },
  });
  return Promise.race([ready, failed]);
}

async function loadInternals(): Promise<Internals | null> {
  try {
    const req = createRequire(import.meta.url);
    const itkMain = req.resolve('itk-wasm');
    const dist = dirname(itkMain);
    const imageIo = createRequire(req.resolve('@itk-wasm/image-io')).resolve('@itk-wasm/image-io');
    const url = (p: string): string => pathToFileURL(join(dist, p)).href;
    const load = (await import(url('pipeline/internal/load-emscripten-module-node.js'))).default as Internals['load'];
    const run = (await import(url('pipeline/internal/run-pipeline-emscripten.js'))).default as Internals['run'];
    const { InterfaceTypes } = (await import(pathToFileURL(itkMain).href)) as { InterfaceTypes: Internals['types'] };
    if (typeof load !== 'function' || typeof run !== 'function' || !InterfaceTypes) return null;
    return { load, run, zstd: await zstdDecoder(req), types: InterfaceTypes, pipelines: join(dirname(imageIo), 'pipelines') };
  } catch {
    return null;
  }
}

/** itk-wasm's zstd decoder (`@thewtex/zstddec`, a dependency of itk-wasm), initialised; null when it is not there. */
async function zstdDecoder(req: NodeRequire): Promise<Internals['zstd']> {
  try {
    const fromItk = createRequire(req.resolve('itk-wasm'));
    const { ZSTDDecoder } = fromItk('@thewtex/zstddec') as { ZSTDDecoder: new () => { init(): Promise<void>; decode(b: Uint8Array): Uint8Array } };
    const d = new ZSTDDecoder();
    await d.init();
    return d;
  } catch {
    return null;
  }
}

/** Run `f` with console.log/console.error captured (itk-wasm prints wasm exceptions there). */
function quiet<T>(f: () => T, captured: string[]): T {
  const { log, error } = console;
  console.log = (...a: unknown[]) => void captured.push(a.map(String).join(' '));
  console.error = console.log;
  try {
    return f();
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** What `cachedRead` returns: the image, or why ITK could not read the file. */
export type CachedReadResult = { image: ItkImage } | { error: string };

/**
 * Read `path` with the cached itk-wasm pipeline for its ending, or `pipeline` (an @itk-wasm/image-io pipeline name,
 * for files without a telling ending: DICOM slices) (see the module comment), or null when there is no cached
 * pipeline or itk-wasm's internals are not available (the caller then uses `readImageNode`).
 */
export async function cachedRead(path: string, retried = false, pipeline?: string): Promise<CachedReadResult | null> {
  const name = pipeline ?? PIPELINES[extname(path).toLowerCase()];
  if (!name) return null;
  internals ??= loadInternals();
  const it = await internals;
  if (!it) return null;
  let pending = modules.get(name);
  if (!pending) {
    pending = instantiate(it, name);
    modules.set(name, pending);
  }
  const m = await pending;
  const inMemory = IN_MEMORY.has(name);
  const log: string[] = [];
  const copied = { bytes: 0 };
  let res: ReturnType<Internals['run']>;
  try {
    res = inMemory ? await runInMemory(it, m, path, log, copied) : runMounted(it, m, resolve(path), log);
  } catch (e) {
    // a C++ exception (thrown as a number) leaves the module usable; anything else (abort, OOM) may not. An in-memory
    // read that threw left its input open in the instance's file table: counted, and the instance goes past a bound.
    const tooManyOpen = inMemory && leaveOpen(m, copied.bytes);
    if (typeof e !== 'number' || tooManyOpen || (m.HEAPU8?.length ?? 0) > KEEP_BELOW_BYTES) modules.delete(name);
    // a wasm trap (memory access out of bounds, unreachable) can come from the instance's state left by earlier
    // reads, not from this file (the mhd fuzz target, seed 2613: a valid 4x2x1 file after ~28,000 reads): read once
    // more with a fresh instance; a file that traps again is refused
    if (typeof e !== 'number' && !retried) return cachedRead(path, true, pipeline);
    const why = log.find((l) => l && !/^(stdout|stderr):\s*$/.test(l) && !l.startsWith('Exception while') && !l.startsWith('Build module')) ?? (e instanceof Error ? e.message : `wasm exception ${String(e)}`);
    return { error: why.slice(0, 300) };
  }
  // wasm memory never shrinks: a read that grew the heap (a big image, or a corrupt header asking for one) drops it
  if ((m.HEAPU8?.length ?? 0) > KEEP_BELOW_BYTES) modules.delete(name);
  const couldRead = res.outputs[0]?.data === true;
  // a failed in-memory read may have left its input open in the instance's file table
  if (inMemory && (res.returnValue !== 0 || !couldRead) && leaveOpen(m, copied.bytes)) modules.delete(name);
  if (res.returnValue !== 0 || !couldRead) return { error: (res.stderr || log.join(' ') || 'the file is not in a format this reader understands').split('\n')[0]!.slice(0, 300) };
  const image = res.outputs[1]!.data as ItkImage;
  // the image's arrays are views that a heap growth during the read can detach (seen in the seeded fuzz test: a
  // valid file's direction came back empty): drop the instance and read once more with a fresh one
  if (!wellFormed(image)) {
    modules.delete(name);
    if (!retried) return cachedRead(path, true, pipeline);
    return { error: 'the reader returned an incomplete image (size, spacing, origin or direction missing)' };
  }
  return { image };
}

type RunResult = ReturnType<Internals['run']>;
const OUTPUTS = (it: Internals): { type: string }[] => [{ type: it.types.JsonCompatible }, { type: it.types.Image }];

/** Run the read pipeline on `abs` through its folder mounted into the instance's file system (host file descriptors). */
function runMounted(it: Internals, m: EmModule, abs: string, log: string[]): RunResult {
  const dir = dirname(abs);
  m.mountDir(dir);
  try {
    return quiet(() => it.run(m, [abs, '0', '1', '--memory-io'], OUTPUTS(it), []), log);
  } finally {
    m.unmountDir(dir);
  }
}

/**
 * Run the read pipeline on a copy of `path` in the instance's in-memory file system (see `IN_MEMORY`); the copy is
 * removed afterwards (`copied.bytes` is set to its size). Messages that name the in-memory copy name `path` instead.
 */
async function runInMemory(it: Internals, m: EmModule, path: string, log: string[], copied: { bytes: number }): Promise<RunResult> {
  const bytes = new Uint8Array(await readFile(path));
  copied.bytes = bytes.length;
  const copy = `${MEMORY_DIR}/input${extname(path).toLowerCase()}`;
  m.fs_mkdirs(MEMORY_DIR);
  m.fs_writeFile(copy, bytes);
  const at = log.length;
  try {
    const res = quiet(() => it.run(m, [copy, '0', '1', '--memory-io'], OUTPUTS(it), []), log);
    return { ...res, stderr: res.stderr.split(copy).join(path) };
  } finally {
    for (let i = at; i < log.length; i++) log[i] = log[i]!.split(copy).join(path);
    try {
      m.fs_unlink(copy);
    } catch {
      // already gone: nothing to remove
    }
  }
}

/** Whether an itk-wasm image has every geometry array at its dimension's length (D sizes, spacings, origins; D x D direction). */
function wellFormed(img: ItkImage): boolean {
  const D = img.imageType?.dimension ?? img.size?.length ?? 0;
  const len = (a: unknown): number => (a && typeof (a as ArrayLike<number>).length === 'number' ? (a as ArrayLike<number>).length : -1);
  return D > 0 && len(img.size) === D && len(img.spacing) === D && len(img.origin) === D && len(img.direction) === D * D;
}
