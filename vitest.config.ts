import { defineConfig } from 'vitest/config';

/**
 * One vitest run over every package and the cross-package tests in tests/.
 * The `source` export condition makes workspace imports resolve to TypeScript sources (vitest runs tests in
 * vite's SSR environment, so the condition is set there too), so unit tests do not need a build; the CLI
 * end-to-end tests run the built dist.
 */
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
