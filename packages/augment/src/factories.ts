import { daSettings, type AugmentationFactory, type AugmentationOptions, type Transform } from '@nnunet-ts/core';
import { gaussianBlur } from './blur.js';
import { contrast, gamma, gaussianNoise, maskImage, mirror, multiplicativeBrightness, removeLabel } from './intensity.js';
import { simulateLowResolution } from './lowres.js';
import { spatialTransform } from './spatial.js';

/**
 * nnU-Net v2's default training transforms (RULES.md §17, `get_training_transforms`), in nnU-Net's order:
 * spatial (rot p 0.2, isotropic scale 0.7-1.4 p 0.2, no elastic), Gaussian noise (p 0.1), Gaussian blur (p 0.2),
 * multiplicative brightness (p 0.15), contrast (p 0.15), simulated low resolution (p 0.25), inverted gamma (p 0.1),
 * gamma (p 0.3), mirror (allowed axes, p 0.5 each), masking of `useMaskForNorm` channels outside the nonzero mask,
 * seg -1 -> 0. Deep-supervision targets are made by the trainer.
 * `light` drops the spatial, blur and low-resolution transforms (then the loader samples the final patch).
 * Patch `[z, y, x]` (3D) or `[y, x]` (2D); samples are `[c, z, y, x]` with z = 1 in 2D.
 */
export function nnUNetDefaultTransforms(o: AugmentationOptions & { useMaskForNorm?: boolean[] }): Transform[] {
  const settings = daSettings(o.patchSize);
  const dummy = o.dims === 3 && o.doDummy2D;
  const patch3 = o.dims === 2 ? [1, ...o.patchSize] : o.patchSize;
  const list: Transform[] = [];
  if (!o.light) {
    list.push(
      spatialTransform({ patchSize: patch3, rotation: settings.rotation, inPlaneOnly: o.dims === 2 || dummy }) as Transform,
    );
  }
  list.push(gaussianNoise() as Transform);
  if (!o.light) list.push(gaussianBlur() as Transform);
  list.push(multiplicativeBrightness() as Transform, contrast() as Transform);
  if (!o.light) list.push(simulateLowResolution({ ignoreAxes: dummy ? [0] : [] }) as Transform);
  list.push(gamma({ p: 0.1, invert: true }) as Transform, gamma({ p: 0.3, invert: false }) as Transform);
  if (o.mirrorAxes.length) list.push(mirror({ axes: o.mirrorAxes, dims: o.dims }) as Transform);
  const masked = (o.useMaskForNorm ?? []).flatMap((m, c) => (m ? [c] : []));
  if (masked.length) list.push(maskImage(masked) as Transform);
  list.push(removeLabel(-1, 0) as Transform);
  return list;
}

/** What the trainer's data-loading workers import to register these factories (this package's `registerDefaults`). */
const WORKER_MODULE = '@nnunet-ts/augment';

/** `nnUNetDefault`: {@link nnUNetDefaultTransforms}. */
export const nnUNetDefault: AugmentationFactory = { name: 'nnUNetDefault', create: (o) => nnUNetDefaultTransforms(o), workerModule: WORKER_MODULE };

/** `nnUNetNoDA`: no augmentation, only seg -1 -> 0 (nnU-Net's `nnUNetTrainerNoDA`). */
export const nnUNetNoDA: AugmentationFactory = { name: 'nnUNetNoDA', create: () => [removeLabel(-1, 0) as Transform], workerModule: WORKER_MODULE };

/** `mirrorOnly`: mirroring over the allowed axes plus seg -1 -> 0, for quick runs. */
export const mirrorOnly: AugmentationFactory = {
  name: 'mirrorOnly',
  workerModule: WORKER_MODULE,
  create: (o) => [
    ...(o.mirrorAxes.length ? [mirror({ axes: o.mirrorAxes, dims: o.dims }) as Transform] : []),
    removeLabel(-1, 0) as Transform,
  ],
};

/** Every augmentation plugin of this package. */
export const augmentationPlugins: AugmentationFactory[] = [nnUNetDefault, nnUNetNoDA, mirrorOnly];
