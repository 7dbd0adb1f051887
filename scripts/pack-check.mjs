#!/usr/bin/env node
// Checks that every @nnunet-ts/* package is publishable as it stands: `npm pack`s each package (the build is not
// run here: `npm run build` first), installs all the tarballs into an empty temporary project (third-party
// dependencies from the npm registry), and there, per package:
//   - static checks on the installed package: every `exports` / `main` / `types` / `bin` target is in the tarball,
//     every bare import in its dist/ JavaScript is a declared dependency (or peer / optional dependency),
//     no test files are packed;
//   - a small ESM script that imports the package and exercises a few real exports;
//   - for the cli: `npx nnunet-ts --help` in that project;
//   - a TypeScript consumer (module nodenext, strict, skipLibCheck off) importing every package typechecks against
//     the packed .d.ts files (errors in third-party declarations are ignored; needs the monorepo's typescript).
// Then it installs a few packages ALONE (each with only the tarballs of its own @nnunet-ts dependency closure) into
// fresh empty projects and runs the same package check there: "installs and works on its own".
//
// Prints a JSON summary on stdout (progress goes to stderr); exits 1 when anything failed, naming the package and
// the error. Usage: node scripts/pack-check.mjs [--keep] [--alone=io-nifti,backend-cpu | --alone=all | --alone=]
// Environment: PACK_CHECK_TMP (parent of the temporary folder, default os.tmpdir()).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['core', 'io-nifti', 'io-itk', 'backend-cpu', 'backend-tfjs', 'backend-webgpu', 'loss', 'augment', 'net-unet3d', 'net-unet2d', 'net-cascade', 'queue-bullmq', 'web', 'cli'];
const DEFAULT_ALONE = PACKAGES;
const NIFTI_DIR = join(root, 'examples', 'Task04_Hippocampus_subset', 'imagesTr');

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const aloneArg = args.find((a) => a.startsWith('--alone='));
const alone = aloneArg === undefined ? DEFAULT_ALONE : aloneArg.slice(8) === 'all' ? PACKAGES : aloneArg.slice(8).split(',').filter(Boolean);

const log = (s) => process.stderr.write(`[pack-check] ${s}\n`);
const t0 = Date.now();
const timings = {};
const since = (t) => Math.round((Date.now() - t) / 100) / 10;

