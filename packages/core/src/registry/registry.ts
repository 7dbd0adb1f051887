import { loadRootContainer } from '#tsyringe-container';
import type { DependencyContainer, FactoryProvider, ValueProvider } from 'tsyringe';
import { PluginError } from '../util/errors.js';
import { pluginToken, stageToken, type PluginKind, type PluginKinds } from './tokens.js';

/** Key a plugin is found by: its `name`, plus `dims` for networks (one name, a 2D and a 3D implementation). */
function keyOf(kind: PluginKind, plugin: { name: string; dims?: number }): string {
  return kind === 'network' ? `${plugin.name}@${plugin.dims}d` : plugin.name;
}

let root: DependencyContainer | undefined;
/**
 * tsyringe's container, loaded on first use from its module file rather than the package index: the index throws
 * without a global `Reflect.getMetadata` polyfill (`reflect-metadata`), which only decorators need. nnunet-ts
 * registers values and factories under explicit tokens, no decorators, so importing core changes no global.
 * The `#tsyringe-container` import condition picks the Node loader (CommonJS file through `createRequire`) or the
 * browser one (the ES module file, bundled).
 */
function rootContainer(): DependencyContainer {
  root ??= loadRootContainer();
  return root;
}

/** A provider for a plugin or a stage: a value, or a factory that resolves its dependencies from the container. */
export type Provider<T> = ValueProvider<T> | FactoryProvider<T>;

function registerProvider<T>(c: DependencyContainer, token: string, p: Provider<T>): void {
  if ('useFactory' in p) c.register(token, p);
  else c.register(token, p);
}

/**
 * The plugin registry: named implementations of named contracts, resolved through a tsyringe container.
 *
 * - Every plugin lives in the container under `pluginToken(kind, key)` (`nnunet:<kind>:<name>`); `get` resolves it
 *   from there, so a provider registered on the container (`provide`, or `container.register`) is what the
 *   pipeline gets. Factories (`{ useFactory: (c) => ... }`) receive the container and resolve their own
 *   dependencies by token (another plugin, a stage, a service).
 * - Pipeline stages resolve the same way under `stageToken(name)` (`provideStage`): a third party replaces a stage
 *   (fingerprinting, training a fold, export, ...) by registering a provider, without touching our packages.
 * - `register` refuses a second plugin with the same name (`PluginError`) unless `{ override: true }`.
 * - `child()` gives a scoped registry on a child container (one run, one test): its registrations do not touch
 *   the parent; the pipeline runs each run in a child.
 *
 * Nothing registers at import time; packages expose `registerDefaults(registry)`.
 */
export class Registry {
  /** The tsyringe container behind this registry (for services beyond plugins; register with explicit tokens). */
  readonly container: DependencyContainer;
  private readonly parent?: Registry;
  private readonly own = new Map<PluginKind, Set<string>>();

  constructor(opts: { parent?: Registry } = {}) {
    this.parent = opts.parent;
    this.container = (opts.parent?.container ?? rootContainer()).createChildContainer();
  }

  /** A child registry (child container) that sees this one's plugins and may override them locally. */
  child(): Registry {
    return new Registry({ parent: this });
  }

  /** Register a plugin object. Throws `PluginError` on a duplicate name unless `override`. */
  register<K extends PluginKind>(kind: K, plugin: PluginKinds[K], opts: { override?: boolean } = {}): this {
    if (!plugin || typeof (plugin as { name?: unknown }).name !== 'string' || !(plugin as { name: string }).name) {
      throw new PluginError(`a ${kind} plugin must be an object with a non-empty 'name'`);
    }
    return this.provide(kind, keyOf(kind, plugin as { name: string; dims?: number }), { useValue: plugin }, opts);
  }

  /**
   * Register a provider for the plugin `key` of `kind` (networks: `<name>@<dims>d`): a value or a factory
   * `(container) => plugin` that resolves its dependencies by token. Throws `PluginError` on a duplicate unless
   * `override`.
   */
  provide<K extends PluginKind>(kind: K, key: string, provider: Provider<PluginKinds[K]>, opts: { override?: boolean } = {}): this {
    if (!opts.override && this.has(kind, key)) {
      throw new PluginError(`${kind} plugin '${key}' is already registered`, { hint: 'pass { override: true } to replace a default' });
    }
    let keys = this.own.get(kind);
    if (!keys) this.own.set(kind, (keys = new Set()));
    keys.add(key);
    registerProvider(this.container, pluginToken(kind, key) as string, provider);
    return this;
  }

  /** Replace the pipeline stage `name` (see `stage`) in this registry's runs with a value or factory provider. */
  provideStage(name: string, provider: Provider<unknown>): this {
    registerProvider(this.container, stageToken(name) as string, provider);
    return this;
  }

  /** True when a plugin of that kind and key is visible here. */
  has(kind: PluginKind, key: string): boolean {
    return this.own.get(kind)?.has(key) === true || this.parent?.has(kind, key) === true;
  }

  /**
   * The plugin of `kind` called `name` (networks: `name` plus `dims`), resolved from the container. Dotted Python
   * class paths such as `dynamic_network_architectures.architectures.unet.PlainConvUNet` match by their last
   * segment. Throws `PluginError` listing the registered names when absent.
   */
  get<K extends PluginKind>(kind: K, name: string, dims?: 2 | 3): PluginKinds[K] {
    const short = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
    for (const n of short === name ? [name] : [name, short]) {
      const token = pluginToken(kind, kind === 'network' ? `${n}@${dims ?? 3}d` : n);
      if (this.container.isRegistered(token, true)) return this.container.resolve(token);
    }
    throw new PluginError(`no ${kind} plugin named '${name}'${kind === 'network' ? ` (${dims ?? 3}D)` : ''}`, {
      hint: `registered: ${this.names(kind).join(', ') || '(none)'}; register one with --plugin <module>`,
    });
  }

  /** All plugins of a kind (resolved), in registration order, parents' first, overrides in place. */
  all<K extends PluginKind>(kind: K): PluginKinds[K][] {
    return this.names(kind).map((k) => this.container.resolve(pluginToken(kind, k)));
  }

  /** Registered keys of a kind. */
  names(kind: PluginKind): string[] {
    return [...new Set([...(this.parent?.names(kind) ?? []), ...(this.own.get(kind) ?? [])])];
  }
}

/** What a package or a third-party plugin module exports: one call that registers its plugins. */
export interface PluginModule {
  /** Package or plugin name, for messages. */
  name: string;
  register(registry: Registry, opts?: { override?: boolean }): void;
}
