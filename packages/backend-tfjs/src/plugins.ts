import { cpuModel, vulkanDriverListed } from '#host';
import type { BackendPlugin, ComputeBackend, DeviceBackend, DeviceInfo } from '@nnunet-ts/core';
import { createTfjsConvBackend, hasConvKernels, type TfApi } from './tfjs-backend.js';
import { createMatMulConvBackend, tfjsMatMul } from './matmul-backend.js';
import { TfjsDeviceBackend, type TfjsDeviceOptions } from './device/backend.js';
import type { Tf } from './device/handle.js';

/** A dynamic `import()` (injectable so tests can simulate installed or missing optional packages). */
export type Importer = (specifier: string) => Promise<unknown>;

const defaultImporter: Importer = (s) => import(s);

/** tfjs-core plus engine switching, as used to initialise asynchronous tfjs backends. */
interface TfCore extends TfApi {
  setBackend(name: string): Promise<boolean>;
  getBackend(): string;
  env(): { getBool(flag: string): boolean };
}

async function tfCore(importer: Importer): Promise<TfCore> {
  return (await importer('@tensorflow/tfjs-core')) as TfCore;
}

/** Makes `name` initialised inside tfjs's engine, then restores the previously active tfjs backend. */
async function initTfBackend(tf: TfCore, name: string): Promise<boolean> {
  if (tf.findBackend(name)) return true; // synchronous backends initialise on lookup
  let prev: string | undefined;
  try {
    prev = tf.getBackend();
  } catch {
    prev = undefined;
  }
  const ok = await tf.setBackend(name);
  if (prev && prev !== name) await tf.setBackend(prev);
  return ok && tf.findBackend(name) != null;
}

/**
 * The device contract on tfjs tensors of tfjs backend `tfName`, made the process-wide tfjs backend (tfjs ops run
 * on the global backend; one device backend per process).
 */
async function tfjsDevice(tf: TfCore, tfName: string, info: Omit<DeviceInfo, 'capabilities'>, opts: TfjsDeviceOptions = {}): Promise<DeviceBackend> {
  if (!(await tf.setBackend(tfName))) throw new Error(`${info.name}: tfjs backend '${tfName}' did not initialise`);
  return new TfjsDeviceBackend(tf as unknown as Tf, info, opts);
}

/** `tfjs-cpu` (priority 90): tfjs's pure-JavaScript kernels (about 0.5 GFLOP/s for 3D convolution). */
export function tfjsCpuPlugin(opts: { importer?: Importer } = {}): BackendPlugin {
  const importer = opts.importer ?? defaultImporter;
  const load = async (): Promise<TfCore> => {
    const tf = await tfCore(importer);
    await importer('@tensorflow/tfjs-backend-cpu');
    if (!(await initTfBackend(tf, 'cpu'))) throw new Error("tfjs-cpu: tfjs backend 'cpu' did not initialise");
    return tf;
  };
  return {
    name: 'tfjs-cpu',
    priority: 90,
    isAvailable: async () => load().then(
      (tf) => hasConvKernels(tf, 'cpu'),
      () => false,
    ),
    create: async (): Promise<ComputeBackend> =>
      createTfjsConvBackend(await load(), 'cpu', {
        name: 'tfjs-cpu',
        description: `@tensorflow/tfjs-backend-cpu Conv3D kernels (JavaScript, 1 thread) on ${cpuModel()}`,
        gpu: false,
        threads: 1,
      }),
    createDevice: async (): Promise<DeviceBackend> =>
      tfjsDevice(await load(), 'cpu', { name: 'tfjs-cpu', description: `tfjs ops on @tensorflow/tfjs-backend-cpu (JavaScript, 1 thread) on ${cpuModel()}`, gpu: false, threads: 1 }),
  };
}

