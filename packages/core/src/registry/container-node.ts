import { createRequire } from 'node:module';
import type { DependencyContainer } from 'tsyringe';

/**
 * Node: tsyringe's root container from its CommonJS module file (`#tsyringe-container`, condition `node`), not the
 * package index, which needs a `Reflect.getMetadata` polyfill.
 */
export function loadRootContainer(): DependencyContainer {
  return (createRequire(import.meta.url)('tsyringe/dist/cjs/dependency-container.js') as { instance: DependencyContainer }).instance;
}
