/**
 * A third-party plugin (tests/fixtures/thirdparty-plugin, outside packages/) adds a reader/writer for a new file
 * ending and replaces the default ZScoreNormalization; the CLI loads it with --plugin and the pipeline uses it
 * without any change to our packages.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readImage, loadDataset, runLayout, type Registry } from '@nnunet-ts/core';
import * as core from '@nnunet-ts/core';
import { createDefaultRegistry, loadPlugins, runCli } from '@nnunet-ts/cli';
import { calls, PERCENTILES, voxWriter } from './fixtures/thirdparty-plugin/index.js';
import { makeSphereTask } from './fixtures/synthetic.js';
import { REPO_ROOT } from './helpers/paths.js';

const PLUGIN = resolve(REPO_ROOT, 'tests/fixtures/thirdparty-plugin/index.js');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function voxTask(): Promise<string> {
  const d = mkdtempSync(join(tmpdir(), 'nnunet-plugin-'));
  tmp.push(d);
  return makeSphereTask(d, (p, img, isLabel) => voxWriter.write(p, img, { dtype: isLabel ? 'int16' : 'float32' }), {
    nTrain: 3, nTest: 1, size: 20, fileEnding: '.vox.json',
  });
}

describe('third-party plugin', () => {
  it('registers a reader for .vox.json (by ending and by sniffing) and overrides ZScoreNormalization', async () => {
    const reg: Registry = createDefaultRegistry();
    const before = reg.get('normalizer', 'ZScoreNormalization');
    await loadPlugins(reg, [PLUGIN]);
    expect(reg.get('normalizer', 'ZScoreNormalization')).not.toBe(before);
    expect(reg.get('reader', 'vox-json').extensions).toEqual(['.vox.json']);
    // the normalizer is a factory provider resolving its percentiles by token: a child registry changes them
    const child = reg.child();
    child.container.register(PERCENTILES, { useValue: [0, 100] });
    const x = Float32Array.from([0, 1, 2, 3, 4, 100]);
    const opts = { channel: 0, mask: null, intensityProperties: undefined } as unknown as Parameters<core.Normalizer['normalize']>[0];
    expect(Array.from(child.get('normalizer', 'ZScoreNormalization').normalize({ ...opts, data: x.slice() }))).toEqual([0, 0.01, 0.02, 0.03, 0.04, 1].map(Math.fround));
    expect(reg.get('normalizer', 'ZScoreNormalization').normalize({ ...opts, data: x.slice() })[5]).toBe(1);
    const root = await voxTask();
    const img = await readImage(reg, join(root, 'imagesTr', 'sphere_000_0000.vox.json'));
    expect(img.shape).toEqual([1, 20, 20, 20]);
    const renamed = join(root, 'volume.dat');
    copyFileSync(join(root, 'imagesTr', 'sphere_000_0000.vox.json'), renamed);
    expect((await readImage(reg, renamed)).data).toEqual(img.data);
  });

  it('an unknown ending without the plugin fails with the list of registered readers', async () => {
    const root = await voxTask();
    const err = await readImage(createDefaultRegistry(), join(root, 'imagesTr', 'sphere_000_0000.vox.json')).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/no image reader for this file \(by ending or content\); registered readers: nifti/);
  });

  it('the CLI validates, plans and preprocesses a .vox.json dataset with --plugin; preprocessed data comes from the plugin normalizer', { timeout: 300_000 }, async () => {
    const root = await voxTask();
    const out = join(root, '..', 'run');
    const lines: string[] = [];
    const io = { out: (s: string) => lines.push(s) };
    const errs: string[] = [];
    const err = (s: string) => errs.push(s);
    const f0 = calls.fingerprint;
    expect(await runCli(['validate', root, '--plugin', PLUGIN, '-q'], io, err), errs.join('\n')).toBe(0);
    expect(lines.join('\n')).toContain('dataset OK (4 cases checked)');
    expect(await runCli(['plan', root, '-o', out, '--plugin', PLUGIN, '-q'], io, err), errs.join('\n')).toBe(0);
    const n0 = calls.normalize;
    expect(await runCli(['preprocess', root, '-o', out, '-c', '3d_fullres', '--plugin', PLUGIN, '-q'], io, err), errs.join('\n')).toBe(0);
    expect(calls.normalize - n0).toBe(3);
    expect(calls.fingerprint - f0).toBe(1); // the plugin's extractFingerprint stage replaced the default in `plan`
    const ds = await loadDataset(root);
    const pp = await (core as unknown as { readPreprocessedCase: (d: string, id: string) => Promise<{ data: Float32Array }> })
      .readPreprocessedCase(runLayout(out).configurationData('3d_fullres'), ds.cases[0]!.id);
    let lo = Infinity, hi = -Infinity;
    for (const v of pp.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.9);
  });
});