/**
 * `tfjs-wasm` (priority 60): tfjs's WebAssembly backend. By default the convolutions are im2col tiles built in
 * JavaScript times XNNPACK's BatchMatMul (tens of times faster than tfjs-wasm's own Conv3D kernels, whose backward
 * passes are also wrong in 4.22); `useConv3dKernels` uses the Conv3D kernels instead (backward emulated).
 */
export function tfjsWasmPlugin(opts: { importer?: Importer; threads?: number; useConv3dKernels?: boolean } = {}): BackendPlugin {
  const importer = opts.importer ?? defaultImporter;
  let loading: Promise<TfCore> | undefined;
  const load = (): Promise<TfCore> =>
    (loading ??= (async () => {
      const tf = await tfCore(importer);
      const wasm = (await importer('@tensorflow/tfjs-backend-wasm')) as { setThreadsCount?: (n: number) => void };
      if (opts.threads) wasm.setThreadsCount?.(opts.threads);
      if (!(await initTfBackend(tf, 'wasm'))) throw new Error("tfjs-wasm: tfjs backend 'wasm' did not initialise");
      return tf;
    })());
  return {
    name: 'tfjs-wasm',
    priority: 60,
    isAvailable: async () => load().then(
      (tf) => hasConvKernels(tf, 'wasm'),
      () => false,
    ),
    create: async (): Promise<ComputeBackend> => {
      const tf = await load();
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
      const mt = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
      const info = {
        name: 'tfjs-wasm',
        description: `@tensorflow/tfjs-backend-wasm (${simd ? 'SIMD' : 'no SIMD'}, ${mt ? 'multi-threaded' : '1 thread'}) ${
          opts.useConv3dKernels ? 'Conv3D kernels' : 'XNNPACK BatchMatMul on JavaScript im2col tiles'
        } on ${cpuModel()}`,
        gpu: false,
      };
      if (opts.useConv3dKernels) return createTfjsConvBackend(tf, 'wasm', info, { emulateBackward: true });
      const mm = tf.getKernel('BatchMatMul', 'wasm');
      if (!mm) throw new Error("tfjs-wasm: no BatchMatMul kernel");
      return createMatMulConvBackend(tfjsMatMul(tf.findBackend('wasm'), mm.kernelFunc), info);
    },
    // tfjs-wasm 4.22's Conv3DBackpropInputV2 / strided Conv3DBackpropFilterV2 are wrong: emulate them
    createDevice: async (): Promise<DeviceBackend> =>
      tfjsDevice(await load(), 'wasm', { name: 'tfjs-wasm', description: `tfjs ops on @tensorflow/tfjs-backend-wasm (Conv3D kernels, emulated backward) on ${cpuModel()}`, gpu: false }, { emulateBackward: true }),
  };
}

/**
 * `tensorflow` (priority 1): libtensorflow through `@tensorflow/tfjs-node-gpu` (CUDA) or else `@tensorflow/tfjs-node`.
 * Both are optional peer dependencies (their install downloads libtensorflow); unavailable when neither imports.
 */
