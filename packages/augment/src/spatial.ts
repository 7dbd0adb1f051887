import type { Rng, Sample, Transform } from '@nnunet-ts/core';
import { segLinearArgmax, segNearest } from './seg-sampling.js';

/** Options of {@link spatialTransform} (RULES.md §17, v2 column). */
export interface SpatialOptions {
  /** Output patch `[z, y, x]` (2D: `[1, y, x]`). */
  patchSize: number[];
  /** Rotation range, radians, per rotated axis. */
  rotation: [number, number];
  /** Probability of rotating a sample (0.2). */
  pRotation?: number;
  /** Isotropic scale range (0.7, 1.4); one factor for all axes. */
  scaling?: [number, number];
  /** Probability of scaling a sample (0.2). */
  pScaling?: number;
  /** Rotate and scale in the y-x plane only (2D configurations and dummy-2D). */
  inPlaneOnly: boolean;
  /**
   * How the seg is sampled when the sample is rotated or scaled: `linear` (default, nnU-Net v2 / bg2: one-hot
   * channels interpolated linearly, argmax) or `nearest` (opt-in deviation: nearest neighbour, faster).
   */
  segInterpolation?: 'linear' | 'nearest';
}

/** Parameters: 3x3 matrix (row-major, `[z, y, x]` axes) mapping output offsets to input offsets, or null for a plain crop. */
export interface SpatialParams {
  matrix: number[] | null;
}

function rotations(az: number, ay: number, ax: number): number[] {
  // Rotation about z (acts on y-x), then y (z-x), then x (z-y); axes ordered [z, y, x].
  const m = (a: number[], b: number[]) =>
    [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!));
  const [cz, sz, cy, sy, cx, sx] = [Math.cos(az), Math.sin(az), Math.cos(ay), Math.sin(ay), Math.cos(ax), Math.sin(ax)];
  const rz = [1, 0, 0, 0, cz, -sz, 0, sz, cz];
  const ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const rx = [cx, -sx, 0, sx, cx, 0, 0, 0, 1];
  return m(m(rz, ry), rx);
}

/**
 * nnU-Net's spatial transform (batchgeneratorsv2 `SpatialTransform` as configured in v2, RULES.md §17): with p 0.2 a
 * rotation (every axis in 3D, in-plane for 2D/dummy-2D, each angle uniform in `rotation`), with p 0.2 one isotropic
 * scale factor in (0.7, 1.4) (> 1 samples a larger region, objects get smaller), no elastic deformation, centre crop
 * to `patchSize` (no random crop). Data is resampled linearly with 0 outside; the seg as one-hot channels
 * interpolated linearly with an argmax over labels, -1 outside (bg2, see `segLinearArgmax`), or by nearest
 * neighbour with `segInterpolation: 'nearest'`.
 * Without rotation and scaling the output is an exact integer centre crop.
 * Input any `[c, z, y, x]` at least as large as the patch; output `[c, ...patchSize]`.
 */
export function spatialTransform(o: SpatialOptions): Transform<SpatialParams> {
  const pRot = o.pRotation ?? 0.2;
  const pScale = o.pScaling ?? 0.2;
  const [sLo, sHi] = o.scaling ?? [0.7, 1.4];
  return {
    name: 'SpatialTransform',
    targets: ['image', 'segmentation', 'previousStageSegmentation'],
    cropsToPatchSize: true,
    getParameters(_s: Sample, rng: Rng): SpatialParams {
      const doRot = rng.next() < pRot;
      const doScale = rng.next() < pScale;
      if (!doRot && !doScale) return { matrix: null };
      const ang = () => rng.uniform(o.rotation[0], o.rotation[1]);
      let m = [1, 0, 0, 0, 1, 0, 0, 0, 1];
      if (doRot) m = o.inPlaneOnly ? rotations(ang(), 0, 0) : rotations(ang(), ang(), ang());
      if (doScale) {
        const s = rng.uniform(sLo, sHi);
        m = m.map((v, i) => (o.inPlaneOnly && i < 3 ? v : v * s));
        if (o.inPlaneOnly) m[0] = 1;
      }
      return { matrix: m };
    },
    apply(sample: Sample, p: SpatialParams): Sample {
      return resampleAffine(sample, o.patchSize, p.matrix, o.segInterpolation ?? 'linear');
    },
  };
}

/** `resampleAffine` with `M = null`: an integer centre crop, or a centred pad (data 0, seg -1), by `off` = `floor((in - out) / 2)`. */
function centreCropOrPad(sample: Sample, outSize: number[], off: readonly [number, number, number]): Sample {
  const [C, Z, Y, X] = sample.shape as [number, number, number, number];
  const [oz, oy, ox] = outSize as [number, number, number];
  const nOut = oz * oy * ox;
  const nIn = Z * Y * X;
  const image = new Float32Array(C * nOut);
  const seg = sample.seg ? new Int16Array(nOut) : undefined;
  for (let z = 0; z < oz; z++) {
    const iz = z + off[0];
    for (let y = 0; y < oy; y++) {
      const iy = y + off[1];
      const rowOut = (z * oy + y) * ox;
      const inside = iz >= 0 && iz < Z && iy >= 0 && iy < Y;
      for (let x = 0; x < ox; x++) {
        const ix = x + off[2];
        const ok = inside && ix >= 0 && ix < X;
        const src = (iz * Y + iy) * X + ix;
        for (let c = 0; c < C; c++) image[c * nOut + rowOut + x] = ok ? sample.image[c * nIn + src]! : 0;
        if (seg) seg[rowOut + x] = ok ? sample.seg![src]! : -1;
      }
    }
  }
  return { ...sample, image, seg, shape: [C, oz, oy, ox] };
}

