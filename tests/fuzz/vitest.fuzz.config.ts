import { defineConfig } from 'vitest/config';

/** `npm run fuzz`: only the long run, no timeout, sources resolved like the root config. */
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: { include: ['tests/fuzz/run.fuzz.ts'], testTimeout: 0, pool: 'forks', maxWorkers: 1 },
});
