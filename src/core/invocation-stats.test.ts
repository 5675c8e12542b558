import { describe, expect, it } from 'vitest';
import { bucketInvocations, nearestRank, type InvocationSample } from './invocation-stats.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function sample(
  offsetMs: number,
  durationMs: number,
  extra: Partial<InvocationSample> = {},
): InvocationSample {
  return {
    startedAt: new Date(T0 + offsetMs).toISOString(),
    durationMs,
    outcome: 'success',
    cold: false,
    ...extra,
  };
}

describe('nearestRank', () => {
  it('takes the value at ceil(p/100 * n)', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(nearestRank(values, 50)).toBe(5);
    expect(nearestRank(values, 99)).toBe(10);
    expect(nearestRank(values, 90)).toBe(9);
    expect(nearestRank([7], 50)).toBe(7);
    expect(nearestRank([], 50)).toBeNull();
  });
});

describe('bucketInvocations', () => {
  it('counts requests, errors and cold starts per bucket, with empty buckets kept', () => {
    const buckets = bucketInvocations(
      [
        sample(0, 10, { cold: true }),
        sample(59_999, 30, { outcome: 'error' }),
        sample(30_000, 20, { outcome: 'timeout' }),
        // Second bucket is empty; third has one.
        sample(120_000, 5),
        // Outside the window on both sides.
        sample(-1, 1000),
        sample(180_000, 1000),
      ],
      { since: T0, until: T0 + 180_000, bucketMs: 60_000 },
    );
    const at = (offset: number): string => new Date(T0 + offset).toISOString();
    expect(buckets).toEqual([
      { start: at(0), requests: 3, errors: 2, cold: 1, p50Ms: 20, p99Ms: 30 },
      { start: at(60_000), requests: 0, errors: 0, cold: 0, p50Ms: null, p99Ms: null },
      { start: at(120_000), requests: 1, errors: 0, cold: 0, p50Ms: 5, p99Ms: 5 },
    ]);
  });

  it('ends with a partial bucket when the window is not a whole number of buckets', () => {
    const buckets = bucketInvocations([sample(65_000, 3)], {
      since: T0,
      until: T0 + 70_000,
      bucketMs: 60_000,
    });
    expect(buckets.map((b) => b.requests)).toEqual([0, 1]);
  });
});
