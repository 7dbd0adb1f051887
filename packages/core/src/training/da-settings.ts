/**
 * Trainer-side augmentation settings (RULES.md §17, nnU-Net v2 `configure_rotation_dummyDA_mirroring_and_inital_patch_size`):
 * rotation range, dummy-2D switch, mirror axes and the larger initial patch the loader samples so that rotation and
 * scaling do not pull in border. Shared by the data loader (core) and the `nnUNetDefault` augmentation (augment).
 */
export interface DaSettings {
  /** 2 for 2d configurations (patch `[y, x]`), 3 otherwise. */
  dims: 2 | 3;
  /** 3D only: `max(patch) / patch[0] > 3` -> rotate and scale in-plane (y, x) only. */
  doDummy2D: boolean;
  /** Rotation range in radians, used for every rotated axis: `[-a, a]`. */
  rotation: [number, number];
  /** Mirror axes of the patch (`[z, y, x]` in 3D, `[y, x]` in 2D), lateralized axes removed (B35). */
  mirrorAxes: number[];
  /** Patch the loader samples (voxels, same axes as the patch), cropped back to `patchSize` by the spatial transform. */
  initialPatchSize: number[];
}

const DEG = Math.PI / 180;

/** Rotation range (radians) per RULES.md §17: 3D +-30 deg; 2D +-180 deg, or +-15 deg if `max/min patch > 1.5`; dummy-2D +-180 deg. */
export function rotationRange(patchSize: number[], doDummy2D: boolean): [number, number] {
  const a = patchSize.length === 2
    ? Math.max(...patchSize) / Math.min(...patchSize) > 1.5 ? 15 : 180
    : doDummy2D ? 180 : 30;
  return [-a * DEG, a * DEG];
}

/** nnU-Net's dummy-2D rule (RULES.md §17): 3D patches with `max(patch) / patch[0] > 3`. Always false for 2D patches. */
export function isDummy2D(patchSize: number[]): boolean {
  return patchSize.length === 3 && Math.max(...patchSize) / patchSize[0]! > 3;
}

function rotate3(c: number[], ax: number, ay: number, az: number): number[] {
  // row vector times Rx(ax) Ry(ay) Rz(az), as batchgenerators' rotate_coords_3d (only one angle is non-zero per call).
  let [a, b, d] = c as [number, number, number];
  if (ax) [b, d] = [b * Math.cos(ax) + d * Math.sin(ax), -b * Math.sin(ax) + d * Math.cos(ax)];
  if (ay) [a, d] = [a * Math.cos(ay) - d * Math.sin(ay), a * Math.sin(ay) + d * Math.cos(ay)];
  if (az) [a, b] = [a * Math.cos(az) + b * Math.sin(az), -a * Math.sin(az) + b * Math.cos(az)];
  return [a, b, d];
}

/**
 * batchgenerators `get_patch_size`: the extent a patch needs before rotation by up to `rot` (radians, capped at 90 deg)
 * about each axis and scaling down to `min(scaleRange)`, truncated to integers. `patch` has 2 or 3 entries.
 */
export function getPatchSize(patch: number[], rot: number, scaleRange: [number, number]): number[] {
  const r = Math.min(Math.abs(rot), Math.PI / 2);
  let out = [...patch];
  const maxAbs = (v: number[]) => (out = out.map((o, i) => Math.max(o, Math.abs(v[i]!))));
  if (patch.length === 3) {
    maxAbs(rotate3(patch, r, 0, 0));
    maxAbs(rotate3(patch, 0, r, 0));
    maxAbs(rotate3(patch, 0, 0, r));
  } else {
    const [a, b] = patch as [number, number];
    maxAbs([a * Math.cos(r) + b * Math.sin(r), -a * Math.sin(r) + b * Math.cos(r)]);
  }
  // float32-safe truncation: nnU-Net casts with astype(int) after dividing by the smallest scale.
  return out.map((v) => Math.floor(v / Math.min(...scaleRange) + 1e-9));
}

/**
 * All augmentation settings for a patch (RULES.md §17). `excludedMirrorAxes` (axes of the patch) are never mirrored,
 * e.g. the left-right axis of a dataset with lateralized labels (B35). `spatial: false` (no spatial transform, e.g.
 * `nnUNetNoDA`) samples the final patch directly.
 */
export function daSettings(patchSize: number[], opts: { excludedMirrorAxes?: number[]; spatial?: boolean } = {}): DaSettings {
  const dims = patchSize.length === 2 ? 2 : 3;
  const doDummy2D = isDummy2D(patchSize);
  const rotation = rotationRange(patchSize, doDummy2D);
  const excluded = new Set(opts.excludedMirrorAxes ?? []);
  const mirrorAxes = patchSize.map((_, i) => i).filter((a) => !excluded.has(a));
  let initialPatchSize = [...patchSize];
  if (opts.spatial !== false) {
    // nnU-Net passes the scale range (0.85, 1.25) here although the transform uses (0.7, 1.4) (RULES.md §17 note).
    initialPatchSize = doDummy2D
      ? [patchSize[0]!, ...getPatchSize(patchSize.slice(1), rotation[1], [0.85, 1.25])]
      : getPatchSize(patchSize, rotation[1], [0.85, 1.25]);
  }
  return { dims, doDummy2D, rotation, mirrorAxes, initialPatchSize };
}