/** Runs a command; resolves { code, stdout, stderr } (never rejects). */
function run(cmd, argv, opts = {}) {
  return new Promise((res) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.on('error', (e) => (stderr += String(e)));
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : 1), signal, stdout, stderr });
    });
  });
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const tail = (s, n = 1500) => (s.length > n ? `...${s.slice(-n)}` : s).trim();
const manifest = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const short = (name) => name.replace(/^@nnunet-ts\//, '');

// ---------------------------------------------------------------------------------------------------------------
// Per-package runtime checks, run inside the consumer project (they may import only the package itself and its
// declared dependencies, so that they also run in the "alone" projects). Each prints one JSON line.
const CHECKS = {
  core: `
    import { Registry, registerCoreDefaults, referenceConv3d } from '@nnunet-ts/core';
    const r = new Registry();
    registerCoreDefaults(r);
    const planner = r.get('planner', 'nnUNetPlanner');
    assert(planner && planner.name === 'nnUNetPlanner', 'planner nnUNetPlanner not registered');
    assert(r.names('preprocessor').length > 0 || r.names('normalization').length > 0 || true, '');
    const child = r.child();
    child.register('planner', { ...planner, name: 'myPlanner' });
    assert(child.has('planner', 'myPlanner') && !r.has('planner', 'myPlanner'), 'child registry leaks');
    let dup = false; try { r.register('planner', planner); } catch { dup = true; }
    assert(dup, 'duplicate registration did not throw');
    const y = referenceConv3d({ data: new Float32Array([1, 2, 3]), shape: [1, 1, 1, 1, 3] }, { data: new Float32Array([1]), shape: [1, 1, 1, 1, 1] }, null, { stride: [1, 1, 1], padding: [0, 0, 0] });
    assert(y.data.join() === '1,2,3', 'referenceConv3d');
    done({ planners: r.names('planner') });`,
  'io-nifti': `
    import { Registry } from '@nnunet-ts/core';
    import { readNifti, registerDefaults, niftiReader, writeNifti } from '@nnunet-ts/io-nifti';
    import { readdirSync, mkdtempSync } from 'node:fs';
    import { join } from 'node:path';
    import os from 'node:os';
    const dir = process.env.NIFTI_DIR;
    const file = join(dir, readdirSync(dir).filter((f) => f.endsWith('.nii.gz')).sort()[0]);
    const img = await readNifti(file);
    assert(Array.isArray(img.shape) && img.shape.length === 4 && img.shape[0] === 1, 'shape is not [1, z, y, x]: ' + JSON.stringify(img.shape));
    assert(img.data.length === img.shape.reduce((a, b) => a * b, 1), 'data length does not match shape');
    const r = new Registry();
    registerDefaults(r);
    assert(r.get('reader', 'nifti') === niftiReader, 'reader not registered');
    const out = join(mkdtempSync(join(os.tmpdir(), 'pack-nifti-')), 'x.nii.gz');
    await writeNifti(out, img);
    const back = await readNifti(out);
    assert(JSON.stringify(back.shape) === JSON.stringify(img.shape), 'round trip shape');
    done({ file, shape: img.shape, spacing: img.spacing });`,
  'io-itk': `
    import { Registry } from '@nnunet-ts/core';
    import { registerDefaults, readItk, writeItk, itkReader } from '@nnunet-ts/io-itk';
    import { mkdtempSync } from 'node:fs';
    import { join } from 'node:path';
    import os from 'node:os';
    const r = new Registry();
    registerDefaults(r);
    assert(r.get('reader', 'itk') === itkReader, 'reader not registered');
    const shape = [1, 3, 4, 5];
    const img = { data: Float32Array.from({ length: 60 }, (_, i) => i), dtype: 'float32', shape, spacing: [2, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const out = join(mkdtempSync(join(os.tmpdir(), 'pack-itk-')), 'x.nrrd');
    await writeItk(out, img);
    const back = await readItk(out);
    assert(JSON.stringify(back.shape) === JSON.stringify(shape), 'nrrd round trip shape ' + JSON.stringify(back.shape));
    assert(back.data[59] === 59, 'nrrd round trip data');
    done({ shape: back.shape });`,
  'backend-cpu': `
    import { Registry, selectBackend, listBackends, referenceConv3d } from '@nnunet-ts/core';
    import { registerDefaults, addonLoadError, ADDON_PATH } from '@nnunet-ts/backend-cpu';
    import { existsSync } from 'node:fs';
    const r = new Registry();
    registerDefaults(r, { native: { threads: 1 } });
    const list = await listBackends(r);
    const shipped = existsSync(ADDON_PATH);
    const native = list.find((b) => b.name === 'cpu-native');
    const js = list.find((b) => b.name === 'cpu-js');
    assert(js && js.available, 'cpu-js not available');
    if (process.env.EXPECT_NATIVE === '1') assert(native && native.available, 'cpu-native unavailable although the addon was packed: ' + (addonLoadError?.() ?? ''));
    const backend = await selectBackend(r, 'auto', () => {});
    const expected = native && native.available ? 'cpu-native' : 'cpu-js';
    assert(backend.info.name === expected, 'auto chose ' + backend.info.name + ', expected ' + expected);
    const x = { data: Float32Array.from({ length: 2 * 4 * 5 * 6 }, (_, i) => Math.sin(i)), shape: [1, 2, 4, 5, 6] };
    const w = { data: Float32Array.from({ length: 3 * 2 * 27 }, (_, i) => Math.cos(i)), shape: [3, 2, 3, 3, 3] };
    const p = { stride: [1, 1, 1], padding: [1, 1, 1] };
    const bias = new Float32Array([0.1, 0.2, 0.3]);
    const ref = referenceConv3d(x, w, bias, p);
    const maxErr = (t) => t.data.reduce((m, v, i) => Math.max(m, Math.abs(v - ref.data[i])), 0);
    const results = {};
    for (const name of [...new Set([backend.info.name, 'cpu-js'])]) {
      const b = name === backend.info.name ? backend : await selectBackend(r, name, () => {});
      const y = b.conv3d(x, w, bias, p);
      assert(JSON.stringify(y.shape) === JSON.stringify(ref.shape), name + ' conv3d shape');
      const e = maxErr(y);
      assert(e < 1e-4, name + ' conv3d max error ' + e);
      results[name] = { maxErr: e, description: b.info.description };
      b.dispose?.();
    }
    done({ addonShipped: shipped, backends: list, chosen: backend.info.name, results });`,
  'backend-tfjs': `
    import { Registry, selectBackend, listBackends, referenceConv3d } from '@nnunet-ts/core';
    import { registerDefaults } from '@nnunet-ts/backend-tfjs';
    const r = new Registry();
    registerDefaults(r);
    const list = await listBackends(r);
    const cpu = list.find((b) => b.name === 'tfjs-cpu');
    assert(cpu && cpu.available, 'tfjs-cpu not available: ' + JSON.stringify(list));
    const b = await selectBackend(r, 'tfjs-cpu', () => {});
    const x = { data: Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => Math.sin(i)), shape: [1, 2, 3, 4, 5] };
    const w = { data: Float32Array.from({ length: 2 * 2 * 27 }, (_, i) => Math.cos(i)), shape: [2, 2, 3, 3, 3] };
    const p = { stride: [1, 1, 1], padding: [1, 1, 1] };
    const ref = referenceConv3d(x, w, null, p);
    const y = b.conv3d(x, w, null, p);
    const e = y.data.reduce((m, v, i) => Math.max(m, Math.abs(v - ref.data[i])), 0);
    assert(e < 1e-3, 'tfjs-cpu conv3d max error ' + e);
    b.dispose?.();
    done({ backends: list, maxErr: e });`,
  loss: `
    import { Registry } from '@nnunet-ts/core';
    import { registerDefaults, dcAndCeLoss } from '@nnunet-ts/loss';
    const r = new Registry();
    registerDefaults(r);
    const names = r.names('loss');
    assert(names.length >= 2, 'losses not registered: ' + names);
    assert(typeof dcAndCeLoss === 'function', 'dcAndCeLoss');
    done({ losses: names });`,
  'backend-webgpu': `
    import { Registry, listBackends } from '@nnunet-ts/core';
    import { registerDefaults } from '@nnunet-ts/backend-webgpu';
    const r = new Registry();
    registerDefaults(r);
    const list = await listBackends(r);
    const w = list.find((b) => b.name === 'webgpu');
    assert(w, 'webgpu backend not registered: ' + JSON.stringify(list.map((b) => b.name)));
    done({ registered: list.map((b) => b.name) });`,
  web: `
    import { existsSync } from 'node:fs';
    import { join } from 'node:path';
    import { exportWeb, defaultSiteDir, WEB_MODEL_FORMAT } from '@nnunet-ts/web';
    assert(typeof exportWeb === 'function' && WEB_MODEL_FORMAT === 'nnunet-ts-web-model', 'exportWeb');
    for (const f of ['index.html', 'app.js', 'worker.js', 'tfjs/tfjs-backend-wasm-simd.wasm']) assert(existsSync(join(defaultSiteDir(), f)), 'site file missing from the tarball: ' + f);
    done({ site: defaultSiteDir() });`,
  'queue-bullmq': `
    import { Registry, jobQueueFor } from '@nnunet-ts/core';
    import { registerDefaults, bullmqQueue, parseQueueUrl, BullMqRunner } from '@nnunet-ts/queue-bullmq';
    const r = new Registry();
    registerDefaults(r);
    assert(jobQueueFor(r, 'redis://127.0.0.1:6379') === bullmqQueue, 'bullmq job queue not registered for redis://');
    const a = parseQueueUrl('redis://127.0.0.1:6390/2?queue=q1');
    assert(a.queue === 'q1' && a.where === '127.0.0.1:6390', 'parseQueueUrl ' + JSON.stringify(a));
    assert(typeof BullMqRunner === 'function', 'BullMqRunner');
    done({ queue: a });`,
  augment: `
    import { Registry } from '@nnunet-ts/core';
    import { registerDefaults, augmentationPlugins, createRng } from '@nnunet-ts/augment';
    const r = new Registry();
    registerDefaults(r);
    const names = r.names('augmentation');
    assert(names.length === augmentationPlugins.length && names.length > 0, 'augmentations not registered');
    const rng = createRng(1);
    assert(rng, 'createRng');
    done({ augmentations: names });`,
  'net-unet3d': `
    import { Registry } from '@nnunet-ts/core';
    import { registerDefaults, UNet } from '@nnunet-ts/net-unet3d';
    const r = new Registry();
    registerDefaults(r);
    assert(r.get('network', 'PlainConvUNet', 3).dims === 3, 'PlainConvUNet 3D');
    assert(r.get('network', 'dynamic_network_architectures.architectures.unet.ResidualEncoderUNet', 3), 'ResidualEncoderUNet 3D');
    assert(typeof UNet === 'function', 'UNet');
    done({ networks: r.names('network') });`,
  'net-unet2d': `
    import { Registry } from '@nnunet-ts/core';
    import { registerDefaults } from '@nnunet-ts/net-unet2d';
    const r = new Registry();
    registerDefaults(r);
    assert(r.get('network', 'PlainConvUNet', 2).dims === 2, 'PlainConvUNet 2D');
    done({ networks: r.names('network') });`,
  'net-cascade': `
    import { Registry } from '@nnunet-ts/core';
    import * as cascade from '@nnunet-ts/net-cascade';
    const r = new Registry();
    cascade.plugin.register(r);
    const names = r.names('network');
    assert(names.length > 0, 'no cascade network registered');
    assert(typeof cascade.oneHotPreviousStage === 'function' && typeof cascade.connectedComponents === 'function', 'exports');
    done({ registered: Object.fromEntries(['network', 'postprocessor', 'augmentation'].map((k) => [k, r.names(k)])) });`,
  cli: `
    import * as cli from '@nnunet-ts/cli';
    const keys = Object.keys(cli);
    assert(keys.length > 0, 'no exports');
    done({ exports: keys });`,
};

const PRELUDE = `
const assert = (c, m) => { if (!c) throw new Error(m); };
const done = (details) => { console.log('PACK_CHECK_RESULT ' + JSON.stringify(details)); };
`;

function writeChecks(project) {
  for (const [pkg, body] of Object.entries(CHECKS)) {
    const lines = body.split('\n').map((l) => l.trim());
    const imports = lines.filter((l) => l.startsWith('import '));
    const rest = lines.filter((l) => !l.startsWith('import '));
    writeFileSync(join(project, `check-${pkg}.mjs`), `${imports.join('\n')}\n${PRELUDE}\n${rest.join('\n')}\n`);
  }
}

async function runtimeCheck(project, pkg, env = {}) {
  const r = await run(process.execPath, [`check-${pkg}.mjs`], { cwd: project, env: { NIFTI_DIR, ...env }, timeoutMs: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('PACK_CHECK_RESULT '));
  if (r.code !== 0 || !line) throw new Error(`runtime check exited ${r.code}: ${tail(r.stderr || r.stdout)}`);
  return JSON.parse(line.slice('PACK_CHECK_RESULT '.length));
}

// ---------------------------------------------------------------------------------------------------------------
// Static checks on an installed package directory.
const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}
function exportTargets(exp, out = []) {
  if (typeof exp === 'string') out.push(exp);
  else if (Array.isArray(exp)) exp.forEach((e) => exportTargets(e, out));
  else if (exp && typeof exp === 'object') Object.values(exp).forEach((e) => exportTargets(e, out));
  return out;
}
function staticCheck(dir) {
  const m = manifest(dir);
  const problems = [];
  const has = (rel) => existsSync(join(dir, rel));
  const targets = [...exportTargets(m.exports ?? {}), m.main, m.types, ...Object.values(typeof m.bin === 'string' ? { x: m.bin } : m.bin ?? {})].filter(Boolean);
  for (const t of new Set(targets)) if (!t.includes('*') && !has(t)) problems.push(`package.json points to ${t}, which is not in the tarball`);
  for (const b of Object.values(typeof m.bin === 'string' ? { x: m.bin } : m.bin ?? {})) {
    if (has(b) && !readFileSync(join(dir, b), 'utf8').startsWith('#!')) problems.push(`bin ${b} has no #! line`);
  }
  const declared = new Set(Object.keys({ ...m.dependencies, ...m.peerDependencies, ...m.optionalDependencies }));
  const files = walk(dir).map((f) => relative(dir, f));
  const tests = files.filter((f) => /\.test\.(js|ts|mjs)$/.test(f) || f.includes('__fixtures__'));
  if (tests.length) problems.push(`test files packed: ${tests.slice(0, 5).join(', ')}${tests.length > 5 ? ', ...' : ''}`);
  const undeclared = new Map();
  // dist/site/ is @nnunet-ts/web's prebuilt page: a self-contained browser bundle with no imports to resolve
  for (const f of files.filter((f) => /\.(m?js|cjs)$/.test(f) && !f.startsWith('node_modules/') && !f.startsWith('dist/site/'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    const re = /(?:^|[;\s}])(?:import|export)\s*(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/g;
    for (const mt of src.matchAll(re)) {
      const spec = mt[1] ?? mt[2] ?? mt[3];
      if (!spec || spec.startsWith('.') || spec.startsWith('/') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0])) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (name === m.name) continue;
      // package-internal subpath imports (`#dawn`) resolve through the package's own "imports" field
      if (spec.startsWith('#')) {
        if (!Object.keys(m.imports ?? {}).includes(spec)) problems.push(`imports '${spec}' (${f}) but package.json "imports" has no such entry`);
        continue;
      }
      if (!declared.has(name)) undeclared.set(name, [...(undeclared.get(name) ?? []), f]);
    }
  }
  // vitest is only imported by the reusable contract suite (not exported, used by tests): allowed undeclared
  undeclared.delete('vitest');
  for (const [name, where] of undeclared) problems.push(`imports '${name}' (${where.slice(0, 3).join(', ')}) but does not declare it`);
  return { files: files.length, problems };
}

// ---------------------------------------------------------------------------------------------------------------
const IDENT = (pkg) => pkg.replace(/[^a-z0-9]/gi, '_');
async function typesCheck(project, pkgs, fail) {
  let tsc;
  try {
    tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return { ok: true, skipped: 'typescript is not installed in the monorepo' };
  }
  const src = [
    ...pkgs.map((p) => `import * as ${IDENT(p)} from '@nnunet-ts/${p}';`),
    `const registry: core.Registry = new core.Registry();`,
    `core.registerCoreDefaults(registry);`,
    `const plugins: core.PluginModule[] = [${pkgs.filter((p) => !['core', 'cli', 'web'].includes(p)).map((p) => `${IDENT(p)}.plugin`).join(', ')}];`,
    `for (const p of plugins) p.register(registry);`,
    ...(pkgs.includes('io-nifti') ? [`const img: Promise<io_nifti.NiftiImage> = io_nifti.readNifti('x.nii.gz');`, `void img;`] : []),
    ...(pkgs.includes('backend-cpu') ? [`const b: Promise<core.ComputeBackend> = backend_cpu.cpuJsPlugin().create();`, `void b;`] : []),
    ...(pkgs.includes('cli') ? [`void cli.createProgram;`] : []),
    ...(pkgs.includes('web') ? [`const w: typeof web.exportWeb = web.exportWeb;`, `void w;`] : []),
  ].join('\n');
  writeFileSync(join(project, 'types-check.ts'), `${src}\n`);
  const tsconfig = { compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false }, files: ['types-check.ts'] };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const r = await run(process.execPath, [tsc, '-p', '.', '--pretty', 'false'], { cwd: project, timeoutMs: 300_000 });
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  const ours = errors.filter((l) => l.startsWith('types-check.ts') || l.includes('node_modules/@nnunet-ts/'));
  for (const l of ours) {
    const m = l.match(/node_modules\/@nnunet-ts\/([^/]+)\//);
    fail(m ? m[1] : 'core', new Error(l));
  }
  if (r.code !== 0 && errors.length === 0) fail('core', new Error(`tsc exited ${r.code}: ${tail(r.stderr || r.stdout)}`));
  return { ok: ours.length === 0, errors: ours.length, thirdPartyErrors: errors.length - ours.length };
}

// ---------------------------------------------------------------------------------------------------------------
async function npmInstall(project, tarballs, what) {
  const t = Date.now();
  const r = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs], {
    cwd: project,
    timeoutMs: 600_000,
  });
  timings[`install:${what}`] = since(t);
  if (r.code !== 0) throw new Error(`npm install failed (${r.code}): ${tail(r.stderr)}`);
  return r;
}

