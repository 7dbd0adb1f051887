import type { Geometry, MedicalImage } from '../image/image.js';
import { indexToWorld } from '../image/image.js';

/**
 * Resample `src` onto the grid of `target` in world space (LPS): each target voxel takes the value of `src` at the
 * same world point, trilinear (`order` 1, images) or nearest (`order` 0, labels); points outside `src` get 0.
 * For the explicit opt-in alignment of channels and labels (bad inputs B01, B03); never applied silently.
 * Returns `[c, ...target spatial shape]` in float32 (order 1) or int16 (order 0).
 */
export function resampleOntoGrid(src: MedicalImage, target: Geometry & { shape: readonly number[] }, order: 0 | 1): MedicalImage {
  const [C, Zs, Ys, Xs] = src.shape;
  const [Z, Y, X] = target.shape.slice(-3) as [number, number, number];
  const n = Z * Y * X;
  const out = order === 0 ? new Int16Array(C * n) : new Float32Array(C * n);
  const d = src.direction;
  const s = [src.spacing[2], src.spacing[1], src.spacing[0]]; // (sx, sy, sz) for index axes (i, j, k)
  // continuous source index of a world point: diag(1/s) * D^T * (p - origin) (D orthonormal)
  const toIndex = (p: number[]): [number, number, number] => {
    const v = [p[0]! - src.origin[0], p[1]! - src.origin[1], p[2]! - src.origin[2]];
    const r = [0, 1, 2].map((c) => (d[c]! * v[0]! + d[3 + c]! * v[1]! + d[6 + c]! * v[2]!) / s[c]!);
    return r as [number, number, number];
  };
  const plane = Ys * Xs;
  const vol = Zs * plane;
  let t = 0;
  for (let k = 0; k < Z; k++)
    for (let j = 0; j < Y; j++)
      for (let i = 0; i < X; i++, t++) {
        const [x, y, z] = toIndex(indexToWorld(target, [i, j, k]));
        if (order === 0) {
          const xi = Math.round(x), yi = Math.round(y), zi = Math.round(z);
          if (xi < 0 || yi < 0 || zi < 0 || xi >= Xs || yi >= Ys || zi >= Zs) continue;
          for (let c = 0; c < C; c++) out[c * n + t] = src.data[c * vol + zi * plane + yi * Xs + xi]!;
          continue;
        }
        const eps = 1e-6;
        if (x < -eps || y < -eps || z < -eps || x > Xs - 1 + eps || y > Ys - 1 + eps || z > Zs - 1 + eps) continue;
        const x0 = Math.min(Math.max(Math.floor(x), 0), Math.max(Xs - 2, 0));
        const y0 = Math.min(Math.max(Math.floor(y), 0), Math.max(Ys - 2, 0));
        const z0 = Math.min(Math.max(Math.floor(z), 0), Math.max(Zs - 2, 0));
        const fx = Xs > 1 ? x - x0 : 0, fy = Ys > 1 ? y - y0 : 0, fz = Zs > 1 ? z - z0 : 0;
        const x1 = Math.min(x0 + 1, Xs - 1), y1 = Math.min(y0 + 1, Ys - 1), z1 = Math.min(z0 + 1, Zs - 1);
        for (let c = 0; c < C; c++) {
          const b = c * vol;
          const at = (zz: number, yy: number, xx: number) => src.data[b + zz * plane + yy * Xs + xx]!;
          const c00 = at(z0, y0, x0) * (1 - fx) + at(z0, y0, x1) * fx;
          const c01 = at(z0, y1, x0) * (1 - fx) + at(z0, y1, x1) * fx;
          const c10 = at(z1, y0, x0) * (1 - fx) + at(z1, y0, x1) * fx;
          const c11 = at(z1, y1, x0) * (1 - fx) + at(z1, y1, x1) * fx;
          out[c * n + t] = (c00 * (1 - fy) + c01 * fy) * (1 - fz) + (c10 * (1 - fy) + c11 * fy) * fz;
        }
      }
  return {
    data: out,
    shape: [C, Z, Y, X],
    spacing: [...target.spacing],
    origin: [...target.origin],
    direction: [...target.direction],
    source: src.source,
    warnings: src.warnings,
  };
}
