import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { PluginError } from '../util/errors.js';
import { TOKENS, type PluginKind, type PluginKinds } from './tokens.js';

/** Key a plugin is found by: its `name`, plus `dims` for networks (one name, a 2D and a 3D implementation). */
function keyOf(kind: PluginKind, plugin: { name: string; dims?: number }): string {
  return kind === 'network' ? `${plugin.name}@${plugin.dims}d` : plugin.name;
}

/**
 * The plugin registry: named implementations of named contracts, held in a tsyringe container.
 *
 * - `register` puts a plugin under its kind's token; a second plugin with the same name throws `PluginError`
 *   unless `{ override: true }` (a third party replacing a default says so explicitly).
 * - `get(kind, name)` resolves by name and throws a `PluginError` that lists what is registered.
 * - `child()` gives a scoped registry (one run, one test) whose overrides do not touch the parent.
 *
 * Nothing registers at import time; packages expose `registerDefaults(registry)`.
 */
export class Registry {
  /** The tsyringe container behind this registry (exposed for services beyond plugins). */
  readonly container: DependencyContainer;
  private readonly parent?: Registry;
  private readonly own = new Map<PluginKind, Map<string, unknown>>();

  constructor(opts: { parent?: Registry } = {}) {
    this.parent = opts.parent;
    this.container = (opts.parent?.container ?? rootContainer).createChildContainer();
  }

  /** A child registry that sees this one's plugins and may override them locally. */
  child(): Registry {
    return new Registry({ parent: this });
  }

  /** Register a plugin. Throws `PluginError` on a duplicate name unless `override`. */
  register<K extends PluginKind>(kind: K, plugin: PluginKinds[K], opts: { override?: boolean } = {}): this {
    if (!plugin || typeof (plugin as { name?: unknown }).name !== 'string' || !(plugin as { name: string }).name) {
      throw new PluginError(`a ${kind} plugin must be an object with a non-empty 'name'`);
    }
    const key = keyOf(kind, plugin as { name: string; dims?: number });
    let map = this.own.get(kind);
    if (!map) this.own.set(kind, (map = new Map()));
    if (!opts.override && (map.has(key) || this.parent?.has(kind, key))) {
      throw new PluginError(`${kind} plugin '${key}' is already registered`, {
        hint: 'pass { override: true } to replace a default',
      });
    }
    map.set(key, plugin);
    this.container.register(TOKENS[kind], { useValue: plugin });
    return this;
  }

  /** True when a plugin of that kind and key is visible here. */
  has(kind: PluginKind, key: string): boolean {
    return this.own.get(kind)?.has(key) === true || this.parent?.has(kind, key) === true;
  }

  /**
   * The plugin of `kind` called `name` (networks: `name` plus `dims`). Dotted Python class paths such as
   * `dynamic_network_architectures.architectures.unet.PlainConvUNet` match by their last segment.
   * Throws `PluginError` listing the registered names when absent.
   */
  get<K extends PluginKind>(kind: K, name: string, dims?: 2 | 3): PluginKinds[K] {
    const short = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
    for (const n of short === name ? [name] : [name, short]) {
      const key = kind === 'network' ? `${n}@${dims ?? 3}d` : n;
      const found = this.lookup(kind, key);
      if (found) return found as PluginKinds[K];
    }
    throw new PluginError(`no ${kind} plugin named '${name}'${kind === 'network' ? ` (${dims ?? 3}D)` : ''}`, {
      hint: `registered: ${this.names(kind).join(', ') || '(none)'}; register one with --plugin <module>`,
    });
  }

  /** All plugins of a kind, parents' first, local overrides replacing same-named ones. */
  all<K extends PluginKind>(kind: K): PluginKinds[K][] {
    const merged = new Map<string, unknown>();
    for (const [k, v] of this.parent?.entries(kind) ?? []) merged.set(k, v);
    for (const [k, v] of this.own.get(kind) ?? []) merged.set(k, v);
    return [...merged.values()] as PluginKinds[K][];
  }

  /** Registered keys of a kind. */
  names(kind: PluginKind): string[] {
    const keys = new Set<string>();
    for (const [k] of this.parent?.entries(kind) ?? []) keys.add(k);
    for (const k of this.own.get(kind)?.keys() ?? []) keys.add(k);
    return [...keys];
  }

  private entries(kind: PluginKind): [string, unknown][] {
    const merged = new Map<string, unknown>(this.parent?.entries(kind) ?? []);
    for (const [k, v] of this.own.get(kind) ?? []) merged.set(k, v);
    return [...merged];
  }

  private lookup(kind: PluginKind, key: string): unknown {
    return this.own.get(kind)?.get(key) ?? this.parent?.lookup(kind, key);
  }
}

/** What a package or a third-party plugin module exports: one call that registers its plugins. */
export interface PluginModule {
  /** Package or plugin name, for messages. */
  name: string;
  register(registry: Registry, opts?: { override?: boolean }): void;
}
