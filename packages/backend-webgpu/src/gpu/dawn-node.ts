/**
 * Node-only: WebGPU through Dawn (npm `webgpu`, prebuilt `dawn.node`). Loaded through the package's `#dawn` import
 * condition, so browser bundles get `no-dawn.ts` instead and never see a Node built-in.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian/Ubuntu/Fedora chromium packages put SwiftShader's Vulkan ICD manifest. */
export const SWIFTSHADER_ICD_PATHS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
];

/** The SwiftShader ICD manifest to use: `$NNUNET_SWIFTSHADER_ICD`, else the first of `SWIFTSHADER_ICD_PATHS` that exists. */
export function findSwiftShaderIcd(): string | undefined {
  const env = process.env['NNUNET_SWIFTSHADER_ICD'];
  if (env) return existsSync(env) ? env : undefined;
  return SWIFTSHADER_ICD_PATHS.find((p) => existsSync(p));
}

/**
 * The folders the Vulkan loader scans for driver (ICD) manifests on Linux, in its order: `$XDG_CONFIG_HOME`,
 * `$XDG_CONFIG_DIRS`, `/etc`, `$XDG_DATA_HOME`, `$XDG_DATA_DIRS` (Khronos loader, docs/LoaderDriverInterface.md,
 * "Driver Discovery on Linux"), each with `vulkan/icd.d` appended.
 */
export function vulkanIcdFolders(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env['HOME'] ?? homedir();
  const list = (v: string | undefined, d: string): string[] => (v || d).split(':').filter((s) => s);
  const roots = [
    env['XDG_CONFIG_HOME'] || join(home, '.config'),
    ...list(env['XDG_CONFIG_DIRS'], '/etc/xdg'),
    '/etc',
    env['XDG_DATA_HOME'] || join(home, '.local/share'),
    ...list(env['XDG_DATA_DIRS'], '/usr/local/share:/usr/share'),
  ];
  return roots.map((r) => join(r, 'vulkan', 'icd.d'));
}

/**
 * True when the Vulkan loader would find a driver: a manifest named by `VK_DRIVER_FILES` / `VK_ICD_FILENAMES` /
 * `VK_ADD_DRIVER_FILES`, or any `*.json` in `vulkanIcdFolders()`. Without one, creating a Vulkan instance only
 * prints the loader's "vkCreateInstance: Found no drivers!" (VK_ERROR_INCOMPATIBLE_DRIVER) to stderr, so Dawn is
 * not asked then. Never throws.
 */
export function hasVulkanDriver(env: NodeJS.ProcessEnv = process.env): boolean {
  const named = [env['VK_DRIVER_FILES'], env['VK_ICD_FILENAMES'], env['VK_ADD_DRIVER_FILES']].filter((v): v is string => !!v);
  if (named.length) return named.some((v) => v.split(':').some((f) => f && existsSync(f)));
  return vulkanIcdFolders(env).some((d) => {
    try {
      return readdirSync(d).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

/** Vulkan's loader and Dawn want a private runtime folder; give the process one (mode 700) when none is set. */
function ensureRuntimeDir(): void {
  if (process.env['XDG_RUNTIME_DIR'] && existsSync(process.env['XDG_RUNTIME_DIR'])) return;
  process.env['XDG_RUNTIME_DIR'] = mkdtempSync(join(tmpdir(), 'nnunet-xdg-')); // mkdtemp creates it with mode 700
}

/**
 * dawn.node drives every pending promise (`mapAsync`, `onSubmittedWorkDone`) by re-arming itself with the global
 * `setImmediate` until the promise settles: while the GPU works, the JS thread spins at 100% in that loop. Profiled
 * on SwiftShader (`perf`, one 32->32 3x3x3 conv forward at (1, 32, 20, 28, 20), 22:45 UTC): about 30% of the
 * process's samples were that loop (node, libc malloc/free, dawn.node's ProcessEvents), a core taken from
 * SwiftShader's own worker threads; on a real GPU it burns a CPU core per wait. Here a native callback handed to
 * `setImmediate` (dawn.node's; JS callers pass JS functions and are untouched) runs after `NNUNET_DAWN_POLL_MS`
 * milliseconds (default 1; 0: off) instead, so a wait polls ~1000 times a second instead of spinning. Latency: at
 * most that many ms per read. Installed once per process.
 */
function throttleDawnPolling(): void {
  const ms = Number(process.env['NNUNET_DAWN_POLL_MS'] ?? 1);
  const g = globalThis as unknown as { setImmediate: (fn: (...a: unknown[]) => void, ...a: unknown[]) => unknown; __nnunetDawnPoll?: boolean };
  if (!(ms > 0) || g.__nnunetDawnPoll) return;
  g.__nnunetDawnPoll = true;
  const immediate = g.setImmediate;
  const native = (fn: unknown): boolean => typeof fn === 'function' && /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(fn));
  g.setImmediate = function (fn: (...a: unknown[]) => void, ...args: unknown[]): unknown {
    return native(fn) ? setTimeout(fn, ms, ...args) : immediate(fn, ...args);
  };
}

/** Dawn's `GPU` objects must outlive their adapters and devices (collecting one crashes Dawn): keep them all. */
const instances: GPU[] = [];

interface DawnModule {
  create(flags: string[]): GPU;
}

/**
 * Adapters through Dawn. `software`: `'never'` uses the system's Vulkan drivers only; `'fallback'` (default) points
 * the Vulkan loader at chromium's SwiftShader when no system driver gives an adapter; `'only'` uses SwiftShader
 * (for tests). Environment variables the user set (`VK_ICD_FILENAMES`, `VK_DRIVER_FILES`) are respected.
 * Returns `null` when the `webgpu` package is missing or no adapter is found; never throws.
 */
export async function dawnAdapter(
  software: 'never' | 'fallback' | 'only' = 'fallback',
  powerPreference: GPUPowerPreference = 'high-performance',
): Promise<GPUAdapter | null> {
  const userIcd = process.env['VK_ICD_FILENAMES'] ?? process.env['VK_DRIVER_FILES'];
  const system = (software !== 'only' || !!userIcd) && hasVulkanDriver();
  if (!system && (software === 'never' || userIcd || !findSwiftShaderIcd())) return null;
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch {
    return null;
  }
  ensureRuntimeDir();
  throttleDawnPolling();
  const request = async (): Promise<GPUAdapter | null> => {
    try {
      const gpu = dawn.create([]);
      instances.push(gpu);
      return await gpu.requestAdapter({ powerPreference });
    } catch {
      return null;
    }
  };
  // the system's drivers first; none installed: straight to SwiftShader, without the loader's stderr warning
  if (system) {
    const a = await request();
    if (a || userIcd) return a;
  }
  if (software === 'never' || userIcd) return null;
  const icd = findSwiftShaderIcd();
  if (!icd) return null;
  process.env['VK_ICD_FILENAMES'] = icd;
  return request();
}
