// A stand-in for the part of vitest's API that the shared contract suites use (describe / it / beforeAll /
// afterAll / expect with the usual matchers), so bench/gpu.sh can run `describeDeviceContract` on a GPU machine
// that has Node (carried) but no node_modules. bench/gpu-bundle.mjs aliases `vitest` to this file; `runAll()`
// runs the registered tests in order and returns one row per test. Not a test framework for anything else.
import { isDeepStrictEqual, inspect } from 'node:util';

const root = { name: '', children: [], beforeAll: [], afterAll: [] };
let current = root;

export function describe(name, fn) {
  const s = { name, children: [], beforeAll: [], afterAll: [] };
  current.children.push(s);
  const prev = current;
  current = s;
  try {
    fn();
  } finally {
    current = prev;
  }
}
describe.skip = () => {};

/** `it(name, fn)`, `it(name, fn, timeoutMs)`, `it(name, { timeout }, fn)`. */
export function it(name, a, b) {
  const fn = typeof a === 'function' ? a : b;
  const timeout = typeof a === 'number' ? a : typeof b === 'number' ? b : (a?.timeout ?? 120_000);
  current.children.push({ name, fn, timeout });
}
it.skip = (name) => current.children.push({ name, skip: true });
export const test = it;
export const beforeAll = (fn) => current.beforeAll.push(fn);
export const afterAll = (fn) => current.afterAll.push(fn);

class AssertionError extends Error {}

const show = (v) => inspect(v, { depth: 4, maxArrayLength: 12, breakLength: 120 });

function matchers(actual, negate, label) {
  const check = (ok, what) => {
    if (ok === negate) throw new AssertionError(`${label ? `${label}: ` : ''}expected ${show(actual)} ${negate ? 'not ' : ''}${what}`);
  };
  const throws = (fn, expected) => {
    let thrown;
    try {
      fn();
    } catch (e) {
      thrown = e ?? new Error('undefined thrown');
    }
    return matchThrown(thrown, expected);
  };
  const m = {
    toBe: (v) => check(Object.is(actual, v), `to be ${show(v)}`),
    toEqual: (v) => check(isDeepStrictEqual(actual, v) || looseEqual(actual, v), `to equal ${show(v)}`),
    toStrictEqual: (v) => check(isDeepStrictEqual(actual, v), `to strictly equal ${show(v)}`),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeUndefined: () => check(actual === undefined, 'to be undefined'),
    toBeDefined: () => check(actual !== undefined, 'to be defined'),
    toBeTruthy: () => check(!!actual, 'to be truthy'),
    toBeFalsy: () => check(!actual, 'to be falsy'),
    toBeNaN: () => check(Number.isNaN(actual), 'to be NaN'),
    toBeLessThan: (v) => check(actual < v, `to be < ${v}`),
    toBeLessThanOrEqual: (v) => check(actual <= v, `to be <= ${v}`),
    toBeGreaterThan: (v) => check(actual > v, `to be > ${v}`),
    toBeGreaterThanOrEqual: (v) => check(actual >= v, `to be >= ${v}`),
    toBeCloseTo: (v, digits = 2) => check(Math.abs(actual - v) < 10 ** -digits / 2, `to be close to ${v} (${digits} digits)`),
    toBeInstanceOf: (c) => check(actual instanceof c, `to be an instance of ${c?.name}`),
    toContain: (v) => check(actual?.includes?.(v) === true, `to contain ${show(v)}`),
    toHaveLength: (n) => check(actual?.length === n, `to have length ${n}`),
    toMatch: (re) => check(typeof actual === 'string' && (typeof re === 'string' ? actual.includes(re) : re.test(actual)), `to match ${re}`),
    toThrow: (expected) => check(throws(actual, expected), `to throw${expected ? ` ${show(expected)}` : ''}`),
  };
  return m;
}

/** vitest's toEqual ignores undefined properties and compares typed arrays by value. */
function looseEqual(a, b) {
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) return a.length === b.length && Array.prototype.every.call(a, (v, i) => Object.is(v, b[i]));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => looseEqual(v, b[i]) || isDeepStrictEqual(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => looseEqual(a[k], b[k]) || isDeepStrictEqual(a[k], b[k]));
  }
  return Object.is(a, b);
}

function matchThrown(thrown, expected) {
  if (!thrown) return false;
  if (expected === undefined) return true;
  const msg = String(thrown?.message ?? thrown);
  if (typeof expected === 'string') return msg.includes(expected);
  if (expected instanceof RegExp) return expected.test(msg);
  if (typeof expected === 'function') return thrown instanceof expected;
  return msg === expected?.message;
}

export function expect(actual, label) {
  const m = matchers(actual, false, label);
  m.not = matchers(actual, true, label);
  const settled = (rejected) => {
    const wrap = (neg) =>
      new Proxy({}, {
        get: (_, key) => async (...args) => {
          let value;
          let error;
          let isRejected = false;
          try {
            value = await (typeof actual === 'function' ? actual() : actual);
          } catch (e) {
            error = e;
            isRejected = true;
          }
          if (isRejected !== rejected) throw new AssertionError(`expected the promise to ${rejected ? 'reject' : 'resolve'}`);
          if (rejected && key === 'toThrow') {
            if (matchThrown(error ?? new Error('rejected'), args[0]) === neg) throw new AssertionError(`rejection ${show(error?.message)} does not match ${show(args[0])}`);
            return;
          }
          const inner = matchers(rejected ? error : value, neg, label);
          return inner[key](...args);
        },
      });
    const p = wrap(false);
    p.not = wrap(true);
    return p;
  };
  Object.defineProperty(m, 'resolves', { get: () => settled(false) });
  Object.defineProperty(m, 'rejects', { get: () => settled(true) });
  return m;
}

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * Runs every registered test in registration order (hooks per describe). Returns
 * `[{ name, status: 'pass' | 'fail' | 'skip', seconds, error? }]`; `log` gets one line per test.
 */
export async function runAll(log = () => {}) {
  const rows = [];
  async function run(s, prefix) {
    const path = s.name ? [...prefix, s.name] : prefix;
    let hookError;
    for (const h of s.beforeAll) {
      try {
        await withTimeout(Promise.resolve(h()), 300_000, 'beforeAll');
      } catch (e) {
        hookError = e;
      }
    }
    for (const c of s.children) {
      if (c.children) {
        await run(c, path);
        continue;
      }
      const name = [...path, c.name].join(' > ');
      if (c.skip) {
        rows.push({ name, status: 'skip' });
        continue;
      }
      const t = performance.now();
      try {
        if (hookError) throw hookError;
        await withTimeout(Promise.resolve(c.fn()), c.timeout, c.name);
        rows.push({ name, status: 'pass', seconds: +((performance.now() - t) / 1000).toFixed(3) });
      } catch (e) {
        rows.push({ name, status: 'fail', seconds: +((performance.now() - t) / 1000).toFixed(3), error: String(e?.stack ?? e).split('\n').slice(0, 4).join('\n') });
      }
      const r = rows.at(-1);
      log(`${r.status === 'pass' ? 'ok  ' : 'FAIL'} ${name} (${r.seconds} s)${r.error ? `\n     ${r.error.split('\n')[0]}` : ''}`);
    }
    for (const h of s.afterAll) await Promise.resolve(h()).catch(() => {});
  }
  await run(root, []);
  return rows;
}

export default { describe, it, test, expect, beforeAll, afterAll };
