/**
 * One-hot encoding of the previous stage's segmentation, as nnU-Net appends it to the cascade's input
 * (`MoveSegAsOneHotToData`, RULES.md §10): channel i is 1 where `seg == foregroundLabels[i]`, else 0.
 * `seg`: int16 labels over `spatialShape` (`[z, y, x]`, x fastest). Returns float32 `[L, z, y, x]`,
 * L = `foregroundLabels.length`. Throws `Error` when `seg.length` does not match `spatialShape`.
 */
export function oneHotPreviousStage(seg: Int16Array, spatialShape: number[], foregroundLabels: number[]): Float32Array {
  const n = spatialShape.reduce((a, b) => a * b, 1);
  if (seg.length !== n) throw new Error(`oneHotPreviousStage: seg has ${seg.length} voxels, shape [${spatialShape}] has ${n}`);
  const out = new Float32Array(foregroundLabels.length * n);
  const idx = new Map<number, number>();
  foregroundLabels.forEach((l, i) => idx.set(l, i));
  for (let v = 0; v < n; v++) {
    const c = idx.get(seg[v]!);
    if (c !== undefined) out[c * n + v] = 1;
  }
  return out;
}

/**
 * Input channels of the 3d_cascade_fullres network: image channels plus one per foreground label
 * (nnU-Net's `determine_num_input_channels`, RULES.md §10).
 */
export function cascadeInputChannels(nImageChannels: number, foregroundLabels: number[]): number {
  return nImageChannels + foregroundLabels.length;
}
