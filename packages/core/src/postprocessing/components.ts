/**
 * Connected-component labelling of a binary 3D mask `[z, y, x]` (x fastest) by breadth-first flood fill:
 * every voxel is enqueued at most once, so the cost is linear in the number of voxels (times the 6 or 26
 * neighbours). Connectivity 26 (full) is the default, as scikit-image's `label` used by nnU-Net's
 * `remove_all_but_largest_component`; 6 (faces) is scipy.ndimage's default.
 */
export interface Components {
  /** Component id per voxel: 0 = background, 1..count. */
  labels: Int32Array;
  /** `sizes[k]` = voxels in component k (index 0 unused, = 0). */
  sizes: number[];
  count: number;
}

function offsets(connectivity: 6 | 26): [number, number, number][] {
  const o: [number, number, number][] = [];
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const n = Math.abs(dz) + Math.abs(dy) + Math.abs(dx);
        if (n === 0 || (connectivity === 6 && n > 1)) continue;
        o.push([dz, dy, dx]);
      }
  return o;
}

/**
 * Label the connected components of `mask` (nonzero = foreground), shape `[z, y, x]`.
 * @throws Error when `mask.length` != product of `shape`.
 */
export function connectedComponents(mask: ArrayLike<number>, shape: readonly number[], connectivity: 6 | 26 = 26): Components {
  const [Z, Y, X] = shape as [number, number, number];
  const n = Z * Y * X;
  if (mask.length !== n) throw new Error(`mask has ${mask.length} voxels, shape ${shape.join('x')} needs ${n}`);
  const labels = new Int32Array(n);
  const queue = new Int32Array(n);
  const offs = offsets(connectivity);
  const sizes = [0];
  let count = 0;
  for (let start = 0; start < n; start++) {
    if (!mask[start] || labels[start]) continue;
    const id = ++count;
    let head = 0, tail = 0;
    queue[tail++] = start;
    labels[start] = id;
    while (head < tail) {
      const v = queue[head++]!;
      const x = v % X;
      const y = ((v - x) / X) % Y;
      const z = (v - x - y * X) / (X * Y);
      for (const [dz, dy, dx] of offs) {
        const zz = z + dz, yy = y + dy, xx = x + dx;
        if (zz < 0 || yy < 0 || xx < 0 || zz >= Z || yy >= Y || xx >= X) continue;
        const u = (zz * Y + yy) * X + xx;
        if (mask[u] && !labels[u]) {
          labels[u] = id;
          queue[tail++] = u;
        }
      }
    }
    sizes.push(tail);
  }
  return { labels, sizes, count };
}

/**
 * Keep only the largest connected component of the union of `labelsOrRegions` (each a label value or a region =
 * list of values); voxels of the union outside it are set to `background`. Returns a new array.
 * Ties keep the component found first (lowest voxel index).
 */
export function keepLargestComponent(
  seg: Int16Array,
  shape: readonly number[],
  labelsOrRegions: (number | number[])[],
  background = 0,
  connectivity: 6 | 26 = 26,
): Int16Array {
  const values = new Set(labelsOrRegions.flat());
  const mask = new Uint8Array(seg.length);
  for (let i = 0; i < seg.length; i++) mask[i] = values.has(seg[i]!) ? 1 : 0;
  const cc = connectedComponents(mask, shape, connectivity);
  const out = seg.slice();
  if (cc.count <= 1) return out;
  let best = 1;
  for (let k = 2; k <= cc.count; k++) if (cc.sizes[k]! > cc.sizes[best]!) best = k;
  for (let i = 0; i < out.length; i++) if (cc.labels[i] && cc.labels[i] !== best) out[i] = background;
  return out;
}
