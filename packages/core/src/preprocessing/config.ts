import type { Plans, PlansConfiguration } from '../contracts/plans.js';
import { NnunetError } from '../util/errors.js';

/** Resolves a configuration, following `inherits_from` (cycle-checked). */
export function resolveConfiguration(plans: Plans, name: string): PlansConfiguration {
  const seen: string[] = [];
  const chain: PlansConfiguration[] = [];
  let cur: string | undefined = name;
  while (cur !== undefined) {
    if (seen.includes(cur)) throw new NnunetError(`plans: configuration inheritance cycle ${[...seen, cur].join(' -> ')}`);
    seen.push(cur);
    const c: PlansConfiguration | undefined = plans.configurations[cur];
    if (!c) {
      throw new NnunetError(`plans have no configuration '${cur}'`, {
        hint: `available: ${Object.keys(plans.configurations).join(', ')}`,
      });
    }
    chain.unshift(c);
    cur = c.inherits_from;
  }
  return Object.assign({}, ...chain) as PlansConfiguration;
}

