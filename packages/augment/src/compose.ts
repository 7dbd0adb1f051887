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

/** A list of transforms as one `Transform` (parameters of every member drawn up front in order). */
export class Compose implements Transform<unknown[]> {
  readonly name = 'Compose';
  constructor(readonly transforms: readonly Transform[]) {}

  getParameters(): unknown[] {
    // Parameters of later transforms may depend on the sample after earlier ones (shapes), so
    // Compose draws lazily in `run`; use `run(sample, rng)` or `applyTransforms`.
    return [];
  }

  apply(sample: Sample): Sample {
    return sample;
  }

  /** Apply all members with fresh randomness from `rng`. */
  run(sample: Sample, rng: Rng): Sample {
    return applyTransforms(this.transforms, sample, rng);
  }
}
