import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginError, Registry, registerCoreDefaults, type PluginModule } from '@nnunet-ts/core';
import * as ioNifti from '@nnunet-ts/io-nifti';
import * as ioItk from '@nnunet-ts/io-itk';
import * as backendCpu from '@nnunet-ts/backend-cpu';
import * as backendTfjs from '@nnunet-ts/backend-tfjs';
import * as backendWebgpu from '@nnunet-ts/backend-webgpu';
import * as loss from '@nnunet-ts/loss';
import * as augment from '@nnunet-ts/augment';
import * as unet3d from '@nnunet-ts/net-unet3d';
import * as unet2d from '@nnunet-ts/net-unet2d';
import * as cascade from '@nnunet-ts/net-cascade';
import * as queueBullmq from '@nnunet-ts/queue-bullmq';

type Registrar = (r: Registry, o?: { override?: boolean }) => void;

/** The default packages, in registration order (readers before the pipeline needs them). */
const DEFAULT_PACKAGES: [string, Record<string, unknown>][] = [
  ['@nnunet-ts/io-nifti', ioNifti],
  ['@nnunet-ts/io-itk', ioItk],
  ['@nnunet-ts/backend-cpu', backendCpu],
  ['@nnunet-ts/backend-tfjs', backendTfjs],
  ['@nnunet-ts/backend-webgpu', backendWebgpu],
  ['@nnunet-ts/loss', loss],
  ['@nnunet-ts/augment', augment],
  ['@nnunet-ts/net-unet3d', unet3d],
  ['@nnunet-ts/net-unet2d', unet2d],
  ['@nnunet-ts/net-cascade', cascade],
  ['@nnunet-ts/queue-bullmq', queueBullmq],
];

/**
 * A registry with every default: core's (planners, normalizers, resampler, postprocessors) and each package's
 * `registerDefaults`. Packages that export no `registerDefaults` yet are skipped.
 */
export function createDefaultRegistry(): Registry {
  const registry = new Registry();
  registerCoreDefaults(registry);
  for (const [, mod] of DEFAULT_PACKAGES) {
    const f = mod.registerDefaults as Registrar | undefined;
    if (typeof f === 'function') f(registry);
  }
  return registry;
}

/** The registration function of a plugin module: `default`/`plugin` PluginModule, a `register` export, or a default function. */
export function registrarOf(mod: Record<string, unknown>, spec: string): Registrar {
  const candidates = [mod.default, mod.plugin, mod];
  for (const c of candidates) {
    if (c && typeof (c as PluginModule).register === 'function') return (r, o) => (c as PluginModule).register(r, o);
  }
  if (typeof mod.default === 'function') return mod.default as Registrar;
  throw new PluginError(`plugin module '${spec}' exports neither a PluginModule ({ name, register }) nor register(registry)`, {
    hint: 'export `const plugin = { name, register(registry) { ... } }` or `export function register(registry)`',
  });
}

/**
 * Load `--plugin` modules (paths relative to `cwd`, or package names) and let each register into `registry`
 * with `{ override: true }`, so a plugin may replace a default of the same name.
 * @throws PluginError when a module cannot be imported or has no register function.
 */
export async function loadPlugins(registry: Registry, specs: string[], cwd = process.cwd()): Promise<void> {
  for (const spec of specs) {
    const local = spec.startsWith('.') || isAbsolute(spec);
    const target = local ? pathToFileURL(resolve(cwd, spec)).href : spec;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(target)) as Record<string, unknown>;
    } catch (e) {
      throw new PluginError(`cannot load plugin module '${spec}': ${(e as Error).message}`, {
        hint: 'pass a path to a built .js module (or a .ts file when running under a TypeScript loader) or an installed package name',
      });
    }
    registrarOf(mod, spec)(registry, { override: true });
  }
}
