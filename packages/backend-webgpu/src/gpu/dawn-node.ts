/**
 * Node-only: WebGPU through Dawn (npm `webgpu`, prebuilt `dawn.node`). Loaded through the package's `#dawn` import
 * condition, so browser bundles get `no-dawn.ts` instead and never see a Node built-in.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Vulkan's loader and Dawn want a private runtime folder; give the process one (mode 700) when none is set. */
function ensureRuntimeDir(): void {
  if (process.env['XDG_RUNTIME_DIR'] && existsSync(process.env['XDG_RUNTIME_DIR'])) return;
  process.env['XDG_RUNTIME_DIR'] = mkdtempSync(join(tmpdir(), 'nnunet-xdg-')); // mkdtemp creates it with mode 700
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
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch {
    return null;
  }
  ensureRuntimeDir();
  const userIcd = process.env['VK_ICD_FILENAMES'] ?? process.env['VK_DRIVER_FILES'];
  const request = async (): Promise<GPUAdapter | null> => {
    try {
      const gpu = dawn.create([]);
      instances.push(gpu);
      return await gpu.requestAdapter({ powerPreference });
    } catch {
      return null;
    }
  };
  if (software !== 'only' || userIcd) {
    const a = await request();
    if (a || userIcd || software === 'never') return a;
  }
  const icd = findSwiftShaderIcd();
  if (!icd) return null;
  process.env['VK_ICD_FILENAMES'] = icd;
  return request();
}
