import { createRng, type Sample } from '@nnunet-ts/core';
import { describe, expect, it } from 'vitest';
import { resampleAffine, spatialTransform } from './spatial.js';

/** A 1-channel sample with a 3-label seg: a ball of 2 inside a ball of 1 in background 0. */
function balls(n: number): Sample {
  const seg = new Int16Array(n * n * n);
  const c = (n - 1) / 2;
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const r = Math.hypot(z - c, y - c * 0.8, x - c * 1.1);
        seg[(z * n + y) * n + x] = r < n / 6 ? 2 : r < n / 3 ? 1 : 0;
      }
  return { image: new Float32Array(n * n * n), seg, shape: [1, n, n, n] };
}

/** Reference: one-hot channel of each label, trilinear with zeros outside, argmax (lowest label on ties), -1 out of bounds. */
function reference(s: Sample, out: number[], M: number[]): Int16Array {
  const [, Z, Y, X] = s.shape as number[];
  const labels = [...new Set(s.seg!)].sort((a, b) => a - b);
  const at = (lab: number, z: number, y: number, x: number) =>
    z >= 0 && z < Z! && y >= 0 && y < Y! && x >= 0 && x < X! && s.seg![(z * Y! + y) * X! + x] === lab ? 1 : 0;
  const [oz, oy, ox] = out as [number, number, number];
  const cOut = [(oz - 1) / 2, (oy - 1) / 2, (ox - 1) / 2];
  const cIn = [cOut[0]! + Math.floor((Z! - oz) / 2), cOut[1]! + Math.floor((Y! - oy) / 2), cOut[2]! + Math.floor((X! - ox) / 2)];
  const res = new Int16Array(oz * oy * ox);
  for (let z = 0; z < oz; z++)
    for (let y = 0; y < oy; y++)
      for (let x = 0; x < ox; x++) {
        const d = [z - cOut[0]!, y - cOut[1]!, x - cOut[2]!];
        const p = [0, 1, 2].map((r) => cIn[r]! + M[3 * r]! * d[0]! + M[3 * r + 1]! * d[1]! + M[3 * r + 2]! * d[2]!);
        if (p.some((v, i) => v < 0 || v > [Z!, Y!, X!][i]! - 1)) {
          res[(z * oy + y) * ox + x] = -1;
          continue;
        }
        const f = p.map(Math.floor);
        const w = p.map((v, i) => v - f[i]!);
        let best = -Infinity;
        let arg = labels[0]!;
        for (const lab of labels) {
          let v = 0;
          for (let k = 0; k < 8; k++) {
            const b = [k >> 2, (k >> 1) & 1, k & 1];
            const wk = b.reduce((acc, bi, i) => acc * (bi ? w[i]! : 1 - w[i]!), 1);
            v += wk * at(lab, f[0]! + b[0]!, f[1]! + b[1]!, f[2]! + b[2]!);
          }
          if (v > best + 1e-12) {
            best = v;
            arg = lab;
          }
        }
        res[(z * oy + y) * ox + x] = arg;
      }
  return res;
}

describe('spatial transform: labels as one-hot channels, linear, argmax (bg2 / nnU-Net v2)', () => {
  it('equals a one-hot trilinear argmax reference under random rotation and scaling', () => {
    const t = spatialTransform({ patchSize: [14, 14, 14], rotation: [-0.6, 0.6], pRotation: 1, pScaling: 1, inPlaneOnly: false });
    const rng = createRng(3);
    const s = balls(20);
    for (let k = 0; k < 4; k++) {
      const p = t.getParameters(s, rng)!;
      const out = t.apply(s, p);
      const want = reference(s, [14, 14, 14], p.matrix!);
      let diff = 0;
      for (let i = 0; i < want.length; i++) if (out.seg![i] !== want[i]) diff++;
      expect(diff, `rotation/scale ${k}: voxels differing from the reference`).toBe(0);
    }
  });

  it('differs from nearest neighbour: a half-voxel shift of a 0/1 stripe pattern ties to the lower label, -1 outside', () => {
    // 1 x 1 x 8 stripes 0,1,0,1,...; a 2x magnification along x puts every other output between two stripes
    const seg = Int16Array.from({ length: 8 }, (_, i) => i % 2);
    const s: Sample = { image: new Float32Array(8), seg, shape: [1, 1, 1, 8] };
    const M = [1, 0, 0, 0, 1, 0, 0, 0, 0.5];
    const lin = resampleAffine(s, [1, 1, 7], M);
    const near = resampleAffine(s, [1, 1, 7], M, 'nearest');
    // input x = 3 + 0.5 (o - 3): 1.5, 2, 2.5, 3, 3.5, 4, 4.5; at the halves the two labels tie: the lower one wins
    expect(Array.from(lin.seg!)).toEqual([0, 0, 0, 1, 0, 0, 0]);
    expect(Array.from(near.seg!)).toEqual([0, 0, 1, 1, 0, 0, 1]);
    const far = resampleAffine(s, [1, 1, 8], [1, 0, 0, 0, 1, 0, 0, 0, 2]);
    expect(far.seg![0]).toBe(-1); // x = 3.5 - 7 < 0: outside
  });
});
