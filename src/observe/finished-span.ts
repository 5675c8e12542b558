import type { InvocationOutcome, InvocationTrigger } from '../core/invocation.js';

/**
 * One ended invocation span as the lean tracer keeps it until export: plain fields, no OpenTelemetry
 * object, so ending a span on the invoke path is a push onto an array. Everything the OTLP encoders write
 * is here; the five attributes are derived from these fields at encoding time, off the invoke path.
 */
export interface FinishedSpan {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
  /** The caller's span (16 hex digits), undefined for a root span. */
  readonly parentSpanId: string | undefined;
  /** The caller's `tracestate`, passed on as is. */
  readonly tracestate: string | undefined;
  readonly functionName: string;
  readonly version: number;
  readonly trigger: InvocationTrigger;
  /** Epoch ms (the invocation record's `startedAt`). */
  readonly startedAtMs: number;
  /** From a monotonic clock, with sub-millisecond precision: warm invocations take well under 1 ms. */
  readonly durationMs: number;
  readonly cold: boolean;
  readonly outcome: InvocationOutcome;
  /** Set for anything but success: the span's error status message. */
  readonly errorMessage: string | undefined;
}

const NANOS_PER_MS = 1_000_000;

/**
 * An epoch time in ms (fractional) as decimal nanoseconds, OTLP's fixed64 `*UnixNano`. Epoch nanoseconds
 * (~1.8e18) are past a double's exact integers, so the whole milliseconds and the nanoseconds below them
 * are written as two numbers side by side instead of multiplied out.
 */
export function unixNanos(epochMs: number): string {
  let wholeMs = Math.floor(epochMs);
  let nanos = Math.round((epochMs - wholeMs) * NANOS_PER_MS);
  if (nanos === NANOS_PER_MS) {
    wholeMs += 1;
    nanos = 0;
  }
  return `${wholeMs}${String(nanos).padStart(6, '0')}`;
}

/** OTLP Span.flags: the W3C trace flags (bit 0 sampled: only sampled spans are kept) and bits 8-9. */
export function otlpSpanFlags(span: FinishedSpan): number {
  // 0x100: whether the parent is remote is known; 0x200: it is (a caller's traceparent).
  return 0x01 | 0x100 | (span.parentSpanId === undefined ? 0 : 0x200);
}
