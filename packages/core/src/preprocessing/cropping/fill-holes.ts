/**
 * Binary hole filling of a 3D mask `[z, y, x]` (x fastest), as `scipy.ndimage.binary_fill_holes` with its default
 * structure (spec 1.3): background voxels 6-connected to the volume border stay background, every other voxel
 * becomes foreground. Linear time: one flood fill from the border with an explicit stack.
 * @param mask Uint8 0/1, modified in place and returned
 * @param shape `[z, y, x]`
 */
export function fillHoles3d(mask: Uint8Array, shape: readonly number[]): Uint8Array {
  const [Z, Y, X] = shape as [number, number, number];
  const n = Z * Y * X;
  const plane = Y * X;
  // 0 = foreground or not yet reached, 2 = background reached from the border
  const stack = new Int32Array(n > 0 ? Math.min(n, 1 << 20) : 1);
  let buf = stack;
  let top = 0;
  const push = (i: number) => {
    if (mask[i] !== 0) return;
    mask[i] = 2;
    if (top === buf.length) {
      const bigger = new Int32Array(Math.min(n, buf.length * 2));
      bigger.set(buf);
      buf = bigger;
    }
    buf[top++] = i;
  };
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      const border = z === 0 || z === Z - 1 || y === 0 || y === Y - 1;
      const row = z * plane + y * X;
      if (border) for (let x = 0; x < X; x++) push(row + x);
      else {
        push(row);
        push(row + X - 1);
      }
    }
  }
  while (top > 0) {
    const i = buf[--top]!;
    const x = i % X;
    const y = ((i - x) / X) % Y;
    const z = (i - x - y * X) / plane;
    if (x > 0) push(i - 1);
    if (x < X - 1) push(i + 1);
    if (y > 0) push(i - X);
    if (y < Y - 1) push(i + X);
    if (z > 0) push(i - plane);
    if (z < Z - 1) push(i + plane);
  }
  for (let i = 0; i < n; i++) mask[i] = mask[i] === 2 ? 0 : 1;
  return mask;
}