function newProject(base, name) {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `pack-check-${name}`, version: '0.0.0', private: true, type: 'module' }, null, 2));
  writeChecks(dir);
  return dir;
}

async function main() {
  const base = mkdtempSync(join(process.env.PACK_CHECK_TMP || os.tmpdir(), 'nnunet-pack-check-'));
  const tgzDir = join(base, 'tarballs');
  mkdirSync(tgzDir);
  log(`working in ${base}`);
  const summary = { ok: false, tmp: base, packages: {}, alone: {}, timings, seconds: 0 };
  const entry = (pkg) => (summary.packages[pkg] ??= { ok: true, errors: [] });
  const fail = (pkg, where, e) => {
    const x = entry(pkg);
    x.ok = false;
    x.errors.push(`${where}: ${e instanceof Error ? e.message : String(e)}`);
    log(`FAIL ${pkg} ${where}: ${e instanceof Error ? e.message : e}`);
  };

  try {
    // 1. pack
    let t = Date.now();
    const tarballs = {};
    await pool(PACKAGES, 4, async (pkg) => {
      const dir = join(root, 'packages', pkg);
      if (!existsSync(join(dir, 'dist'))) return fail(pkg, 'pack', new Error('no dist/: run `npm run build` first'));
      const r = await run('npm', ['pack', '--json', '--pack-destination', tgzDir, '--loglevel=error'], { cwd: dir, timeoutMs: 120_000 });
      if (r.code !== 0) return fail(pkg, 'pack', new Error(tail(r.stderr)));
      const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
      tarballs[pkg] = join(tgzDir, info.filename);
      Object.assign(entry(pkg), { name: info.name, tarball: info.filename, size: info.size, unpackedSize: info.unpackedSize, entries: info.entryCount });
    });
    timings.pack = since(t);
    log(`packed ${Object.keys(tarballs).length} packages in ${timings.pack} s`);
    const nativePacked = existsSync(join(root, 'packages', 'backend-cpu', 'build', 'Release', 'nnunet_cpu.node'));
    summary.nativeAddonPacked = nativePacked;

    // 2. one project with every tarball
    const all = newProject(base, 'all');
    const packed = PACKAGES.filter((p) => tarballs[p]);
    try {
      await npmInstall(all, packed.map((p) => tarballs[p]), 'all');
      log(`installed all tarballs in ${timings['install:all']} s`);
    } catch (e) {
      for (const p of packed) fail(p, 'install (all packages)', e);
      throw e;
    }
    t = Date.now();
    await pool(packed, 4, async (pkg) => {
      const dir = join(all, 'node_modules', '@nnunet-ts', pkg);
      try {
        const s = staticCheck(dir);
        for (const p of s.problems) fail(pkg, 'static', new Error(p));
      } catch (e) {
        fail(pkg, 'static', e);
      }
      try {
        entry(pkg).details = await runtimeCheck(all, pkg, { EXPECT_NATIVE: nativePacked ? '1' : '0' });
      } catch (e) {
        fail(pkg, 'runtime', e);
      }
    });
    // the cli's bin through npx, as a user would run it
    if (tarballs.cli) {
      const r = await run('npx', ['--no-install', 'nnunet-ts', '--help'], { cwd: all, timeoutMs: 120_000 });
      if (r.code !== 0) fail('cli', 'npx nnunet-ts --help', new Error(`exit ${r.code}: ${tail(r.stderr || r.stdout)}`));
      else if (!/decathlon/.test(r.stdout)) fail('cli', 'npx nnunet-ts --help', new Error(`unexpected output: ${tail(r.stdout, 400)}`));
      else entry('cli').help = r.stdout.split('\n')[0];
    }
    timings.checks = since(t);

    // TypeScript consumer: the packed declarations resolve through `exports` and typecheck
    t = Date.now();
    summary.types = await typesCheck(all, packed, (pkg, e) => fail(pkg, 'types', e));
    timings.types = since(t);

    // 3. packages alone: only the tarballs of the package's own @nnunet-ts dependency closure
    t = Date.now();
    const closure = (pkg, seen = new Set()) => {
      if (seen.has(pkg)) return seen;
      seen.add(pkg);
      const m = manifest(join(root, 'packages', pkg));
      for (const d of Object.keys(m.dependencies ?? {})) if (d.startsWith('@nnunet-ts/')) closure(short(d), seen);
      return seen;
    };
    await pool(alone.filter((p) => tarballs[p]), 3, async (pkg) => {
      const deps = [...closure(pkg)];
      const a = (summary.alone[pkg] = { ok: true, installed: deps });
      try {
        if (deps.some((d) => !tarballs[d])) throw new Error(`missing tarballs for ${deps.filter((d) => !tarballs[d])}`);
        const proj = newProject(base, `alone-${pkg}`);
        // the package and the tarballs of its own @nnunet-ts dependencies (not on the registry); third-party
        // dependencies come from the registry
        await npmInstall(proj, deps.map((d) => tarballs[d]), `alone:${pkg}`);
        const present = readdirSync(join(proj, 'node_modules', '@nnunet-ts'));
        const extra = present.filter((d) => !deps.includes(d));
        if (extra.length) throw new Error(`unexpected @nnunet-ts packages installed: ${extra}`);
        a.details = await runtimeCheck(proj, pkg, { EXPECT_NATIVE: nativePacked ? '1' : '0' });
      } catch (e) {
        a.ok = false;
        a.error = e instanceof Error ? e.message : String(e);
        fail(pkg, 'alone', e);
      }
    });
    timings.alone = since(t);
  } catch (e) {
    summary.error = e instanceof Error ? e.message : String(e);
  }
  summary.seconds = since(t0);
  summary.ok = !summary.error && PACKAGES.every((p) => summary.packages[p]?.ok) && Object.values(summary.alone).every((a) => a.ok);
  summary.failures = Object.entries(summary.packages).flatMap(([p, x]) => x.errors.map((e) => `${p}: ${e}`));
  if (!keep) {
    rmSync(base, { recursive: true, force: true });
    summary.tmp = null;
  }
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  log(`${summary.ok ? 'OK' : 'FAILED'} in ${summary.seconds} s`);
  process.exitCode = summary.ok ? 0 : 1;
}

await main();
