import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import rootConfig from '../../vitest.config.js';

/**
 * The root config sets `resolve.conditions: ['source']`, but vitest 4 resolves test imports through the SSR
 * environment, which reads `ssr.resolve.conditions`; without it `@nnunet-ts/*` resolves to the (possibly stale or
 * missing) `dist/`. This config adds the SSR condition so the bad-input rows run against the sources:
 * `npx vitest run -c tests/bad-inputs/vitest.config.ts tests/bad-inputs`.
 */
export default mergeConfig(
  rootConfig,
  defineConfig({
    root: fileURLToPath(new URL('../..', import.meta.url)),
    ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
  }),
);
