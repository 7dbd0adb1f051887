import type { DependencyContainer } from 'tsyringe';
// @ts-expect-error tsyringe ships no declarations for its per-module ES files; the type is the package's own
import { instance } from 'tsyringe/dist/esm2015/dependency-container.js';

/**
 * Browsers and bundlers: tsyringe's root container from its ES module file (`#tsyringe-container`, conditions
 * `browser`/`default`), not the package index, which needs a `Reflect.getMetadata` polyfill. No Node built-in.
 */
export function loadRootContainer(): DependencyContainer {
  return instance as DependencyContainer;
}
