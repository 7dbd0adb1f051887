#!/usr/bin/env node
// Check that every row of docs/FAULTS.md names a test that exists: each table row's last cell must hold at least one
// reference, and every reference must resolve. References are test ids (`F-Z01`, `F-K01..F-K04`, `B45`), found in a
// test title in tests/ or packages/*/src (ids generated as `F-K0${i + 1}` count for F-K01..F-K0<number of stages>),
// ids quoted in a table that a loop turns into `it(\`${id}: ...\`)` count too), or test file names (`reader.test.ts`),
// found anywhere outside node_modules. Words in parentheses or quotes are
// comments. Usage: node scripts/faults-check.mjs [docs/FAULTS.md]; exit 1 listing each row without a resolvable test.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const doc = process.argv[2] ?? join(root, 'docs', 'FAULTS.md');

/** Every test file under `dir` (recursively, skipping node_modules, dist and dot folders). */
function testFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) testFiles(p, out);
    else if (/\.(test|fuzz)\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

const files = testFiles(root);
const names = new Set(files.map((f) => f.slice(f.lastIndexOf('/') + 1)));
const ids = new Set();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  for (const m of text.matchAll(/\bit\(\s*[`'"]((?:F-[A-Z]\d\d|B\d\d)[a-z]?)\b/g)) ids.add(m[1]);
  // it(`${id}: ...`) in a loop over a table of [id, ...] rows: every quoted id of the file names a test
  if (/\bit\(\s*`\$\{id\}/.test(text)) for (const m of text.matchAll(/['"]((?:F-[A-Z]\d\d|B\d\d))['"]/g)) ids.add(m[1]);
  // it(`F-K0${i + 1}: ...`) over a list of stages: ids 1..n where n is the list's length (counted as `{ name:` entries)
  for (const m of text.matchAll(/\bit\(\s*`(F-[A-Z]0)\$\{i \+ 1\}/g)) {
    const n = (text.match(/^\s*\{ name: /gm) ?? []).length;
    for (let i = 1; i <= n; i++) ids.add(`${m[1]}${i}`);
  }
}

function expand(ref) {
  const r = /^(F-[A-Z]|B)(\d\d)\.\.(?:F-[A-Z]|B)?(\d\d)$/.exec(ref);
  if (!r) return [ref];
  const out = [];
  for (let i = Number(r[2]); i <= Number(r[3]); i++) out.push(`${r[1]}${String(i).padStart(2, '0')}`);
  return out;
}

const problems = [];
let rows = 0;
let section = '';
for (const [i, line] of readFileSync(doc, 'utf8').split('\n').entries()) {
  if (line.startsWith('## ')) section = line.slice(3);
  if (!line.startsWith('|') || /^\|\s*-/.test(line) || /^\|\s*property\s*\|/.test(line)) continue;
  rows++;
  const cells = line.split('|').slice(1, -1).map((c) => c.trim());
  const cell = (cells[cells.length - 1] ?? '').replace(/\([^)]*\)/g, ' ').replace(/"[^"]*"/g, ' ');
  const refs = cell.match(/\b(?:F-[A-Z]\d\d(?:\.\.F-[A-Z]\d\d)?|B\d\d(?:\.\.B?\d\d)?|[\w.-]+\.(?:test|fuzz)\.ts)\b/g) ?? [];
  const missing = refs.flatMap(expand).filter((r) => (r.endsWith('.ts') ? !names.has(r) : !ids.has(r)));
  if (!refs.length) problems.push(`${doc}:${i + 1} (${section}, '${cells[0]}'): no test named`);
  else if (missing.length) problems.push(`${doc}:${i + 1} (${section}, '${cells[0]}'): ${missing.join(', ')} not found`);
}
console.log(JSON.stringify({ doc, rows, testIds: ids.size, testFiles: files.length, problems }, null, 1));
process.exit(problems.length ? 1 : 0);
