/** How an invocation ended. A function's own failure is an outcome, not a platform error. */
export type InvocationOutcome = 'success' | 'error' | 'timeout' | 'out_of_memory' | 'crashed';

/** A function error as the function raised it, with the stack mapped to the user's sources. */
export interface FunctionErrorInfo {
  type: string;
  message: string;
  stack: string | undefined;
}

/** How an invocation came in: a sync invoke, an HTTP trigger, or the async queue. */
export type InvocationTrigger = 'invoke' | 'http' | 'async';

export interface InvocationRecord {
  id: string;
  functionName: string;
  version: number;
  trigger: InvocationTrigger;
  startedAt: string;
  durationMs: number;
  /** Time spent creating the instance and loading the function's module; 0 when warm. */
  initDurationMs: number;
  cold: boolean;
  outcome: InvocationOutcome;
  error: FunctionErrorInfo | null;
  memoryMb: number;
  /** Duration rounded up to the next millisecond, as metered. */
  billedMs: number;
  /**
   * Invocations of this function in flight on this node when this one started, itself included: the
   * hourly usage rollup's peak concurrency is the largest of these (1 on records older than the rollup).
   */
  inFlight: number;
  logBytes: number;
  logTruncated: boolean;
  /** W3C trace id (32 hex) the invocation belongs to: the caller's, or one started for it. */
  traceId: string | null;
  /** Id of the invocation's own span (16 hex): the parent of what the function calls. */
  spanId: string | null;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogLine {
  invocationId: string;
  functionName: string;
  /** Position within the invocation, from 0. */
  seq: number;
  /** Epoch milliseconds. */
  ts: number;
  level: LogLevel;
  message: string;
}
