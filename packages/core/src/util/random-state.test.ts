import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RandomState } from './random-state.js';

const fx = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../preprocessing/resampling/__fixtures__/fixtures.json'), 'utf8')).random;

describe('RandomState reproduces numpy RandomState(1234)', () => {
  it('randint', () => {
    const rs = new RandomState(1234);
    expect([...rs.randint(1000, 50)]).toEqual(fx.randint_1000);
    expect([...rs.randint(7, 20)]).toEqual(fx.randint_7_after);
  });
  it('choice without replacement', () => {
    expect([...new RandomState(1234).choiceWithoutReplacement(37, 5)]).toEqual(fx.choice_noreplace_37_5);
  });
  it('choice with replacement picks the same values', () => {
    const vals = [5.0, -1.0, 2.5, 7.0, 3.0];
    const idx = new RandomState(1234).randint(5, 12);
    expect([...idx].map((i) => vals[i])).toEqual(fx.choice_replace_values);
  });
});
