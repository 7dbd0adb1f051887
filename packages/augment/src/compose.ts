import type { Rng, Sample, Transform } from '@nnunet-ts/core';

/**
 * Run transforms in order on one sample: each draws its parameters from `rng` (null = skipped), then applies them.
 * Transforms may modify the sample's arrays in place; pass a sample you own.
 */
export function applyTransforms(transforms: readonly Transform[], sample: Sample, rng: Rng): Sample {
  let s = sample;
  for (const t of transforms) {
    const p = t.getParameters(s, rng);
    if (p !== null) s = t.apply(s, p);
  }
  return s;
}

/**
 * A list of transforms as one `Transform`: `getParameters` draws every member's parameters in order from the input
 * sample, `apply` applies them in order. Equivalent to {@link applyTransforms} (same random draws) because the
 * members here only read the channel count in `getParameters`, which no transform changes.
 */
export class Compose implements Transform<unknown[]> {
  readonly name = 'Compose';
  constructor(readonly transforms: readonly Transform[]) {}

  getParameters(sample: Sample, rng: Rng): unknown[] {
    return this.transforms.map((t) => t.getParameters(sample, rng));
  }

  apply(sample: Sample, params: unknown[]): Sample {
    let s = sample;
    this.transforms.forEach((t, i) => {
      if (params[i] !== null) s = t.apply(s, params[i]);
    });
    return s;
  }
}
