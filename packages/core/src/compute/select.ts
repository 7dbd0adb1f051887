import type { BackendPlugin, ComputeBackend } from '../contracts/backend.js';
import type { Registry } from '../registry/registry.js';
import type { DeviceBackend } from '../contracts/device.js';
import { HostDeviceBackend } from '../device/host-backend.js';
import { PluginError } from '../util/errors.js';

/** Availability of every registered backend, sorted by `priority` (lowest first). */
export async function listBackends(
  registry: Registry,
): Promise<{ name: string; priority: number; available: boolean }[]> {
  const plugins = [...registry.all('backend')].sort((a, b) => a.priority - b.priority);
  const out: { name: string; priority: number; available: boolean }[] = [];
  for (const p of plugins) out.push({ name: p.name, priority: p.priority, available: await safeAvailable(p) });
  return out;
}

async function safeAvailable(p: BackendPlugin): Promise<boolean> {
  try {
    return await p.isAvailable();
  } catch {
    return false;
  }
}

function describeList(list: { name: string; priority: number; available: boolean }[]): string {
  return list.map((b) => `${b.name} (priority ${b.priority}, ${b.available ? 'available' : 'not available'})`).join(', ');
}

/**
 * Choose and create the compute backend.
 *
 * - `name` undefined or `'auto'`: the registered backend with the lowest `priority` whose `isAvailable()` is true;
 *   if creating it throws, the next one is tried (the failure is logged).
 * - otherwise the backend registered under `name`, which must be available.
 *
 * The chosen backend's name and `info.description` are passed to `log` (default: `console.log`).
 * @throws PluginError when `name` is not registered or not available (the message lists every registered backend
 *   and whether it is available), or when no backend is available at all.
 */
export async function selectBackend(
  registry: Registry,
  name: string | 'auto' = 'auto',
  log: (s: string) => void = (s) => console.log(s),
): Promise<ComputeBackend> {
  return choose(registry, name, log, async (p) => {
    try {
      return await p.create();
    } catch (e) {
      // a device-only backend (webgpu) cannot serve the host-memory convolutions the trainer and predictor use today
      if (!p.createDevice) throw e;
      throw new PluginError(`compute backend '${p.name}' implements only the device-resident contract, which training and prediction do not run on yet`, {
        hint: `use --backend auto or cpu-native (its contract suite and bench run on '${p.name}': npm run bench -- --backend ${p.name})`,
      });
    }
  });
}

/**
 * Choose and create a device backend (`contracts/device.ts`), with the same choice rules and errors as
 * `selectBackend`: the plugin's `createDevice()`, or its `create()` convolutions inside a `HostDeviceBackend`.
 * @throws PluginError as `selectBackend`.
 */
export async function selectDevice(
  registry: Registry,
  name: string | 'auto' = 'auto',
  log: (s: string) => void = (s) => console.log(s),
): Promise<DeviceBackend> {
  return choose(registry, name, log, (p) => createDevice(p));
}

/** The plugin's device backend: `createDevice()`, else its compute backend wrapped in a `HostDeviceBackend`. */
export async function createDevice(p: BackendPlugin): Promise<DeviceBackend> {
  if (p.createDevice) return p.createDevice();
  return new HostDeviceBackend(await p.create(), { name: p.name });
}

async function choose<B extends { info: { name: string; description: string } }>(
  registry: Registry,
  name: string,
  log: (s: string) => void,
  make: (p: BackendPlugin) => Promise<B>,
): Promise<B> {
  // Only the backends the choice needs are probed (a probe can load a GPU driver): the named one, or with auto
  // the candidates in priority order up to the first that starts. The full list is built only for an error.
  if (name !== 'auto') {
    const plugin = registry.has('backend', name) ? registry.get('backend', name) : undefined;
    if (!plugin) {
      const list = await listBackends(registry);
      throw new PluginError(`no compute backend named '${name}'`, {
        hint: `registered: ${describeList(list) || '(none)'}; use --backend auto or one of these`,
      });
    }
    if (!(await safeAvailable(plugin))) {
      throw new PluginError(`compute backend '${name}' is not available on this machine`, {
        hint: `registered: ${describeList(await listBackends(registry))}; install its optional dependency or pick another`,
      });
    }
    const backend = await make(plugin);
    log(`compute backend: ${backend.info.name} - ${backend.info.description}`);
    return backend;
  }
  const errors: string[] = [];
  for (const plugin of [...registry.all('backend')].sort((a, b) => a.priority - b.priority)) {
    if (!(await safeAvailable(plugin))) continue;
    const skip = await plugin.autoSkipReason?.().catch(() => undefined);
    if (skip) {
      log(`compute backend ${plugin.name} skipped by auto: ${skip}`);
      continue;
    }
    try {
      const backend = await make(plugin);
      log(`compute backend: ${backend.info.name} (auto) - ${backend.info.description}`);
      return backend;
    } catch (e) {
      errors.push(`${plugin.name}: ${(e as Error).message}`);
      log(`compute backend ${plugin.name} failed to start (${(e as Error).message}); trying the next one`);
    }
  }
  const list = await listBackends(registry);
  throw new PluginError('no compute backend is available', {
    hint: `registered: ${describeList(list) || '(none)'}${errors.length ? `; failures: ${errors.join('; ')}` : ''}`,
  });
}
