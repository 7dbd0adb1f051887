/** Small helpers to write 1D grid-stride WGSL kernels. */
import { type Engine, type KernelSource, type Uniform, GRID_PARAMS, GRID_STRIDE, WG, grid1d } from '../engine.js';

/** One storage binding of a generated kernel: name, element type, writable or not. */
export interface Binding {
  name: string;
  type?: 'f32' | 'i32' | 'u32';
  write?: boolean;
}

/** WGSL declarations of `struct P` (fields all `u32` unless typed `name: f32`) and the storage bindings. */
export function header(fields: string[], bindings: Binding[]): string {
  const f = fields.map((x) => (x.includes(':') ? x : `${x}: u32`)).join(', ');
  const b = bindings
    .map(
      (x, i) =>
        `@group(0) @binding(${i + 1}) var<storage, ${x.write ? 'read_write' : 'read'}> ${x.name}: array<${x.type ?? 'f32'}>;`,
    )
    .join('\n');
  return `struct P { ${f} };\n@group(0) @binding(0) var<uniform> p: P;\n${b}\n`;
}

/**
 * A kernel running `body` for every `i` in `[0, p.n)` (grid-stride loop). `fields` are the uniform fields after
 * `n`; helper functions go in `extra`.
 */
export function elementwise(key: string, fields: string[], bindings: Binding[], body: string, extra = ''): KernelSource {
  return {
    key,
    code: `${header(['n', ...fields], bindings)}${extra}
@compute @workgroup_size(${WG})
fn main(${GRID_PARAMS}) {
  ${GRID_STRIDE}
  for (var i = start; i < p.n; i += nthreads) {
    ${body}
  }
}`,
  };
}

/** Dispatches a kernel from `elementwise` over `n` items; `uniforms` are the values after `n`. */
export function run1d(e: Engine, k: KernelSource, n: number, buffers: GPUBuffer[], uniforms: Uniform[] = []): void {
  e.dispatch(k, buffers, [{ u: n }, ...uniforms], grid1d(n));
}

/** Uniform helpers. */
export const u = (v: number): Uniform => ({ u: v });
export const f = (v: number): Uniform => ({ f: v });
export const i32 = (v: number): Uniform => ({ i: v });

/** WGSL: true when a float is finite (exponent bits not all ones). */
export const IS_FINITE = `fn isFinite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }`;

/**
 * A workgroup tree reduction of `q` values per thread: `red(v)` returns the workgroup sum of `v` to every thread.
 * Needs `lid` in scope.
 */
export const WG_REDUCE = `
var<workgroup> sh: array<f32, ${WG}>;
fn red(v: f32, t: u32) -> f32 {
  sh[t] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { sh[t] += sh[t + s]; }
    workgroupBarrier();
  }
  let r = sh[0];
  workgroupBarrier();
  return r;
}`;
