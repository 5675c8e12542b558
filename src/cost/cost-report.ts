import type { HourlyUsage } from '../core/usage.js';
import { bucketStart, bucketStarts, HOUR_MS, type Granularity } from './buckets.js';
import { MB_MS_PER_GB_SECOND, meteredCost, type CostPrices } from './prices.js';
import {
  breakEven,
  compareWithVm,
  type BreakEven,
  type MeasuredPeak,
  type VmComparison,
} from './vm-comparison.js';

/** One function's metered usage over the report's window. */
export interface FunctionCost {
  functionName: string;
  requests: number;
  billedMs: number;
  gbSeconds: number;
  cost: number;
  /** The most of its invocations in flight at once in any hour of the window. */
  peakConcurrency: number;
  errors: number;
}

export interface CostSeriesPoint {
  /** ISO start of the hour or day. */
  start: string;
  requests: number;
  gbSeconds: number;
  cost: number;
}

/** `GET /v1/cost`: the measured workload priced on Strato's metering and on always-on VMs. */
export interface CostReport {
  /** Start of the first bucket (the requested `since`, rounded down to the hour or day). */
  since: string;
  until: string;
  granularity: Granularity;
  prices: CostPrices;
  /** Most expensive first. */
  functions: FunctionCost[];
  /** `peakConcurrency`: the largest sum of the functions' peaks in one hour (at most that many at once). */
  total: { requests: number; gbSeconds: number; cost: number; peakConcurrency: number };
  vm: VmComparison;
  breakEven: BreakEven;
  /** Every bucket of the window, empty ones included. */
  series: CostSeriesPoint[];
}

export interface CostWindow {
  /** Epoch ms, a bucket start. */
  since: number;
  /** Epoch ms, exclusive. */
  until: number;
  granularity: Granularity;
}

/** The window a report covers: from the start of the bucket holding `since`, so buckets are whole. */
export function costWindow(since: number, until: number, granularity: Granularity): CostWindow {
  return { since: bucketStart(since, granularity), until, granularity };
}

/** Prices the hourly usage of `window` (as the store returns it for that window). */
export function buildCostReport(usage: HourlyUsage[], window: CostWindow, prices: CostPrices): CostReport {
  const functions = new Map<
    string,
    { requests: number; billedMs: number; mbMs: number; errors: number; peak: number }
  >();
  const hours = new Map<string, { concurrency: number; memoryMb: number }>();
  const series = new Map<number, { requests: number; mbMs: number }>();
  for (const start of bucketStarts(window.since, window.until, window.granularity)) {
    series.set(start, { requests: 0, mbMs: 0 });
  }

  for (const row of usage) {
    const fn = functions.get(row.functionName) ?? { requests: 0, billedMs: 0, mbMs: 0, errors: 0, peak: 0 };
    fn.requests += row.requests;
    fn.billedMs += row.billedMs;
    fn.mbMs += row.mbMs;
    fn.errors += row.errors;
    fn.peak = Math.max(fn.peak, row.peakInFlight);
    functions.set(row.functionName, fn);

    // Functions peak at unknown moments within an hour: adding their peaks bounds the hour's from above.
    const hour = hours.get(row.hourStart) ?? { concurrency: 0, memoryMb: 0 };
    hour.concurrency += row.peakInFlight;
    hour.memoryMb += row.peakMemoryMb;
    hours.set(row.hourStart, hour);

    const bucket = series.get(bucketStart(Date.parse(row.hourStart), window.granularity));
    if (bucket !== undefined) {
      bucket.requests += row.requests;
      bucket.mbMs += row.mbMs;
    }
  }

  const functionCosts: FunctionCost[] = [...functions].map(([functionName, fn]) => {
    const gbSeconds = fn.mbMs / MB_MS_PER_GB_SECOND;
    return {
      functionName,
      requests: fn.requests,
      billedMs: fn.billedMs,
      gbSeconds,
      cost: meteredCost(prices, gbSeconds, fn.requests),
      peakConcurrency: fn.peak,
      errors: fn.errors,
    };
  });
  functionCosts.sort((a, b) => b.cost - a.cost || a.functionName.localeCompare(b.functionName));

  const total = {
    requests: sum(functionCosts.map((fn) => fn.requests)),
    gbSeconds: sum([...functions.values()].map((fn) => fn.mbMs)) / MB_MS_PER_GB_SECOND,
    cost: sum(functionCosts.map((fn) => fn.cost)),
    peakConcurrency: Math.max(0, ...[...hours.values()].map((hour) => hour.concurrency)),
  };
  const vm = compareWithVm(prices, measuredPeak(hours), (window.until - window.since) / HOUR_MS);

  return {
    since: new Date(window.since).toISOString(),
    until: new Date(window.until).toISOString(),
    granularity: window.granularity,
    prices,
    functions: functionCosts,
    total,
    vm,
    breakEven: breakEven(prices, vm, total),
    series: [...series].map(([start, bucket]) => {
      const gbSeconds = bucket.mbMs / MB_MS_PER_GB_SECOND;
      return {
        start: new Date(start).toISOString(),
        requests: bucket.requests,
        gbSeconds,
        cost: meteredCost(prices, gbSeconds, bucket.requests),
      };
    }),
  };
}

/** The hour with the most memory in flight: what the VMs must hold. */
function measuredPeak(hours: Map<string, { concurrency: number; memoryMb: number }>): MeasuredPeak {
  let peak: MeasuredPeak = { memoryMb: 0, concurrency: 0, hourStart: null };
  for (const [hourStart, hour] of hours) {
    if (peak.hourStart === null || hour.memoryMb > peak.memoryMb) peak = { ...hour, hourStart };
  }
  return peak;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
