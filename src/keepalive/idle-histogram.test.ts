import { describe, expect, it } from 'vitest';
import { IdleHistogram } from './idle-histogram.js';

const MIN = 60_000;

describe('IdleHistogram', () => {
  it('bins idle times by minute over 4 hours and counts the rest as out of range', () => {
    const histogram = new IdleHistogram();
    expect(histogram.rangeMs).toBe(240 * MIN);
    histogram.record(0);
    histogram.record(59_999);
    histogram.record(MIN);
    histogram.record(-5); // overlapping calls: no idle time
    histogram.record(240 * MIN);
    expect(histogram.binCountAt(0)).toBe(3);
    expect(histogram.binCountAt(1)).toBe(1);
    expect(histogram.count).toBe(4);
    expect(histogram.outOfRange).toBe(1);
    expect(histogram.total).toBe(5);
  });

  it('finds the bin of a percentile from the cumulative counts', () => {
    const histogram = new IdleHistogram();
    // 100 samples: one in each of bins 0..99.
    for (let minute = 0; minute < 100; minute++) histogram.record(minute * MIN + 1);
    expect(histogram.percentileBin(5)).toBe(4);
    expect(histogram.percentileBin(50)).toBe(49);
    expect(histogram.percentileBin(99)).toBe(98);
    expect(histogram.percentileBin(100)).toBe(99);
    expect(new IdleHistogram().percentileBin(50)).toBeUndefined();
  });

  it('ignores out-of-range samples in percentiles', () => {
    const histogram = new IdleHistogram();
    for (let i = 0; i < 10; i++) histogram.record(3 * MIN);
    for (let i = 0; i < 90; i++) histogram.record(300 * MIN);
    expect(histogram.percentileBin(99)).toBe(3);
  });

  it('measures how concentrated the bins are (coefficient of variation)', () => {
    const flat = new IdleHistogram({ binCount: 4 });
    for (let minute = 0; minute < 4; minute++) flat.record(minute * MIN);
    expect(flat.binCountCv()).toBe(0);
    const peaked = new IdleHistogram({ binCount: 4 });
    peaked.record(0);
    // counts [1,0,0,0]: mean 0.25, std sqrt((0.5625 + 3 * 0.0625) / 4) = 0.433
    expect(peaked.binCountCv()).toBeCloseTo(Math.sqrt(3), 6);
    expect(new IdleHistogram().binCountCv()).toBe(0);
  });

  it('rejects a shape with no bins', () => {
    expect(() => new IdleHistogram({ binCount: 0 })).toThrow(RangeError);
  });
});
