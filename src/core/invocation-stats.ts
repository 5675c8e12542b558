import type { InvocationOutcome } from './invocation.js';

/** The fields of an invocation record the stats need (a narrow read keeps the query cheap). */
export interface InvocationSample {
  startedAt: string;
  durationMs: number;
  outcome: InvocationOutcome;
  cold: boolean;
}

/** One time bucket of a function's invocations. Durations are null for a bucket with no invocation. */
export interface InvocationStatsBucket {
  /** ISO time the bucket starts at (inclusive); it ends where the next one starts. */
  start: string;
  requests: number;
  /** Invocations whose outcome is not `success` (error, timeout, out_of_memory, crashed). */
  errors: number;
  cold: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface InvocationStatsQuery {
  functionName: string;
  /** Epoch ms, inclusive; the first bucket starts here. */
  since: number;
  /** Epoch ms, exclusive. */
  until: number;
  bucketMs: number;
}

export interface InvocationStats {
  buckets: InvocationStatsBucket[];
  /** Records the buckets were computed from. */
  records: number;
  /** True when the window held more than the store reads at once: the oldest records were left out. */
  truncated: boolean;
}

/** Most records one stats query reads; past it the newest are kept (see {@link InvocationStats.truncated}). */
export const MAX_STATS_RECORDS = 100_000;

/**
 * Buckets samples into `[since, until)` in steps of `bucketMs` (every bucket is present, empty ones too, so
 * a chart's x axis is continuous). Percentiles are nearest-rank: p99 of 10 samples is the largest.
 */
export function bucketInvocations(
  samples: readonly InvocationSample[],
  query: Omit<InvocationStatsQuery, 'functionName'>,
): InvocationStatsBucket[] {
  const count = Math.max(0, Math.ceil((query.until - query.since) / query.bucketMs));
  const durations: number[][] = Array.from({ length: count }, () => []);
  const buckets = durations.map((_, i) => ({
    start: new Date(query.since + i * query.bucketMs).toISOString(),
    requests: 0,
    errors: 0,
    cold: 0,
  }));
  for (const sample of samples) {
    const at = Date.parse(sample.startedAt);
    if (!(at >= query.since && at < query.until)) continue;
    const index = Math.floor((at - query.since) / query.bucketMs);
    const bucket = buckets[index];
    if (bucket === undefined) continue;
    bucket.requests += 1;
    if (sample.outcome !== 'success') bucket.errors += 1;
    if (sample.cold) bucket.cold += 1;
    durations[index]?.push(sample.durationMs);
  }
  return buckets.map((bucket, i) => {
    const sorted = (durations[i] ?? []).sort((a, b) => a - b);
    return { ...bucket, p50Ms: nearestRank(sorted, 50), p99Ms: nearestRank(sorted, 99) };
  });
}

/** The nearest-rank percentile of ascending values; null when there are none. */
export function nearestRank(sorted: readonly number[], percentile: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}
