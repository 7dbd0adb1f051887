import { DataError } from '../util/errors.js';

/** One ensemble member: softmax probabilities `[K, z, y, x]` and its dataset.json labels (name -> value). */
export interface EnsembleMember {
  name: string;
  labels: Record<string, number | number[]>;
  probabilities: Float32Array;
  shape: number[];
}

/**
 * Average the probabilities of several models (nnU-Net `ensemble_crossvalidations` averages the exported
 * probabilities, RULES.md §20). Classes are matched by label **name**, never by index: members whose label sets differ
 * are refused, and members listing the same labels in another order are re-ordered to the first member's order
 * (bad input B47). Output labels and channel order are the first member's.
 * @throws DataError naming the members and the labels that differ, or when spatial shapes differ.
 */
export function ensembleProbabilities(members: EnsembleMember[]): { probabilities: Float32Array; labels: Record<string, number | number[]>; shape: number[] } {
  if (!members.length) throw new DataError('nothing to ensemble: no members given');
  const first = members[0]!;
  const channelOf = (m: EnsembleMember) => {
    const entries = Object.entries(m.labels).filter(([n]) => n !== 'ignore');
    return new Map(entries.map(([n, v], i) => [n, Array.isArray(v) ? i : v]));
  };
  const ref = channelOf(first);
  const n = first.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(first.probabilities.length);
  for (const m of members) {
    const mine = channelOf(m);
    const missing = [...ref.keys()].filter((k) => !mine.has(k));
    const extra = [...mine.keys()].filter((k) => !ref.has(k));
    if (missing.length || extra.length) {
      throw new DataError(
        `ensemble members ${first.name} and ${m.name} have different label sets: ` +
          `${missing.length ? `${m.name} lacks ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `${first.name} lacks ${extra.join(', ')}` : ''}`,
        { hint: 'ensemble only models trained on the same dataset.json labels' },
      );
    }
    if (m.shape.slice(1).join() !== first.shape.slice(1).join() || m.probabilities.length !== first.probabilities.length) {
      throw new DataError(`ensemble member ${m.name} has shape [${m.shape}] but ${first.name} has [${first.shape}]`);
    }
    for (const [name, k] of ref) {
      const src = mine.get(name)!;
      const o = k * n, s = src * n;
      for (let i = 0; i < n; i++) out[o + i]! += m.probabilities[s + i]!;
    }
  }
  for (let i = 0; i < out.length; i++) out[i]! /= members.length;
  return { probabilities: out, labels: { ...first.labels }, shape: [...first.shape] };
}
