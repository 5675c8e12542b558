/**
 * Metered usage of one function in one UTC hour, summed from its invocation records (attributed to the
 * hour each invocation started in). The store keeps it as a rollup updated with every batch of records.
 */
export interface HourlyUsage {
  functionName: string;
  /** ISO time of the hour's start, e.g. `2026-01-01T13:00:00.000Z`. */
  hourStart: string;
  requests: number;
  billedMs: number;
  /** Σ billedMs × memoryMb, exact; GB-seconds are this / 1024 / 1000. */
  mbMs: number;
  /** Invocations whose outcome was not `success`. */
  errors: number;
  /** The most invocations of the function in flight at once within the hour (on one node). */
  peakInFlight: number;
  /** The most memory those in-flight invocations were allowed at once (in flight × memoryMb), MB. */
  peakMemoryMb: number;
}

export interface UsageQuery {
  /** ISO time, inclusive: hours starting at or after it. */
  since: string;
  /** ISO time, exclusive: hours starting before it. */
  until: string;
  functionName?: string | undefined;
  /** Only functions of this namespace (src/core/namespace.ts). */
  namespace?: string | undefined;
}
