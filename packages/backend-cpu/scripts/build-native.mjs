#!/usr/bin/env node
// Builds the cpu-native addon (build/Release/nnunet_cpu.node) with a plain C++ compiler against Node's headers,
// offline: no node-gyp download. The micro-kernel files get their own instruction-set flags (runtime dispatch).
// A failed build prints a warning and exits 0: the cpu-js backend then serves instead, and the monorepo build
// goes on. Environment: CXX (default g++), NNUNET_SKIP_NATIVE=1 to skip.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(pkg, 'native');
const out = join(pkg, 'build', 'Release');
const obj = join(pkg, 'build', 'obj');
const target = join(out, 'nnunet_cpu.node');

function warn(msg) {
  console.warn(`[@nnunet-ts/backend-cpu] WARNING: native addon not built (${msg}); the pure-JS 'cpu-js' backend will be used.`);
  process.exit(0);
}

if (process.env.NNUNET_SKIP_NATIVE === '1') warn('NNUNET_SKIP_NATIVE=1');

function nodeHeaders() {
  const v = process.version;
  const cands = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
    join(os.homedir(), '.cache', 'node-gyp', v.slice(1), 'include', 'node'),
    join(os.homedir(), '.node-gyp', v.slice(1), 'include', 'node'),
  ].filter(Boolean);
  return cands.find((d) => existsSync(join(d, 'node_api.h')));
}

const headers = nodeHeaders();
if (!headers) warn("Node's headers (node_api.h) not found; set npm_config_nodedir");
let addonApi;
try {
  addonApi = dirname(createRequire(import.meta.url).resolve('node-addon-api/package.json'));
} catch {
  warn('node-addon-api is not installed');
}
const cxx = process.env.CXX || 'g++';
const x86 = process.arch === 'x64';
// Optional SIMD units: if the compiler cannot build one, the addon is built without it (the runtime dispatch then
// never picks it) instead of failing.
// Each level: its conv micro-kernels and its build of the other ops (ops_body.h).
const optional = x86
  ? [
      [['kern_avx2.cpp', 'ops_avx2.cpp'], ['-mavx2', '-mfma'], 'NNUNET_NO_AVX2'],
      [['kern_avx512.cpp', 'ops_avx512.cpp'], ['-mavx512f', '-mfma'], 'NNUNET_NO_AVX512'],
    ]
  : [];
const common = ['-O3', '-std=c++17', '-fPIC', '-pthread', '-fno-math-errno', '-ffp-contract=fast', `-I${headers}`, `-I${src}`];
mkdirSync(out, { recursive: true });
mkdirSync(obj, { recursive: true });
const objs = [];
const deps = ['kern_body.h', 'kernels.h', 'conv.h', 'pool.h', 'ops.h', 'ops_body.h'].map((f) => join(src, f));
/** Compiles one unit unless its object is newer than its sources; returns the object path. */
function compile(file, flags) {
  const s = join(src, file);
  const o = join(obj, file.replace(/\.cpp$/, '.o'));
  if (existsSync(o) && [s, ...deps].every((d) => statSync(d).mtimeMs <= statSync(o).mtimeMs)) return o;
  console.log(`[@nnunet-ts/backend-cpu] ${cxx} ${file}`);
  execFileSync(cxx, [...common, ...flags, '-c', s, '-o', o], { stdio: 'inherit' });
  return o;
}
try {
  objs.push(compile('kern_generic.cpp', []), compile('ops_generic.cpp', []));
  const missing = [];
  for (const [files, flags, define] of optional) {
    try {
      const built = files.map((file) => compile(file, flags));
      objs.push(...built);
    } catch (e) {
      console.warn(`[@nnunet-ts/backend-cpu] WARNING: ${files.join(', ')} did not compile (${e.message.split('\n')[0]}); built without them`);
      missing.push(`-D${define}`);
    }
  }
  // conv.cpp's object depends on which units exist: rebuild it when that changes
  const stamp = join(obj, 'conv.flags');
  const flagsNow = missing.join(' ');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== flagsNow) for (const o of ['conv.o', 'ops.o']) rmSync(join(obj, o), { force: true });
  objs.push(compile('conv.cpp', missing), compile('ops.cpp', missing));
  writeFileSync(stamp, flagsNow);
  objs.push(compile('addon.cpp', [`-I${addonApi}`, '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED']));
  execFileSync(cxx, ['-shared', '-pthread', '-o', target, ...objs], { stdio: 'inherit' });
  console.log(`[@nnunet-ts/backend-cpu] built ${target}${missing.length ? ` (without ${missing.join(', ')})` : ''}`);
} catch (e) {
  warn(`${cxx} failed: ${e.message.split('\n')[0]}`);
}
