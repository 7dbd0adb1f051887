import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUDGET, PRESETS } from '@nnunet-ts/core';
import { flagLayer, makeContext, parseFolds, parseTimeBudget, type CommonOptions } from './context.js';
import { runCli } from './program.js';

const dir = mkdtempSync(join(tmpdir(), 'nnunet-ctx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('budget resolution', () => {
  it('no flags = nnU-Net defaults (5 folds, 1000 x 250, all configurations)', async () => {
    const { budget } = await makeContext({ quiet: true });
    expect(budget).toEqual(DEFAULT_BUDGET);
    expect(budget).toMatchObject({ folds: 'all', nFolds: 5, epochs: 1000, iterationsPerEpoch: 250, configurations: 'all' });
  });
  it('preset < --config < flags', async () => {
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ preset: 'quick', epochs: 7, iterationsPerEpoch: 11, backend: 'cpu-js' }));
    const c = await makeContext({ config: cfg, quiet: true });
    expect(c.budget).toMatchObject({ configurations: PRESETS.quick!.configurations, folds: [0], epochs: 7, iterationsPerEpoch: 11 });
    expect(c.backend).toBe('cpu-js');
    const d = await makeContext({ config: cfg, epochs: '3', folds: '0,2', configurations: '2d,3d_fullres', quiet: true });
    expect(d.budget).toMatchObject({ epochs: 3, folds: [0, 2], configurations: ['2d', '3d_fullres'], iterationsPerEpoch: 11 });
  });
  it('flag > config file for planner and GPU memory too (decathlon and plan take them from the context)', async () => {
    const cfg = join(dir, 'p.json');
    writeFileSync(cfg, JSON.stringify({ planner: 'nnUNetPlannerResEncM', gpuMemoryGb: 24, trainer: { initialLr: 0.02 } }));
    expect((await makeContext({ config: cfg, quiet: true })).options).toMatchObject({ planner: 'nnUNetPlannerResEncM', gpuMemoryGb: 24 });
    const c = await makeContext({ config: cfg, planner: 'nnUNetPlanner', gpuMemoryGb: '8', quiet: true });
    expect(c.options).toMatchObject({ planner: 'nnUNetPlanner', gpuMemoryGb: 8 });
    expect(c.budget.trainer).toMatchObject({ initialLr: 0.02, momentum: 0.99 });
    expect((await makeContext({ quiet: true })).options).toMatchObject({ planner: 'nnUNetPlanner', gpuMemoryGb: 8, backend: 'auto' });
  });
  it('every flag beats the config file, which beats the preset and the default', async () => {
    // [CLI option, run option, flag value, parsed flag value, config file value]
    const table: [keyof CommonOptions, string, unknown, unknown, unknown][] = [
      ['backend', 'backend', 'cpu-js', 'cpu-js', 'cpu-native'],
      ['planner', 'planner', 'nnUNetPlannerResEncM', 'nnUNetPlannerResEncM', 'nnUNetPlannerV1'],
      ['gpuMemoryGb', 'gpuMemoryGb', '12', 12, 24],
      ['configurations', 'configurations', '2d', ['2d'], ['3d_lowres']],
      ['folds', 'folds', '1,2', [1, 2], [3]],
      ['epochs', 'epochs', '3', 3, 9],
      ['iterationsPerEpoch', 'iterationsPerEpoch', '4', 4, 8],
      ['timeBudget', 'timeBudgetSeconds', '2m', 120, 600],
      ['stepSize', 'stepSize', '0.25', 0.25, 0.75],
      ['disableTta', 'mirror', true, false, true],
      ['postprocessing', 'postprocessing', false, false, true],
      ['plugin', 'plugins', [], [], []],
      ['preset', 'preset', 'tiny', 'tiny', 'quick'],
    ];
    const layerKeys = Object.keys(flagLayer({})).sort();
    expect(table.map((r) => r[1]).sort()).toEqual(layerKeys);
    const cfg = join(dir, 'all.json');
    const config = Object.fromEntries(table.filter((r) => r[1] !== 'plugins').map((r) => [r[1], r[4]]));
    config.mirror = false;
    config.postprocessing = false;
    writeFileSync(cfg, JSON.stringify(config));
    const fromConfig = (await makeContext({ config: cfg, quiet: true })).options as unknown as Record<string, unknown>;
    for (const [, key, , , c] of table) if (!['preset', 'plugins', 'mirror', 'postprocessing'].includes(key)) expect(fromConfig[key], key).toEqual(c);
    expect(fromConfig).toMatchObject({ mirror: false, postprocessing: false, epochs: 9 });
    for (const [flag, key, value, parsed] of table) {
      if (['preset', 'plugins'].includes(key)) continue;
      const withFlag = (await makeContext({ config: cfg, quiet: true, [flag]: value })).options as unknown as Record<string, unknown>;
      if (key === 'mirror' || key === 'postprocessing') {
        // a switch that only turns nnU-Net's default off: the config's false stays false, the default true is overridden
        expect(withFlag[key], key).toBe(false);
        expect(((await makeContext({ quiet: true, [flag]: value })).options as unknown as Record<string, unknown>)[key], key).toBe(false);
        expect(((await makeContext({ quiet: true })).options as unknown as Record<string, unknown>)[key], key).toBe(true);
      } else expect(withFlag[key], key).toEqual(parsed);
    }
    // --preset beats the config file's preset; the config's own keys still beat the preset
    const p = await makeContext({ config: cfg, preset: 'tiny', quiet: true });
    expect(p.budget).toMatchObject({ epochs: 9, iterationsPerEpoch: 8 });
    expect((await makeContext({ preset: 'tiny', quiet: true })).budget).toMatchObject({ epochs: PRESETS.tiny!.epochs });
  });
  it('bad flags are user errors with the flag named', async () => {
    expect(() => parseFolds('0,x')).toThrow("--folds must be 'all' or a list like 0,1,2, got '0,x'");
    await expect(makeContext({ epochs: '0' })).rejects.toThrow("--epochs must be a positive integer, got '0'");
    await expect(makeContext({ preset: 'huge' })).rejects.toThrow(/unknown preset 'huge'; available: quick, tiny/);
  });
  it('--time-budget: durations in seconds, quick = 30 min, 16 x 30 to 27 x 30 iterations, explicit epochs cap the iterations', async () => {
    expect(parseTimeBudget('30m')).toBe(1800);
    expect(parseTimeBudget('1h30m')).toBe(5400);
    expect(parseTimeBudget('90s')).toBe(90);
    expect(() => parseTimeBudget('5')).toThrow(/^--time-budget 5: give a unit, e\.g\. 5m, 1h30m, 90s$/);
    expect(() => parseTimeBudget('2.5')).toThrow('--time-budget 2.5: give a unit, e.g. 5m, 1h30m, 90s');
    expect(() => parseTimeBudget('1h30')).toThrow('--time-budget 1h30: give a unit, e.g. 5m, 1h30m, 90s');
    expect(parseTimeBudget('1.5h')).toBe(5400);
    expect(() => parseTimeBudget('soon')).toThrow("--time-budget must be a duration like 30m, 1h30m or 90s, got 'soon'");
    expect(() => parseTimeBudget('0m')).toThrow(/--time-budget must be a duration/);
    const q = await makeContext({ preset: 'quick', quiet: true });
    expect(q.budget).toMatchObject({ timeBudgetSeconds: 1800, maxIterations: 810, minIterations: 480, configurations: ['3d_fullres', '2d'] });
    const t = await makeContext({ preset: 'quick', timeBudget: '10m', epochs: '4', quiet: true });
    expect(t.budget).toMatchObject({ timeBudgetSeconds: 600, maxIterations: 4 * 30 });
    expect((await makeContext({ quiet: true })).budget.timeBudgetSeconds).toBeUndefined();
    const errs: string[] = [];
    expect(await runCli(['predict', '-i', dir, '-o', join(dir, 'out'), '-m', dir, '--step-size', '0', '-q'], { out: () => {} }, (s) => errs.push(s))).toBe(2);
    expect(errs.join('\n')).toContain("--step-size must be a fraction of the patch in (0, 1], got '0'");
  });
  it('a config file with a trailing comma is reported with line and column, exit code 1', async () => {
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, '{\n  "epochs": 3,\n}\n');
    const errs: string[] = [];
    expect(await runCli(['validate', dir, '--config', cfg, '-q'], { out: () => {} }, (s) => errs.push(s))).toBe(1);
    expect(errs[0]).toMatch(/bad\.json: invalid JSON at line 3, column 1/);
  });
});
