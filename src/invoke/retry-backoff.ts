/** Exponential backoff with full jitter (AWS's recommendation): spreads retries of a failed burst. */
export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** Cap on any one delay. */
  maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 after the first failure): a random value in
 * [ceiling/2, ceiling] with ceiling = min(maxMs, baseMs * 2^(attempt-1)). Half of it is fixed so a retry
 * never comes back at once.
 */
export function retryDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