/**
 * Resample a sample onto an output grid `outSize` (`[z, y, x]`): output voxel `o` reads input position
 * `cIn + M (o - cOut)` with `cOut = (outSize - 1) / 2` and `cIn = cOut + floor((inSize - outSize) / 2)`.
 * `M = null` is an integer centre crop (or centred pad: data 0, seg -1). Data trilinear (0 outside); seg by
 * `segLinearArgmax` (default) or `segNearest`, -1 outside.
 */
export function resampleAffine(sample: Sample, outSize: number[], M: number[] | null, segMode: 'linear' | 'nearest' = 'linear'): Sample {
  const [C, Z, Y, X] = sample.shape as [number, number, number, number];
  const [oz, oy, ox] = outSize as [number, number, number];
  const off = [Math.floor((Z - oz) / 2), Math.floor((Y - oy) / 2), Math.floor((X - ox) / 2)] as const;
  if (M === null) return centreCropOrPad(sample, outSize, off);
  const nOut = oz * oy * ox;
  const nIn = Z * Y * X;
  const image = new Float32Array(C * nOut);
  const seg = sample.seg ? new Int16Array(nOut) : undefined;
  const cOut = [(oz - 1) / 2, (oy - 1) / 2, (ox - 1) / 2];
  const cIn = [cOut[0]! + off[0], cOut[1]! + off[1], cOut[2]! + off[2]];
  const src = sample.image;
  const sseg = sample.seg;
  const YX = Y * X;
  const scratch = { labels: new Int32Array(8), weights: new Float64Array(8) };
  for (let z = 0; z < oz; z++) {
    for (let y = 0; y < oy; y++) {
      const dz = z - cOut[0]!;
      const dy = y - cOut[1]!;
      const dx0 = -cOut[2]!;
      // input position at x = 0, then increments per output x step (third column of M)
      let pz = cIn[0]! + M[0]! * dz + M[1]! * dy + M[2]! * dx0;
      let py = cIn[1]! + M[3]! * dz + M[4]! * dy + M[5]! * dx0;
      let px = cIn[2]! + M[6]! * dz + M[7]! * dy + M[8]! * dx0;
      const rowOut = (z * oy + y) * ox;
      for (let x = 0; x < ox; x++, pz += M[2]!, py += M[5]!, px += M[8]!) {
        const o = rowOut + x;
        if (seg) seg[o] = segMode === 'linear' ? segLinearArgmax(sseg!, Z, Y, X, pz, py, px, scratch) : segNearest(sseg!, Z, Y, X, pz, py, px);
        const z0 = Math.floor(pz);
        const y0 = Math.floor(py);
        const x0 = Math.floor(px);
        if (z0 < -1 || z0 >= Z || y0 < -1 || y0 >= Y || x0 < -1 || x0 >= X) continue; // all 8 corners outside: 0
        const wz = pz - z0;
        const wy = py - y0;
        const wx = px - x0;
        if (z0 >= 0 && y0 >= 0 && x0 >= 0 && (z0 + 1 < Z || wz === 0) && (y0 + 1 < Y || wy === 0) && (x0 + 1 < X || wx === 0)) {
          // all contributing corners inside: unrolled trilinear (a zero weight's neighbour is the voxel itself)
          const sz = z0 + 1 < Z ? YX : 0;
          const sy = y0 + 1 < Y ? X : 0;
          const sx = x0 + 1 < X ? 1 : 0;
          for (let c = 0; c < C; c++) {
            const i = c * nIn + z0 * YX + y0 * X + x0;
            const a00 = src[i]! + wx * (src[i + sx]! - src[i]!);
            const a01 = src[i + sy]! + wx * (src[i + sy + sx]! - src[i + sy]!);
            const a10 = src[i + sz]! + wx * (src[i + sz + sx]! - src[i + sz]!);
            const a11 = src[i + sz + sy]! + wx * (src[i + sz + sy + sx]! - src[i + sz + sy]!);
            const b0 = a00 + wy * (a01 - a00);
            const b1 = a10 + wy * (a11 - a10);
            image[c * nOut + o] = b0 + wz * (b1 - b0);
          }
          continue;
        }
        for (let c = 0; c < C; c++) {
          const base = c * nIn;
          let acc = 0;
          for (let k = 0; k < 8; k++) {
            const zz = z0 + (k >> 2);
            const yy = y0 + ((k >> 1) & 1);
            const xx = x0 + (k & 1);
            if (zz < 0 || zz >= Z || yy < 0 || yy >= Y || xx < 0 || xx >= X) continue;
            const w = (k >> 2 ? wz : 1 - wz) * ((k >> 1) & 1 ? wy : 1 - wy) * (k & 1 ? wx : 1 - wx);
            if (w !== 0) acc += w * src[base + zz * YX + yy * X + xx]!;
          }
          image[c * nOut + o] = acc;
        }
      }
    }
  }
  return { ...sample, image, seg, shape: [C, oz, oy, ox] };
}
