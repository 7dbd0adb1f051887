import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelFolder } from './model-folder.js';
import { modelChecksum } from './predict-stage.js';

const dir = mkdtempSync(join(tmpdir(), 'model-checksum-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('modelChecksum', () => {
  it("hashes the checkpoints' bytes, once per process while their size and mtime stay, again when they change", () => {
    const fold = join(dir, 'fold_0');
    mkdirSync(fold, { recursive: true });
    const bin = join(fold, 'checkpoint_final.bin');
    writeFileSync(join(fold, 'checkpoint_final.json'), '{"epoch": 3}');
    writeFileSync(bin, Buffer.alloc(1000, 7));
    const folder = { dir, configuration: '3d_fullres', plans: { plans_name: 'p' }, dataset: {}, folds: [0] } as unknown as ModelFolder;
    const opts = { stepSize: 0.5, mirror: true };
    // the digest of what it covers, in its order: folder, plans, postprocessing, then each checkpoint file's name and bytes
    const h = createHash('sha256').update(dir).update(JSON.stringify(folder.plans)).update('null');
    h.update('0/checkpoint_final.json:').update(readFileSync(join(fold, 'checkpoint_final.json'))).update('0/checkpoint_final.bin:').update(readFileSync(bin)).update('0/checkpoint_final.pth:');
    h.update(JSON.stringify({ s: 0.5, m: true, p: true, extra: '' }));
    const first = modelChecksum([folder], opts);
    expect(first).toBe(h.digest('hex'));
    expect(modelChecksum([folder], opts)).toBe(first);
    expect(modelChecksum([folder], { ...opts, mirror: false })).not.toBe(first);
    // new weights of the same size, written later: another checksum
    writeFileSync(bin, Buffer.alloc(1000, 8));
    utimesSync(bin, new Date(), new Date(Date.now() + 5000));
    const second = modelChecksum([folder], opts);
    expect(second).not.toBe(first);
    expect(modelChecksum([folder], opts)).toBe(second);
  });
});
