/**
 * Finding a WebGPU adapter from one source for browsers and Node: `navigator.gpu` when the runtime has it
 * (browsers, Deno), Dawn through the `webgpu` npm package in Node.
 */
import { dawnAdapter } from '#dawn';

/** How to treat software adapters (SwiftShader, llvmpipe/lavapipe, WARP). */
export type SoftwarePolicy = 'never' | 'fallback' | 'only';

/** An adapter plus what we know about it. */
export interface AdapterChoice {
  adapter: GPUAdapter;
  /** True for CPU implementations of the API (SwiftShader, lavapipe, WARP): correct but slow. */
  software: boolean;
  /** `vendor architecture device description`, for logs. */
  label: string;
  /** `navigator.gpu` or `dawn (npm webgpu)`. */
  via: string;
}

/** True for adapters that run on the CPU: `info.isFallbackAdapter` or a known software driver name. */
export function isSoftwareAdapter(a: GPUAdapter): boolean {
  const info = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info?.isFallbackAdapter) return true;
  const s = `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.device ?? ''} ${info?.description ?? ''}`;
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|warp/i.test(s);
}

function describe(a: GPUAdapter): string {
  const i = a.info;
  return [i?.vendor, i?.architecture, i?.device, i?.description].filter((s) => s).join(' ') || 'unknown adapter';
}

/**
 * Requests an adapter (`high-performance`). In a browser only `navigator.gpu` is used; in Node, Dawn, with
 * SwiftShader as the last resort unless `software` is `'never'`. Returns `null` when there is none; never throws.
 */
export async function findAdapter(software: SoftwarePolicy = 'fallback'): Promise<AdapterChoice | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  let adapter: GPUAdapter | null = null;
  let via = 'navigator.gpu';
  if (nav?.gpu) {
    try {
      adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
    } catch {
      adapter = null;
    }
  }
  if (!adapter) {
    adapter = await dawnAdapter(software);
    via = 'dawn (npm webgpu)';
  }
  if (!adapter) return null;
  const sw = isSoftwareAdapter(adapter);
  if (sw && software === 'never') return null;
  return { adapter, software: sw, label: describe(adapter), via };
}
