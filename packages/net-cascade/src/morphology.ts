/**
 * Binary morphology with a ball (3D) / disk (z = 1) structuring element of integer radius r, and connected
 * components, in linear time. Ball = offsets with |o|^2 <= r^2 (skimage `ball`/`disk` for integer r).
 * Volumes are `Uint8Array` masks over `[z, y, x]` (x fastest). Out-of-volume voxels are ignored (dilation never
 * grows from outside; erosion does not erode from the border), like nnU-Net's 'same'-padded torch morphology.
 */

const INF = 1e20;

/**
 * 1D squared distance transform (lower envelope of parabolas, Felzenszwalb & Huttenlocher) of the `n` samples
 * at stride `st` from `off`, in place. Samples >= INF are no sources; with no source at all the line stays INF.
 */
function edt1d(a: Float64Array, off: number, st: number, n: number, f: Float64Array, v: Int32Array, z: Float64Array): void {
  for (let i = 0; i < n; i++) f[i] = a[off + i * st]!;
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q]!;
    if (fq >= INF) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -INF;
      z[1] = INF;
      continue;
    }
    let s = 0;
    for (;;) {
      const p = v[k]!;
      s = (fq + q * q - (f[p]! + p * p)) / (2 * (q - p));
      if (s <= z[k]!) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = INF;
  }
  if (k < 0) return;
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const p = v[k]!;
    a[off + q * st] = (q - p) * (q - p) + f[p]!;
  }
}

/**
 * Squared Euclidean distance (voxel units) from each voxel to the nearest voxel where `mask == target`
 * (INF = 1e20 when there is none). Separable exact transform, O(voxels).
 */
export function squaredDistanceTo(mask: Uint8Array, shape: number[], target: 0 | 1): Float64Array {
  const [D, H, W] = shape as [number, number, number];
  const a = new Float64Array(mask.length);
  for (let i = 0; i < mask.length; i++) a[i] = (mask[i]! ? 1 : 0) === target ? 0 : INF;
  const m = Math.max(D, H, W);
  const f = new Float64Array(m);
  const v = new Int32Array(m);
  const z = new Float64Array(m + 1);
  for (let zz = 0; zz < D; zz++) for (let y = 0; y < H; y++) edt1d(a, (zz * H + y) * W, 1, W, f, v, z);
  for (let zz = 0; zz < D; zz++) for (let x = 0; x < W; x++) edt1d(a, zz * H * W + x, W, H, f, v, z);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) edt1d(a, y * W + x, H * W, D, f, v, z);
  return a;
}

/** Dilation by a ball of radius r: voxels within distance r of the mask. */
export function binaryDilation(mask: Uint8Array, shape: number[], r: number): Uint8Array {
  const d2 = squaredDistanceTo(mask, shape, 1);
  return Uint8Array.from(d2, (v) => (v <= r * r ? 1 : 0));
}

/** Erosion by a ball of radius r: mask voxels farther than r from any (in-volume) background voxel. */
export function binaryErosion(mask: Uint8Array, shape: number[], r: number): Uint8Array {
  const d2 = squaredDistanceTo(mask, shape, 0);
  return Uint8Array.from(d2, (v) => (v > r * r ? 1 : 0));
}

/** Opening (erosion, then dilation). */
export function binaryOpening(mask: Uint8Array, shape: number[], r: number): Uint8Array {
  return binaryDilation(binaryErosion(mask, shape, r), shape, r);
}

/** Closing (dilation, then erosion). */
export function binaryClosing(mask: Uint8Array, shape: number[], r: number): Uint8Array {
  return binaryErosion(binaryDilation(mask, shape, r), shape, r);
}

/**
 * Connected components of a mask with full connectivity (26 in 3D, 8 when z = 1; skimage's default).
 * Returns labels (0 = background, components 1..n in scan order) and sizes (`sizes[k-1]` for label k).
 */
export function connectedComponents(mask: Uint8Array, shape: number[]): { labels: Int32Array; sizes: number[] } {
  const [D, H, W] = shape as [number, number, number];
  const labels = new Int32Array(mask.length);
  const sizes: number[] = [];
  const stack = new Int32Array(mask.length);
  for (let s = 0; s < mask.length; s++) {
    if (!mask[s] || labels[s]) continue;
    const id = sizes.length + 1;
    let top = 0;
    stack[top++] = s;
    labels[s] = id;
    let count = 0;
    while (top > 0) {
      const i = stack[--top]!;
      count++;
      const x = i % W;
      const y = Math.floor(i / W) % H;
      const z = Math.floor(i / (W * H));
      for (let dz = -1; dz <= 1; dz++) {
        const zz = z + dz;
        if (zz < 0 || zz >= D) continue;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= H) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= W) continue;
            const j = (zz * H + yy) * W + xx;
            if (mask[j] && !labels[j]) {
              labels[j] = id;
              stack[top++] = j;
            }
          }
        }
      }
    }
    sizes.push(count);
  }
  return { labels, sizes };
}
