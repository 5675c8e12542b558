import type { InvocationOutcome, InvocationTrigger } from '../core/invocation.js';
import type { InvocationTrace } from '../core/sandbox.js';
import { SAMPLED_FLAG, type TraceParent } from '../core/trace-context.js';
import { newSpanId, newTraceId } from './trace-ids.js';

/** What an invocation's span is about, known when it starts. */
export interface InvocationSpanStart {
  functionName: string;
  version: number;
  trigger: InvocationTrigger;
  invocationId: string;
  /** Epoch ms. */
  startedAt: number;
}

/** How it ended, known when it settles. */
export interface InvocationSpanEnd {
  outcome: InvocationOutcome;
  cold: boolean;
  /** The function's error message (or the platform's verdict) for anything but success. */
  errorMessage: string | undefined;
}

/** The span of one invocation: its ids (handed into the sandbox and back to the caller) and its end. */
export interface InvocationSpan {
  readonly trace: InvocationTrace;
  end(outcome: InvocationSpanEnd): void;
}

/**
 * Makes the invocation spans of the invoke path. An interface so the invoker knows nothing of
 * OpenTelemetry: with no exporter configured it gets {@link idOnlyTracer}, which does no OpenTelemetry
 * work at all on the hot path.
 */
export interface InvocationTracer {
  /** A span that is a child of `parent`, or the root of a new trace when there is no valid parent. */
  start(parent: TraceParent | undefined, span: InvocationSpanStart): InvocationSpan;
  /** Sends what is buffered; resolves when it has gone (or failed). */
  shutdown(): Promise<void>;
}

const noEnd = (): void => {};

/** Ids only, exported nowhere: propagation and records work the same with tracing export off. */
export const idOnlyTracer: InvocationTracer = {
  start(parent) {
    const trace: InvocationTrace = {
      traceId: parent?.traceId ?? newTraceId(),
      spanId: newSpanId(),
      // A new trace is sampled: whoever exports later (the function's own SDK) should keep it.
      flags: parent?.flags ?? SAMPLED_FLAG,
      tracestate: parent?.tracestate,
    };
    return { trace, end: noEnd };
  },
  shutdown: () => Promise.resolve(),
};
