/** @nnunet-ts/cli: the `nnunet-ts` binary and its building blocks (for embedding and tests). */
export { createProgram, runCli } from './program.js';
export { createDefaultRegistry, loadPlugins, registrarOf } from './registry-setup.js';
export { makeContext, parseFolds, type Context, type CommonOptions } from './context.js';
export { terminalReporter } from './reporter.js';
export type { Io } from './commands.js';
