import { performance } from 'node:perf_hooks';
import type { InvocationTrace } from '../core/sandbox.js';
import { SAMPLED_FLAG, type TraceParent } from '../core/trace-context.js';
import type { FinishedSpan } from './finished-span.js';
import type {
  InvocationSpan,
  InvocationSpanEnd,
  InvocationSpanStart,
  InvocationTracer,
} from './invocation-tracer.js';
import { newSpanId, newTraceId } from './trace-ids.js';

export interface LeanTracerOptions {
  /** Where ended spans go (a {@link SpanExportQueue}); called on the invoke path, so it must be cheap. */
  record(span: FinishedSpan): void;
  /** Sends what is recorded; resolves when it has gone (or failed). */
  flush(): Promise<void>;
  /**
   * The share of new traces (no sampled caller) whose spans are exported. A caller's traceparent decides
   * for its trace (parent-based): sampled is exported, not sampled is not. @default 1
   */
  sampleRatio?: number;
}

/**
 * Invocation spans without the OpenTelemetry SDK on the invoke path: a span is its ids, a monotonic
 * start mark and, when it ends, one {@link FinishedSpan} handed to `record`. The SDK's span objects,
 * attribute sanitising and sampler call were most of a span's CPU (docs/benchmarks.md, Tracing); the
 * ids are drawn from the same pooled CSPRNG as with export off, so the exported span id is the one
 * propagated to the function and returned to the caller.
 */
export function createLeanTracer(options: LeanTracerOptions): InvocationTracer {
  const ratio = options.sampleRatio ?? 1;
  const record = (span: FinishedSpan) => options.record(span);
  return {
    start(parent, start) {
      const traceId = parent?.traceId ?? newTraceId();
      const sampled =
        parent === undefined ? sampleNewTrace(traceId, ratio) : (parent.flags & SAMPLED_FLAG) !== 0;
      const trace: InvocationTrace = {
        traceId,
        spanId: newSpanId(),
        // A caller's flags are passed on as they are; a new trace says whether we keep it.
        flags: parent?.flags ?? (sampled ? SAMPLED_FLAG : 0),
        tracestate: parent?.tracestate,
      };
      return sampled ? new RecordedSpan(trace, parent, start, record) : { trace, end: noEnd };
    },
    shutdown: () => options.flush(),
  };
}

const noEnd = (): void => {};

/**
 * Ratio sampling of a new trace from its id, as OpenTelemetry's TraceIdRatioBased does in spirit: the
 * last 8 hex digits (random in W3C ids, ours included) read as a fraction, so every party that samples
 * a trace by id with the same ratio decides the same way.
 */
function sampleNewTrace(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return parseInt(traceId.slice(24), 16) < ratio * 0x1_0000_0000;
}

/** A class rather than a closure: one object per span, its `end` shared on the prototype. */
class RecordedSpan implements InvocationSpan {
  private readonly startMark = performance.now();
  private ended = false;

  constructor(
    readonly trace: InvocationTrace,
    private readonly parent: TraceParent | undefined,
    private readonly start: InvocationSpanStart,
    private readonly record: (span: FinishedSpan) => void,
  ) {}

  end(outcome: InvocationSpanEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.record({
      traceId: this.trace.traceId,
      spanId: this.trace.spanId,
      parentSpanId: this.parent?.parentId,
      tracestate: this.parent?.tracestate,
      functionName: this.start.functionName,
      version: this.start.version,
      trigger: this.start.trigger,
      startedAtMs: this.start.startedAt,
      durationMs: performance.now() - this.startMark,
      cold: outcome.cold,
      outcome: outcome.outcome,
      errorMessage: outcome.outcome === 'success' ? undefined : (outcome.errorMessage ?? outcome.outcome),
    });
  }
}
