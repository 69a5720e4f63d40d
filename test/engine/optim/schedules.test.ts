import { describe, expect, it } from 'vitest';
import { constantSchedule, cosineSchedule } from '../../../engine/optim/index.ts';

describe('learning-rate schedules', () => {
  it('constant, with and without warm-up', () => {
    const c = constantSchedule(0.3);
    expect([0, 1, 1000].map(c)).toEqual([0.3, 0.3, 0.3]);
    const w = constantSchedule(0.4, { warmupSteps: 4 });
    expect([0, 1, 2, 4, 100].map(w)).toEqual([0, 0.1, 0.2, 0.4, 0.4]);
  });

  it('cosine with warm-up and a floor, at its key steps', () => {
    const lr = 1e-4;
    const s = cosineSchedule({ lr, warmupSteps: 30, totalSteps: 1030, minLr: 0.1 * lr });
    expect(s(0)).toBe(0);
    expect(s(15)).toBeCloseTo(lr / 2, 18);
    expect(s(30)).toBeCloseTo(lr, 18); // peak at the end of warm-up
    expect(s(530)).toBeCloseTo((lr + 0.1 * lr) / 2, 18); // halfway through the decay
    expect(s(280)).toBeCloseTo(0.1 * lr + 0.9 * lr * 0.5 * (1 + Math.cos(Math.PI / 4)), 18);
    expect(s(1030)).toBeCloseTo(0.1 * lr, 18);
    expect(s(5000)).toBeCloseTo(0.1 * lr, 18); // stays at the floor
    for (let t = 30; t < 1030; t++) expect(s(t + 1)).toBeLessThanOrEqual(s(t)); // monotone decay
  });

  it('cosine without warm-up or floor starts at lr and ends at 0', () => {
    const s = cosineSchedule({ lr: 2, totalSteps: 10 });
    expect(s(0)).toBe(2);
    expect(s(5)).toBeCloseTo(1, 15);
    expect(s(10)).toBeCloseTo(0, 15);
  });

  it('rejects bad step counts', () => {
    expect(() => cosineSchedule({ lr: 1, warmupSteps: 11, totalSteps: 10 })).toThrow(/warmupSteps \(11\) exceeds totalSteps \(10\)/);
    expect(() => constantSchedule(1, { warmupSteps: -1 })).toThrow(/non-negative integer/);
  });
});
