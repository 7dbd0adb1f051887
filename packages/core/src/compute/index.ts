/**
 * Compute backends: choosing one (`selectBackend`) and the naive reference convolutions used to test them.
 * The reusable vitest suite lives in `contract-suite.ts` (import it by path from tests; not exported here).
 */
export * from './select.js';
export * from './reference.js';
