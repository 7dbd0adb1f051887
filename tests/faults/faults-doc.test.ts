/**
 * docs/FAULTS.md: every row names a test that exists (scripts/faults-check.mjs), and the check fails for a row whose
 * test does not exist or that names none.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'faults-check.mjs');
const dir = mkdtempSync(join(tmpdir(), 'nnunet-faults-doc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const check = (doc?: string) => {
  const r = spawnSync(process.execPath, [SCRIPT, ...(doc ? [doc] : [])], { encoding: 'utf8' });
  return { code: r.status, report: JSON.parse(r.stdout) as { rows: number; problems: string[] } };
};

describe('docs/FAULTS.md', () => {
  it('every row names a test that exists', () => {
    const r = check();
    expect(r.report.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.rows).toBeGreaterThan(70);
  });

  it('a row naming a test id or file that does not exist, or no test, is reported with its line', () => {
    const doc = join(dir, 'FAULTS.md');
    const text = readFileSync(join(ROOT, 'docs', 'FAULTS.md'), 'utf8');
    writeFileSync(doc, `${text}\n## Extra\n\n| property | what | does | test |\n|---|---|---|---|\n| a | b | c | F-Z99, nowhere.test.ts |\n| d | e | f | (none yet) |\n`);
    const r = check(doc);
    expect(r.code).toBe(1);
    const n = text.split('\n').length;
    expect(r.report.problems).toEqual([`${doc}:${n + 5} (Extra, 'a'): F-Z99, nowhere.test.ts not found`, `${doc}:${n + 6} (Extra, 'd'): no test named`]);
  });
});
