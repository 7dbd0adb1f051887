/**
 * Compute backends: choosing one (`selectBackend`) and the naive reference convolutions used to test them.
 * The reusable vitest suite is `describeBackendContract` in `@nnunet-ts/core/testing`.
 */
export * from './select.js';
export * from './reference.js';
