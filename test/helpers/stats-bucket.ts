import type { InvocationStatsBucket } from '../../src/core/invocation-stats.js';

/** An expected stats bucket starting at epoch ms `start`, in one line (empty buckets have null percentiles). */
export function statsBucket(
  start: number,
  [requests, errors, cold]: [number, number, number],
  [p50Ms, p99Ms]: [number | null, number | null] = [null, null],
): InvocationStatsBucket {
  return { start: new Date(start).toISOString(), requests, errors, cold, p50Ms, p99Ms };
}
