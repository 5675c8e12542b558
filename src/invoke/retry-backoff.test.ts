import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './retry-backoff.js';

const policy = { baseMs: 1000, maxMs: 10_000 };

describe('retryDelayMs', () => {
  it('doubles per attempt, between half the ceiling and the ceiling', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(policy, attempt, () => 0))).toEqual([
      500, 1000, 2000, 4000,
    ]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(policy, attempt, () => 1))).toEqual([
      1000, 2000, 4000, 8000,
    ]);
  });

  it('never exceeds the cap', () => {
    expect(retryDelayMs(policy, 30, () => 1)).toBe(10_000);
    expect(retryDelayMs(policy, 30, () => 0)).toBe(5_000);
  });
});
