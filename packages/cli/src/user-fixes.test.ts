import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PREDICT_MANIFEST, PredictionResume, readJson } from '@nnunet-ts/core';
import { runCli } from './program.js';

const dir = mkdtempSync(join(tmpdir(), 'nnunet-fix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (s) => out.push(s) }, (s) => err.push(s));
  return { code, out, err };
}

describe('predict: existing outputs', () => {
  it('-o equal to or inside -i is refused before anything is written', async () => {
    const inDir = join(dir, 'imgs');
    mkdirSync(inDir);
    for (const o of [inDir, join(inDir, 'pred')]) {
      const r = await cli('predict', '-i', inDir, '-o', o, '-m', join(dir, 'nomodel'), '-q');
      expect(r.code).toBe(1);
      expect(r.err.join('\n')).toContain(`the output folder ${o} is ${o === inDir ? 'the input folder' : `inside the input folder ${inDir}`}`);
      expect(r.err.join('\n')).toContain('pass a separate -o folder outside -i');
    }
  });

  it('overwrite by default; continue keeps; manifest keeps only unchanged inputs and model', () => {
    const out = join(dir, 'out');
    mkdirSync(out);
    const img = join(dir, 'a.nii.gz');
    writeFileSync(img, 'x');
    const pred = join(out, 'a.nii.gz');
    writeFileSync(pred, 'old');
    expect(new PredictionResume(out, 'overwrite', '').keep(pred, 'a', [img])).toBe(false);
    expect(new PredictionResume(out, 'continue', '').keep(pred, 'a', [img])).toBe(true);
    // no manifest entry: re-predict
    expect(new PredictionResume(out, 'manifest', 'm1').keep(pred, 'a', [img])).toBe(false);
    new PredictionResume(out, 'manifest', 'm1').written('a', [img]);
    expect(Object.keys(readJson<Record<string, unknown>>(join(out, PREDICT_MANIFEST)))).toEqual(['a']);
    expect(new PredictionResume(out, 'manifest', 'm1').keep(pred, 'a', [img])).toBe(true);
    // another model checksum: re-predict
    expect(new PredictionResume(out, 'manifest', 'm2').keep(pred, 'a', [img])).toBe(false);
    // the input changed (size and mtime): re-predict
    writeFileSync(img, 'changed');
    utimesSync(img, new Date(), new Date(Date.now() + 5000));
    expect(new PredictionResume(out, 'manifest', 'm1').keep(pred, 'a', [img])).toBe(false);
  });
});
