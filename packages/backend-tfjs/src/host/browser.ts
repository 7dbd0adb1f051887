/** Browsers (`#host`, conditions `browser`/`default`): no CPU model name is exposed; the logical core count is. */
export function cpuModel(): string {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return n ? `a browser (${n} logical cores)` : 'a browser';
}

/** Browsers: the browser owns its GPU drivers; nothing to check (tfjs's WebGPU runs on `navigator.gpu`). */
export function vulkanDriverListed(): boolean {
  return true;
}