export function tensorflowPlugin(
  opts: { importer?: Importer; modules?: string[]; tfBackendName?: string } = {},
): BackendPlugin {
  const importer = opts.importer ?? defaultImporter;
  const modules = opts.modules ?? ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  const tfName = opts.tfBackendName ?? 'tensorflow';
  let loading: Promise<{ tf: TfCore; module: string }> | undefined;
  const load = (): Promise<{ tf: TfCore; module: string }> =>
    (loading ??= (async () => {
      const errors: string[] = [];
      for (const m of modules) {
        try {
          const tf = (await importer(m)) as TfCore;
          if (await initTfBackend(tf, tfName)) return { tf, module: m };
          errors.push(`${m}: backend '${tfName}' did not initialise`);
        } catch (e) {
          errors.push(`${m}: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      throw new Error(`tensorflow: none of ${modules.join(', ')} is usable (${errors.join('; ')})`);
    })());
  return {
    name: 'tensorflow',
    priority: 1,
    isAvailable: async () => load().then(
      ({ tf }) => hasConvKernels(tf, tfName),
      () => false,
    ),
    create: async (): Promise<ComputeBackend> => {
      const { tf, module } = await load();
      const gpu = module.endsWith('-gpu');
      return createTfjsConvBackend(tf, tfName, {
        name: 'tensorflow',
        description: `libtensorflow via ${module} (${gpu ? 'CUDA GPU when present' : 'CPU'})`,
        gpu,
      });
    },
    createDevice: async (): Promise<DeviceBackend> => {
      const { tf, module } = await load();
      const gpu = module.endsWith('-gpu');
      return tfjsDevice(tf, tfName, { name: 'tensorflow', description: `tfjs ops on libtensorflow via ${module} (${gpu ? 'CUDA GPU when present' : 'CPU'}), tensors stay in libtensorflow`, gpu });
    },
  };
}

/**
 * `webgpu` (priority 2): `@tensorflow/tfjs-backend-webgpu` on the `webgpu` npm package (Dawn: Vulkan / Metal / D3D12)
 * in Node; available only when both import and a GPU adapter exists. Optional peer dependencies.
 * Caveat: the backend contract is synchronous; it relies on tfjs-webgpu's `readSync`, and on tfjs-webgpu having
 * the three Conv3D kernels registered (checked by `isAvailable`).
 */
export function tfjsWebgpuPlugin(opts: { importer?: Importer; powerPreference?: 'high-performance' | 'low-power' } = {}): BackendPlugin {
  const importer = opts.importer ?? defaultImporter;
  let loading: Promise<{ tf: TfCore; adapter: string }> | undefined;
  const load = (): Promise<{ tf: TfCore; adapter: string }> =>
    (loading ??= (async () => {
      const g = globalThis as { navigator?: { gpu?: { requestAdapter(o?: object): Promise<unknown> } } };
      if (!g.navigator?.gpu) {
        // no driver: do not open a Vulkan instance at all (its loader would print a warning on every probe)
        if (!opts.importer && !vulkanDriverListed()) throw new Error('webgpu: no Vulkan driver');
        const dawn = (await importer('webgpu')) as { create(flags: string[]): unknown; globals?: object };
        if (dawn.globals) Object.assign(globalThis, dawn.globals);
        const gpu = dawn.create([]);
        if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
        else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      }
      const adapter = (await g.navigator!.gpu!.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' })) as
        | { info?: { vendor?: string; architecture?: string; description?: string } }
        | null;
      if (!adapter) throw new Error('webgpu: no GPU adapter');
      const tf = await tfCore(importer);
      await importer('@tensorflow/tfjs-backend-webgpu');
      if (!(await initTfBackend(tf, 'webgpu'))) throw new Error("webgpu: tfjs backend 'webgpu' did not initialise");
      const i = adapter.info ?? {};
      return { tf, adapter: [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || 'GPU adapter' };
    })());
  return {
    name: 'tfjs-webgpu',
    priority: 3,
    isAvailable: async () => load().then(
      ({ tf }) => hasConvKernels(tf, 'webgpu'),
      () => false,
    ),
    create: async (): Promise<ComputeBackend> => {
      const { tf, adapter } = await load();
      return createTfjsConvBackend(tf, 'webgpu', {
        name: 'tfjs-webgpu',
        description: `@tensorflow/tfjs-backend-webgpu on Dawn (${adapter})`,
        gpu: true,
      });
    },
    createDevice: async (): Promise<DeviceBackend> => {
      const { tf, adapter } = await load();
      return tfjsDevice(tf, 'webgpu', { name: 'tfjs-webgpu', description: `tfjs ops on @tensorflow/tfjs-backend-webgpu (${adapter})`, gpu: true });
    },
    // tfjs-webgpu's software adapters are as slow as ours: let auto skip them the same way
    autoSkipReason: async () => {
      const { adapter } = await load();
      return /swiftshader|llvmpipe|lavapipe/i.test(adapter) ? `only a software adapter (${adapter})` : undefined;
    },
  };
}
