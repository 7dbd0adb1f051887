import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAINER_SETTINGS, resolveTrainerSettings } from './trainer-settings.js';

describe('trainer settings', () => {
  it("nnU-Net v2's defaults (nnUNetTrainer.py)", () => {
    expect(resolveTrainerSettings()).toEqual({
      loss: 'DC_and_CE_loss', lossWeightCe: 1, lossWeightDice: 1, initialLr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5,
      gradClipNorm: 12, polyExponent: 0.9, oversampleForegroundPercent: 0.33, pseudoDiceEmaAlpha: 0.9, seed: 12345,
    });
  });
  it('later layers win field by field; undefined is skipped', () => {
    const s = resolveTrainerSettings({ initialLr: 0.02, momentum: 0.9 }, { initialLr: 0.005, weightDecay: undefined });
    expect(s).toEqual({ ...DEFAULT_TRAINER_SETTINGS, initialLr: 0.005, momentum: 0.9 });
  });
  it('unknown keys and out-of-range values name the key', () => {
    expect(() => resolveTrainerSettings({ lr: 1 } as never)).toThrow("trainer setting 'lr' is unknown");
    expect(() => resolveTrainerSettings({ momentum: 1 })).toThrow("trainer setting 'momentum' must be < 1 (got 1)");
    expect(() => resolveTrainerSettings({ oversampleForegroundPercent: -0.1 })).toThrow(/oversampleForegroundPercent' must be >= 0/);
  });
});
