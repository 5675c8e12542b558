/** UTC hour and day buckets of a cost report; days are made of hours, as the rollup stores hours. */
export type Granularity = 'hour' | 'day';

export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function bucketMs(granularity: Granularity): number {
  return granularity === 'hour' ? HOUR_MS : DAY_MS;
}

/** The start of the bucket holding `ms` (UTC: epoch ms are whole days since 1970-01-01T00:00Z). */
export function bucketStart(ms: number, granularity: Granularity): number {
  const size = bucketMs(granularity);
  return Math.floor(ms / size) * size;
}

/** Every bucket start from the one holding `since` up to (not including) `until`. */
export function bucketStarts(since: number, until: number, granularity: Granularity): number[] {
  const starts: number[] = [];
  for (let start = bucketStart(since, granularity); start < until; start += bucketMs(granularity)) {
    starts.push(start);
  }
  return starts;
}
