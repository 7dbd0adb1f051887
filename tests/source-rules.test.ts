/**
 * Rules on the packages' source that a grep can check (issue 15): plans JSON is read in one module
 * (`packages/core/src/planning/load-plans.ts`, `loadPlans`), so every plans file goes through the same legacy
 * conversion, schema and structural checks; rules are cited to docs/RULES.md (which names nnU-Net's paper, code
 * paths and format specifications), not to a specification outside the repository.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/paths.js';

/** Every non-test source file (`.ts`, `.js`, `.mjs`) under `packages/<p>/src`. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (e === 'node_modules' || e === '__fixtures__' || e === 'dist') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs)$/.test(e) && !/\.test\.ts$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
    }
  };
  const pkgs = join(REPO_ROOT, 'packages');
  for (const p of readdirSync(pkgs)) {
    const src = join(pkgs, p, 'src');
    if (statSync(join(pkgs, p)).isDirectory() && readdirSync(join(pkgs, p)).includes('src')) walk(src);
  }
  return out;
}

/** A line that reads or parses JSON or a file and names plans (a plans file read outside `loadPlans`). */
const PLANS_READ = /(JSON\.parse|readJson\w*|readFile\w*|readText)\b.*plans|plans.*(JSON\.parse|readJson\w*|readFile\w*|readText)\b/i;

/** Lines of `text` matching PLANS_READ, outside comments. */
function plansReads(text: string): number[] {
  return text.split('\n').flatMap((line, i) => (!/^\s*(\*|\/\/|\/\*)/.test(line) && PLANS_READ.test(line) ? [i + 1] : []));
}

/** Text files of the packages (sources, tests, READMEs) and docs/. */
function citingFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (['node_modules', 'dist', 'build', '__fixtures__'].includes(e)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs|md|py)$/.test(e)) out.push(p);
    }
  };
  walk(join(REPO_ROOT, 'packages'));
  walk(join(REPO_ROOT, 'docs'));
  return [...out, join(REPO_ROOT, 'README.md')];
}

describe('source rules', () => {
  it('the detector finds a plans read (so the next test can fail)', () => {
    expect(plansReads("  const raw = JSON.parse(readFileSync(join(dir, 'plans.json'), 'utf8'));")).toEqual([1]);
    expect(plansReads('  const p = readJson<Plans>(L.plans);\n  // JSON.parse of plans in a comment')).toEqual([1]);
    expect(plansReads("  const ds = JSON.parse(await readText('dataset.json'));")).toEqual([]);
  });

  it('plans JSON is read only in packages/core/src/planning/load-plans.ts', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(100);
    const offenders = files
      .filter((f) => !f.endsWith(join('core', 'src', 'planning', 'load-plans.ts')))
      .flatMap((f) => plansReads(readFileSync(f, 'utf8')).map((l) => `${relative(REPO_ROOT, f)}:${l}`));
    expect(offenders).toEqual([]);
    // the one reader: loadPlans parses the file it is given
    expect(readFileSync(join(REPO_ROOT, 'packages/core/src/planning/load-plans.ts'), 'utf8')).toMatch(/export function loadPlans\(file: string\): Plans \{[^]*JSON\.parse\(readFileSync\(file, 'utf8'\)\)/);
  });

  it('rules are cited to docs/RULES.md sections, not to "spec 1.x" outside the repository', () => {
    const rules = readFileSync(join(REPO_ROOT, 'docs/RULES.md'), 'utf8');
    const sections = new Set([...rules.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])));
    expect(sections.size).toBe(23);
    const stale: string[] = [];
    const unknown: string[] = [];
    for (const f of citingFiles()) {
      const rel = relative(REPO_ROOT, f);
      const text = readFileSync(f, 'utf8');
      if (/[Ss]pec 1\.\d/.test(text)) stale.push(rel);
      for (const m of text.matchAll(/RULES\.md §(\d+)/g)) if (!sections.has(Number(m[1]))) unknown.push(`${rel}: §${m[1]}`);
    }
    expect(stale).toEqual([]);
    expect(unknown).toEqual([]);
  });
});
