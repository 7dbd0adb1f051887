import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Plans } from '../contracts/plans.js';
import { checkCheckpointAgainstPlans } from '../inference/model.js';
import type { CheckpointMeta } from '../training/checkpoint.js';
import { DataError } from '../util/errors.js';
import { loadPlans, parsePlans, plansProblems, resolvedConfiguration } from './load-plans.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const PLANS_DIR = resolve(process.env.NNUNET_SHARED ?? resolve(REPO_ROOT, '..', 'shared'), 'reference', 'plans');
const MSSEG = join(PLANS_DIR, 'msseg_mri_navasi', 'nnUNetPlans.json');
const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Plans;
const tmp = () => mkdtempSync(join(tmpdir(), 'load-plans-'));

describe('loadPlans', () => {
  it('loads every nnU-Net v2 reference plans file (arch-dict and legacy) with every configuration field present', () => {
    let n = 0;
    for (const d of readdirSync(PLANS_DIR)) {
      if (d.startsWith('v1_') || !existsSync(join(PLANS_DIR, d, 'nnUNetPlans.json'))) continue;
      const plans = loadPlans(join(PLANS_DIR, d, 'nnUNetPlans.json'));
      for (const name of Object.keys(plans.configurations)) {
        const c = resolvedConfiguration(plans, name);
        expect(c.patch_size.length).toBe(c.spacing.length);
        expect(c.architecture.arch_kwargs.strides.length).toBe(c.architecture.arch_kwargs.n_stages);
        n++;
      }
    }
    expect(n).toBeGreaterThan(10);
  });

  it('a hand-edited patch size not divisible by the strides is refused, naming the file and the field', () => {
    const p = read(MSSEG);
    p.configurations['3d_fullres']!.patch_size = [100, 160, 128];
    const f = join(tmp(), 'nnUNetPlans.json');
    writeFileSync(f, JSON.stringify(p));
    expect(() => loadPlans(f)).toThrow(DataError);
    expect(() => loadPlans(f)).toThrow(new RegExp(`${f.replace(/[.]/g, '\\.')}: invalid plans: 3d_fullres: patch axis 0 = 100 is not divisible by`));
  });

  it('a wrong type or a missing field names the configuration and the field', () => {
    const p = read(MSSEG);
    (p.configurations['3d_fullres'] as Record<string, unknown>).batch_size = 0;
    expect(plansProblems(p).join('\n')).toMatch(/configurations\.3d_fullres\.batch_size: must be >= 1/);
    const q = read(MSSEG);
    delete q.configurations['2d']!.spacing;
    expect(() => parsePlans(q, 'x.json')).toThrow(/configuration '2d' missing field 'spacing'/);
    expect(() => parsePlans({ plans_name: 'x' }, 'y.json')).toThrow(/y\.json: not an nnU-Net v2 plans file/);
  });

  it('missing and non-JSON files are DataErrors naming the file', () => {
    const d = tmp();
    expect(() => loadPlans(join(d, 'nope.json'))).toThrow(/nope\.json: plans file not found/);
    writeFileSync(join(d, 'bad.json'), '{ "configurations": ');
    expect(() => loadPlans(join(d, 'bad.json'))).toThrow(/bad\.json: plans file is not valid JSON/);
  });
});

describe('checkCheckpointAgainstPlans', () => {
  const plans = read(MSSEG);
  const config = resolvedConfiguration(parsePlans(plans, 'p'), '3d_fullres');
  const meta = {
    plans_name: plans.plans_name, network_class_name: config.architecture.network_class_name, dims: 3, patch_size: config.patch_size, configuration: '3d_fullres',
  } as unknown as CheckpointMeta;
  it('passes when they agree and names the differing field otherwise', () => {
    expect(() => checkCheckpointAgainstPlans(meta, plans, config, 'ck.json')).not.toThrow();
    const edited = { ...config, patch_size: [64, 64, 64] };
    expect(() => checkCheckpointAgainstPlans(meta, plans, edited, 'ck.json')).toThrow(
      `ck.json: checkpoint and plans.json differ in patch_size: checkpoint ${JSON.stringify(config.patch_size)}, plans [64,64,64] (configuration '3d_fullres')`,
    );
    expect(() => checkCheckpointAgainstPlans({ ...meta, plans_name: 'Other' }, plans, config, 'ck.json')).toThrow(/differ in plans_name/);
  });
});
