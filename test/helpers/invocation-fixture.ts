import type { InvocationRecord } from '../../src/core/invocation.js';

/** A successful warm invocation record of `functionName`, with `overrides`. */
export function invocationRecord(
  functionName: string,
  overrides: Partial<InvocationRecord> = {},
): InvocationRecord {
  return {
    id: `${functionName}-${Math.random().toString(36).slice(2)}`,
    functionName,
    version: 1,
    trigger: 'invoke',
    startedAt: new Date(0).toISOString(),
    durationMs: 1,
    initDurationMs: 0,
    cold: false,
    outcome: 'success',
    error: null,
    memoryMb: 128,
    billedMs: 1,
    logBytes: 0,
    logTruncated: false,
    inFlight: 1,
    traceId: null,
    spanId: null,
    ...overrides,
  };
}
