import { describe, expect, it } from 'vitest';
import type { Normalizer } from '../contracts/normalizer.js';
import { stage } from '../pipeline/stages.js';
import { PluginError } from '../util/errors.js';
import { Registry } from './registry.js';
import { pluginToken, stageToken } from './tokens.js';

const norm = (name: string, tag = 0): Normalizer & { tag: number } => ({ name, tag, leavesOutsideMaskAtZero: false, normalize: ({ data }) => data });

describe('Registry (tsyringe container)', () => {
  it('importing core sets no global Reflect polyfill', () => {
    new Registry();
    expect((Reflect as unknown as { getMetadata?: unknown }).getMetadata).toBeUndefined();
  });

  it('resolves plugins from the container: a provider registered on the container is what get returns', () => {
    const r = new Registry().register('normalizer', norm('ZScoreNormalization', 1));
    expect(r.container.isRegistered(pluginToken('normalizer', 'ZScoreNormalization'))).toBe(true);
    r.container.register(pluginToken('normalizer', 'ZScoreNormalization') as string, { useValue: norm('ZScoreNormalization', 2) });
    expect((r.get('normalizer', 'ZScoreNormalization') as ReturnType<typeof norm>).tag).toBe(2);
    expect(() => r.register('normalizer', norm('ZScoreNormalization'))).toThrow(PluginError);
    const err = (() => { try { r.get('normalizer', 'Nope'); } catch (e) { return e as PluginError; } })();
    expect(err?.message).toBe("no normalizer plugin named 'Nope'");
    expect(err?.hint).toMatch(/^registered: ZScoreNormalization;/);
  });

  it('factories resolve their dependencies by token; child registries override without touching the parent', () => {
    const parent = new Registry();
    parent.container.register('test:tag', { useValue: 7 });
    parent.provide('normalizer', 'Dep', { useFactory: (c) => norm('Dep', c.resolve<number>('test:tag')) });
    expect((parent.get('normalizer', 'Dep') as ReturnType<typeof norm>).tag).toBe(7);
    const child = parent.child();
    child.container.register('test:tag', { useValue: 9 });
    child.register('normalizer', norm('Other'));
    expect(child.names('normalizer')).toEqual(['Dep', 'Other']);
    expect(parent.names('normalizer')).toEqual(['Dep']);
    expect(() => parent.get('normalizer', 'Other')).toThrow(PluginError);
  });

  it('stages resolve through the registry: a provider replaces one for that registry and its children only', async () => {
    const r = new Registry();
    const calls: string[] = [];
    const base = stage(r, 'createSplits');
    r.provideStage('createSplits', { useValue: (ids: string[], k: number) => (calls.push(`${ids.length}/${k}`), base(ids, k)) });
    expect(r.container.isRegistered(stageToken('createSplits'))).toBe(true);
    const splits = stage(r.child(), 'createSplits')(['a', 'b', 'c', 'd'], 2);
    expect(splits).toHaveLength(2);
    expect(calls).toEqual(['4/2']);
    expect(stage(new Registry(), 'createSplits')).toBe(base);
  });
});
