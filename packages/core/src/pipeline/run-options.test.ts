import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRAINER_SETTINGS } from '../training/trainer-settings.js';
import { DEFAULT_BUDGET, PRESETS } from './presets.js';
import { checkRunConfig, DEFAULT_RUN_OPTIONS, resolveRunOptions, RUN_CONFIG_SCHEMA, type RunOptionsLayer } from './run-options.js';

/** Three distinct valid values per option: [preset, config file, flag]. */
const VALUES: Record<string, [unknown, unknown, unknown]> = {
  configurations: [['2d'], ['3d_lowres'], ['3d_fullres']],
  folds: [[0], [1], [2]],
  nFolds: [3, 4, 6],
  epochs: [2, 3, 4],
  iterationsPerEpoch: [5, 6, 7],
  validationIterations: [8, 9, 10],
  batchSize: [11, 12, 13],
  augmentation: ['a', 'b', 'c'],
  stepSize: [0.25, 0.3, 0.75],
  mirror: [false, true, false],
  postprocessing: [false, true, false],
  ensemble: [false, true, false],
  backend: ['p', 'q', 'r'],
  planner: ['P1', 'P2', 'P3'],
  gpuMemoryGb: [10, 11, 12],
  timeBudgetSeconds: [60, 120, 180],
  maxIterations: [100, 200, 300],
  minIterations: [1, 2, 3],
  estimate: [false, true, false],
};
const TRAINER: Record<string, [unknown, unknown, unknown]> = {
  loss: ['l1', 'l2', 'l3'], lossWeightCe: [0.5, 2, 3], lossWeightDice: [0.5, 2, 3], initialLr: [0.1, 0.2, 0.3], momentum: [0.5, 0.6, 0.7],
  nesterov: [false, true, false], weightDecay: [1e-4, 2e-4, 3e-4], gradClipNorm: [1, 2, 3], polyExponent: [1, 2, 3],
  oversampleForegroundPercent: [0.1, 0.2, 0.5], pseudoDiceEmaAlpha: [0.5, 0.6, 0.7], seed: [1, 2, 3],
};
const DEFAULTS: Record<string, unknown> = { ...DEFAULT_BUDGET, ...DEFAULT_RUN_OPTIONS };
const layer = (i: number): RunOptionsLayer => ({
  ...Object.fromEntries(Object.entries(VALUES).map(([k, v]) => [k, v[i]])),
  trainer: Object.fromEntries(Object.entries(TRAINER).map(([k, v]) => [k, v[i]])),
}) as RunOptionsLayer;

PRESETS.__test = layer(0) as never;
afterAll(() => delete PRESETS.__test);

describe('run options: flag > config file > preset > default, for every option', () => {
  it('covers every key of the config schema and every trainer setting', () => {
    const keys = Object.keys(RUN_CONFIG_SCHEMA.properties).filter((k) => !['preset', 'plugins', 'trainer'].includes(k));
    expect(keys.sort()).toEqual(Object.keys(VALUES).sort());
    expect(Object.keys(TRAINER).sort()).toEqual(Object.keys(DEFAULT_TRAINER_SETTINGS).sort());
  });
  for (const [k, v] of Object.entries(VALUES)) {
    it(k, () => {
      expect(resolveRunOptions({})[k as never]).toEqual(DEFAULTS[k]);
      expect(resolveRunOptions({ config: { preset: '__test' } })[k as never]).toEqual(v[0]);
      expect(resolveRunOptions({ config: { preset: '__test', [k]: v[1] } })[k as never]).toEqual(v[1]);
      expect(resolveRunOptions({ config: { preset: '__test', [k]: v[1] }, flags: { [k]: v[2] } })[k as never]).toEqual(v[2]);
      expect(resolveRunOptions({ config: { [k]: v[1] }, flags: { [k]: undefined } })[k as never]).toEqual(v[1]);
    });
  }
  for (const [k, v] of Object.entries(TRAINER)) {
    it(`trainer.${k}`, () => {
      const t = (l: Parameters<typeof resolveRunOptions>[0]) => (resolveRunOptions(l).trainer as unknown as Record<string, unknown>)[k];
      expect(t({})).toEqual((DEFAULT_TRAINER_SETTINGS as unknown as Record<string, unknown>)[k]);
      expect(t({ flags: { preset: '__test' } })).toEqual(v[0]);
      expect(t({ flags: { preset: '__test' }, config: { trainer: { [k]: v[1] } } })).toEqual(v[1]);
      expect(t({ flags: { preset: '__test', trainer: { [k]: v[2] } }, config: { trainer: { [k]: v[1] } } })).toEqual(v[2]);
    });
  }
  it('a flag preset beats the config file preset; plugins of both load', () => {
    expect(resolveRunOptions({ config: { preset: 'tiny' }, flags: { preset: 'quick' } }).epochs).toBe(PRESETS.quick!.epochs);
    expect(resolveRunOptions({ config: { plugins: ['a'] }, flags: { plugins: ['b'] } }).plugins).toEqual(['a', 'b']);
  });
  it('config files are schema-checked, nested trainer keys included', () => {
    expect(checkRunConfig({ trainer: { initialLr: 0.02 } }, 'c.json')).toEqual({ trainer: { initialLr: 0.02 } });
    expect(() => checkRunConfig({ trainer: { lr: 1 } }, 'c.json')).toThrow("c.json: invalid config: unknown key 'trainer.lr'");
    expect(() => checkRunConfig({ trainer: { momentum: 2 } }, 'c.json')).toThrow("invalid config: key 'trainer.momentum' must be < 1 (got 2)");
    expect(() => checkRunConfig({ epochs: 0, foo: 1 }, 'c.json')).toThrow("c.json: invalid config: unknown key 'foo'; key 'epochs' must be >= 1 (got 0)");
  });
});
