/**
 * Binary hole filling of a 3D mask `[z, y, x]` (x fastest), as `scipy.ndimage.binary_fill_holes` with its default
 * structure (RULES.md §3): background voxels 6-connected to the volume border stay background, every other voxel
 * becomes foreground. Linear time: one breadth-first flood fill from the border. The FIFO is a growable ring
 * buffer; a BFS front is about a surface, so it stays far below the volume size (unlike a depth-first stack).
 * @param mask Uint8 0/1, modified in place and returned
 * @param shape `[z, y, x]`
 */
export function fillHoles3d(mask: Uint8Array, shape: readonly number[]): Uint8Array {
  const [Z, Y, X] = shape as [number, number, number];
  const n = Z * Y * X;
  const plane = Y * X;
  // marks: 0 = foreground or unreached background, 2 = background reached from the border
  let ring = new Int32Array(1 << 16);
  let head = 0;
  let size = 0;
  const push = (i: number): void => {
    if (mask[i] !== 0) return;
    mask[i] = 2;
    if (size === ring.length) {
      const bigger = new Int32Array(ring.length * 2);
      for (let k = 0; k < size; k++) bigger[k] = ring[(head + k) % ring.length]!;
      ring = bigger;
      head = 0;
    }
    ring[(head + size) % ring.length] = i;
    size++;
  };
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      const row = z * plane + y * X;
      if (z === 0 || z === Z - 1 || y === 0 || y === Y - 1) for (let x = 0; x < X; x++) push(row + x);
      else {
        push(row);
        push(row + X - 1);
      }
    }
  }
  while (size > 0) {
    const i = ring[head]!;
    head = (head + 1) % ring.length;
    size--;
    const x = i % X;
    const r = (i - x) / X;
    const y = r % Y;
    const z = (r - y) / Y;
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
