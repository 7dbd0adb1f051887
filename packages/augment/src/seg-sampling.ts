/**
 * Label of a seg `[z, y, x]` at a fractional input position, as batchgeneratorsv2's `SpatialTransform` samples
 * segmentations in nnU-Net v2 (`mode_seg='bilinear'`, `bg_style_seg_sampling=False`, `border_mode_seg='constant'`,
 * `padding_value_seg=-1`): every label present is a one-hot channel, interpolated linearly, and the voxel takes the
 * label with the largest interpolated value (the lowest label on ties, as `argmax` over labels sorted ascending).
 * A position outside `[0, size - 1]` on any axis gets -1 (bg2's out-of-bounds fix-up). bg2 compares in float16; we
 * compare in float64, so exact near-ties can resolve differently.
 * `scratch` is reused between calls: `{ labels: Int32Array(8), weights: Float64Array(8) }`.
 */
export function segLinearArgmax(seg: Int16Array, Z: number, Y: number, X: number, pz: number, py: number, px: number,
  scratch: { labels: Int32Array; weights: Float64Array }): number {
  if (!(pz >= 0 && pz <= Z - 1 && py >= 0 && py <= Y - 1 && px >= 0 && px <= X - 1)) return -1;
  const z0 = Math.floor(pz);
  const y0 = Math.floor(py);
  const x0 = Math.floor(px);
  const wz = pz - z0;
  const wy = py - y0;
  const wx = px - x0;
  const { labels, weights } = scratch;
  let n = 0;
  for (let k = 0; k < 8; k++) {
    const dz = k >> 2;
    const dy = (k >> 1) & 1;
    const dx = k & 1;
    const w = (dz ? wz : 1 - wz) * (dy ? wy : 1 - wy) * (dx ? wx : 1 - wx);
    if (w === 0) continue; // also skips neighbours past the last voxel (their weight is 0 inside the bounds)
    const lab = seg[((z0 + dz) * Y + (y0 + dy)) * X + (x0 + dx)]!;
    let j = 0;
    while (j < n && labels[j] !== lab) j++;
    if (j === n) {
      labels[n] = lab;
      weights[n++] = w;
    } else weights[j]! += w;
  }
  let best = labels[0]!;
  let bw = weights[0]!;
  for (let j = 1; j < n; j++) {
    const w = weights[j]!;
    if (w > bw || (w === bw && labels[j]! < best)) {
      best = labels[j]!;
      bw = w;
    }
  }
  return best;
}

/** Label at the nearest voxel of a fractional input position, -1 outside (the opt-in `segInterpolation: 'nearest'`). */
export function segNearest(seg: Int16Array, Z: number, Y: number, X: number, pz: number, py: number, px: number): number {
  const nz = Math.round(pz);
  const ny = Math.round(py);
  const nx = Math.round(px);
  return nz >= 0 && nz < Z && ny >= 0 && ny < Y && nx >= 0 && nx < X ? seg[(nz * Y + ny) * X + nx]! : -1;
}
