import { describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.js';
import { preprocessCase } from './preprocess-case.js';
import { previousStageToGrid } from './previous-stage.js';
import { registerPreprocessingDefaults } from './register.js';
import { makeCase, makePlans } from './__fixtures__/small-case.js';

const registry = new Registry();
registerPreprocessingDefaults(registry);

describe('previousStageToGrid (cascade input, RULES.md §10)', () => {
  for (const [tf, spacing] of [[[0, 1, 2], [2, 1, 1]], [[0, 1, 2], [1, 0.5, 0.5]], [[2, 0, 1], [1, 0.5, 0.5]]] as [number[], number[]][]) {
    it(`puts an original-grid segmentation where preprocessing puts the label (transpose ${tf}, spacing ${spacing})`, () => {
      const tb = [0, 1, 2].map((i) => tf.indexOf(i));
      const plans = makePlans({ transpose_forward: tf, transpose_backward: tb }, spacing);
      const c = makeCase();
      const r = preprocessCase({ ...c, image: c.image.slice() }, plans, '3d_fullres', registry);
      const grid = previousStageToGrid(c.seg, r.properties, r.shape.slice(1), plans, '3d_fullres', registry);
      expect(grid.length).toBe(r.seg!.length);
      let fg = 0;
      for (let i = 0; i < grid.length; i++) {
        expect(grid[i]).toBe(Math.max(0, r.seg![i]!));
        if (grid[i]! > 0) fg++;
      }
      expect(fg).toBeGreaterThan(0);
    });
  }

  it('rejects a segmentation of another size', () => {
    const plans = makePlans();
    const c = makeCase();
    const r = preprocessCase(c, plans, '3d_fullres', registry);
    expect(() => previousStageToGrid(new Int16Array(5), r.properties, r.shape.slice(1), plans, '3d_fullres', registry)).toThrow(/voxels/);
  });
});
