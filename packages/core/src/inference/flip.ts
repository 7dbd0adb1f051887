/**
 * Test-time mirroring passes in nnU-Net's order (RULES.md §18): the identity, then every non-empty combination of
 * `axes` in `itertools.combinations` order (singles, pairs, ...): 8 passes for 3 axes, 4 for 2.
 */
export function mirrorCombinations(axes: number[]): number[][] {
  const out: number[][] = [[]];
  const rec = (start: number, k: number, cur: number[]) => {
    if (cur.length === k) return void out.push([...cur]);
    for (let i = start; i < axes.length; i++) rec(i + 1, k, [...cur, axes[i]!]);
  };
  for (let k = 1; k <= axes.length; k++) rec(0, k, []);
  return out;
}
