import { describe, expect, it } from 'vitest';
import { cropToNonzero } from './crop.js';
import { fillHoles3d } from './fill-holes.js';

describe('cropToNonzero (RULES.md §3)', () => {
  it('crops to the hole-filled nonzero bbox and marks outside background -1 (B28a)', () => {
    const Z = 8, Y = 9, X = 10;
    const data = new Float32Array(2 * Z * Y * X);
    const seg = new Int16Array(Z * Y * X);
    const at = (z: number, y: number, x: number) => (z * Y + y) * X + x;
    // channel 0: a hollow box [2,6)x[2,7)x[3,8) with a zero pocket at its centre; channel 1: one voxel at (1,4,4)
    for (let z = 2; z < 6; z++) for (let y = 2; y < 7; y++) for (let x = 3; x < 8; x++) data[at(z, y, x)] = 100;
    data[at(3, 4, 5)] = 0;
    data[Z * Y * X + at(1, 4, 4)] = 5;
    seg[at(3, 3, 4)] = 2;
    const r = cropToNonzero(data, [2, Z, Y, X], seg);
    expect(r.bbox).toEqual([[1, 6], [2, 7], [3, 8]]);
    expect(r.shape).toEqual([2, 5, 5, 5]);
    const cat = (z: number, y: number, x: number) => ((z - 1) * 5 + (y - 2)) * 5 + (x - 3);
    expect(r.seg[cat(3, 4, 5)]).toBe(0); // the interior pocket is inside (hole filled)
    expect(r.seg[cat(3, 3, 4)]).toBe(2);
    expect(r.seg[cat(1, 2, 3)]).toBe(-1); // slice z=1 is outside except (1,4,4)
    expect(r.seg[cat(1, 4, 4)]).toBe(0);
    expect(r.data[cat(3, 3, 4)]).toBe(100);
    expect(r.data[125 + cat(1, 4, 4)]).toBe(5);
  });
  it('builds a 0/-1 seg without a label and keeps an all-nonzero CT uncropped (B28b)', () => {
    const data = new Float32Array(27).fill(-1024);
    const r = cropToNonzero(data, [1, 3, 3, 3], null);
    expect(r.bbox).toEqual([[0, 3], [0, 3], [0, 3]]);
    expect(r.data).toBe(data);
    expect([...r.seg].every((v) => v === 0)).toBe(true);
  });
  it('an all-zero image keeps the full volume, all outside', () => {
    const r = cropToNonzero(new Float32Array(8), [1, 2, 2, 2], new Int16Array(8));
    expect(r.shape).toEqual([1, 2, 2, 2]);
    expect([...r.seg]).toEqual(new Array(8).fill(-1));
  });
});

describe('fillHoles3d', () => {
  it('fills enclosed cavities only (6-connected background)', () => {
    const n = 5;
    const m = new Uint8Array(n * n * n);
    for (let z = 1; z < 4; z++) for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) m[(z * n + y) * n + x] = 1;
    m[(2 * n + 2) * n + 2] = 0; // cavity
    fillHoles3d(m, [n, n, n]);
    expect(m[(2 * n + 2) * n + 2]).toBe(1);
    expect(m[0]).toBe(0);
    // a tunnel to the border keeps the cavity open
    const t = new Uint8Array(n * n * n);
    for (let z = 1; z < 4; z++) for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) t[(z * n + y) * n + x] = 1;
    t[(2 * n + 2) * n + 2] = 0;
    t[(2 * n + 2) * n + 1] = 0;
    fillHoles3d(t, [n, n, n]);
    expect(t[(2 * n + 2) * n + 2]).toBe(0);
  });
});
