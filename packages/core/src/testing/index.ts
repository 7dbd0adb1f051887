/**
 * `@nnunet-ts/core/testing`: contract suites any plugin (ours or a third party's) runs from its own vitest tests to
 * show that it honours the contract of its kind. Each `describe…Contract` registers a vitest `describe` block;
 * vitest is an optional peer dependency of `@nnunet-ts/core`, imported lazily, so importing this module outside a
 * test run costs nothing and `@nnunet-ts/core` itself never loads it.
 */
export * from './backend-suite.js';
export * from './device-suite.js';
export * from './device-reference.js';
export * from './plugin-suites.js';
export * from './planner-suite.js';
export * from './network-suite.js';
