/** A candidate for `findBestConfiguration`: a configuration (or an ensemble of two) and its CV score. */
export interface BestCandidate {
  /** e.g. `3d_fullres`, or `ensemble(2d, 3d_fullres)`. */
  name: string;
  /** Configurations it is made of (one, or two for an ensemble). */
  members: string[];
  /** Cross-validation mean foreground Dice (NaN when unknown). */
  foregroundDice: number;
}

/** Result of `findBestConfiguration`. */
export interface BestConfiguration {
  best: BestCandidate;
  ranking: BestCandidate[];
}

/**
 * Pick the best configuration (RULES.md §20): candidates are single configurations (`2d`, `3d_fullres`,
 * `3d_lowres`, `3d_cascade_fullres`; missing ones allowed) and, when given, ensembles of pairs; the highest
 * cross-validation mean foreground Dice wins, and on a tie a single model beats an ensemble (then the earlier
 * candidate wins).
 * @throws Error when no candidate has a finite score.
 */
export function findBestConfiguration(singles: BestCandidate[], ensembles: BestCandidate[] = []): BestConfiguration {
  const all = [...singles, ...ensembles].filter((c) => Number.isFinite(c.foregroundDice));
  if (!all.length) throw new Error('no configuration with a cross-validation score to choose from');
  const ranking = all
    .map((c, i) => ({ c, i }))
    .sort((a, b) => b.c.foregroundDice - a.c.foregroundDice || a.c.members.length - b.c.members.length || a.i - b.i)
    .map((x) => x.c);
  return { best: ranking[0]!, ranking };
}

/** All unordered pairs of configurations, as ensemble candidates (score to be filled in). */
export function configurationPairs(names: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) out.push([names[i]!, names[j]!]);
  return out;
}
