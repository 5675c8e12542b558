import { describe, expect, it } from 'vitest';
import type { HourlyUsage } from '../core/usage.js';
import { bucketStart, bucketStarts } from './buckets.js';
import { buildCostReport, costWindow } from './cost-report.js';
import { DEFAULT_PRICES } from './prices.js';

const at = (iso: string) => Date.parse(iso);

function usage(hourStart: string, overrides: Partial<HourlyUsage> = {}): HourlyUsage {
  return {
    functionName: 'fn',
    hourStart,
    requests: 1,
    billedMs: 1000,
    mbMs: 1_024_000,
    errors: 0,
    peakInFlight: 1,
    peakMemoryMb: 1024,
    ...overrides,
  };
}

describe('buckets', () => {
  it('rounds down to the UTC hour and day, the boundary itself starting the next', () => {
    expect(bucketStart(at('2030-05-06T07:59:59.999Z'), 'hour')).toBe(at('2030-05-06T07:00:00.000Z'));
    expect(bucketStart(at('2030-05-06T08:00:00.000Z'), 'hour')).toBe(at('2030-05-06T08:00:00.000Z'));
    expect(bucketStart(at('2030-05-06T23:59:59.999Z'), 'day')).toBe(at('2030-05-06T00:00:00.000Z'));
    expect(bucketStart(at('2030-05-07T00:00:00.000Z'), 'day')).toBe(at('2030-05-07T00:00:00.000Z'));
  });

  it('lists every bucket touching [since, until)', () => {
    expect(bucketStarts(at('2030-05-06T07:30:00Z'), at('2030-05-06T09:00:00Z'), 'hour')).toEqual([
      at('2030-05-06T07:00:00Z'),
      at('2030-05-06T08:00:00Z'),
    ]);
    expect(bucketStarts(at('2030-05-06T07:30:00Z'), at('2030-05-06T09:00:01Z'), 'hour')).toHaveLength(3);
    expect(bucketStarts(at('2030-05-06T12:00:00Z'), at('2030-05-08T00:00:01Z'), 'day')).toEqual([
      at('2030-05-06T00:00:00Z'),
      at('2030-05-07T00:00:00Z'),
      at('2030-05-08T00:00:00Z'),
    ]);
  });
});

describe('buildCostReport', () => {
  it('fills empty buckets with zeros and adds hours into their day', () => {
    const window = costWindow(at('2030-05-06T22:10:00Z'), at('2030-05-08T01:00:00Z'), 'day');
    const report = buildCostReport(
      [
        usage('2030-05-06T22:00:00.000Z'),
        usage('2030-05-06T23:00:00.000Z'),
        usage('2030-05-08T00:00:00.000Z'),
      ],
      window,
      DEFAULT_PRICES,
    );
    expect(report.since).toBe('2030-05-06T00:00:00.000Z');
    expect(report.series.map((point) => [point.start, point.requests, point.gbSeconds])).toEqual([
      ['2030-05-06T00:00:00.000Z', 2, 2],
      ['2030-05-07T00:00:00.000Z', 0, 0],
      ['2030-05-08T00:00:00.000Z', 1, 1],
    ]);
    expect(report.series[1]?.cost).toBe(0);
    // 49 hours from midnight on the 6th to 01:00 on the 8th.
    expect(report.vm.hours).toBe(49);
  });

  it('sizes one VM and gives no break-even rate when nothing ran', () => {
    const report = buildCostReport(
      [],
      costWindow(at('2030-05-06T00:00:00Z'), at('2030-05-06T10:00:00Z'), 'hour'),
      DEFAULT_PRICES,
    );
    expect(report.functions).toEqual([]);
    expect(report.total).toEqual({ requests: 0, gbSeconds: 0, cost: 0, peakConcurrency: 0 });
    expect(report.vm).toMatchObject({ instances: 1, hours: 10 });
    expect(report.vm.cost).toBeCloseTo(0.416, 12);
    expect(report.vm.sizing).toMatch(/no invocations were measured/);
    expect(report.breakEven.requestsPerSecond).toBeNull();
    expect(report.series).toHaveLength(10);
  });

  it('gives no break-even rate when requests cost nothing, and sizes by the hour with the most memory', () => {
    const report = buildCostReport(
      [
        usage('2030-05-06T01:00:00.000Z', { functionName: 'a', peakInFlight: 10, peakMemoryMb: 1280 }),
        usage('2030-05-06T01:00:00.000Z', { functionName: 'b', peakInFlight: 1, peakMemoryMb: 4096 }),
        usage('2030-05-06T02:00:00.000Z', { functionName: 'a', peakInFlight: 30, peakMemoryMb: 3840 }),
      ],
      costWindow(at('2030-05-06T00:00:00Z'), at('2030-05-06T03:00:00Z'), 'hour'),
      { gbSecond: 0, request: 0, vmHourly: 1, vmMemoryMb: 2048 },
    );
    // 01:00 holds 1280 + 4096 = 5376 MB (three 2048 MB VMs); 02:00 holds more invocations but less memory.
    expect(report.vm.instances).toBe(3);
    expect(report.total.peakConcurrency).toBe(30);
    expect(report.vm.sizing).toContain('11 concurrent invocations using up to 5376 MB');
    expect(report.breakEven.requestsPerSecond).toBeNull();
    expect(report.breakEven.formula).toMatch(/cost nothing/);
  });
});
