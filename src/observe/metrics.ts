import { Counter, Histogram, Registry } from 'prom-client';
import type { InvocationOutcome, InvocationTrigger } from '../core/invocation.js';
import type { SandboxTier } from '../core/sandbox.js';
import { registerScrapeGauges, type ScrapeSources } from './metrics-gauges.js';
import { registerProcessMetrics } from './metrics-process.js';

/** Why a call was refused before it ran: the function's concurrency (429 TOO_MANY_REQUESTS) or rate (RATE_LIMITED). */
export type ThrottleReason = 'concurrency' | 'rate';

/** One settled invocation, as the invoke path reports it. */
export interface InvocationObservation {
  functionName: string;
  /** The resolved version number, never an alias or `$LATEST` (one series per version that ran). */
  version: number;
  trigger: InvocationTrigger;
  outcome: InvocationOutcome;
  tier: SandboxTier;
  cold: boolean;
  durationMs: number;
  initDurationMs: number;
}

/**
 * What the invoke path records. An interface so the invoker does not depend on prom-client, and so code
 * that builds an Invoker without metrics (tests, tools) passes nothing.
 */
export interface InvocationMetrics {
  invocation(observed: InvocationObservation): void;
  throttle(functionName: string, reason: ThrottleReason): void;
}

/** Why stored log lines were deleted: older than `logRetention`, or the oldest past `logRetentionBytes`. */
export type LogExpiryReason = 'age' | 'size';

/** What the log recorder and the retention sweep count; an interface for the same reason as above. */
export interface LogMetrics {
  logLinesDropped(functionName: string, lines: number): void;
  logLinesExpired(reason: LogExpiryReason, lines: number): void;
}

/** From 1 ms to the 15-min maximum timeout: warm isolate calls sit in the first buckets, batch jobs in the last. */
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
];
/** A stem-cell isolate starts in ~0.6 ms, a confined process in ~30 ms, a slow module load in seconds. */
const INIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The platform's Prometheus metrics, in a registry of their own: several servers can run in one process
 * (the tests do), and prom-client's global registry would mix their counters. Counters and histograms are
 * updated on the invoke path; gauges (queue, instances, memory) are read from their sources at scrape time,
 * so keeping them current costs the invoke path nothing.
 */
export class PlatformMetrics implements InvocationMetrics, LogMetrics {
  readonly registry = new Registry();

  private readonly invocations = new Counter({
    name: 'strato_invocations_total',
    help: 'Settled invocations by function, resolved version, outcome and trigger.',
    labelNames: ['function', 'version', 'outcome', 'trigger'] as const,
    registers: [this.registry],
  });

  private readonly duration = new Histogram({
    name: 'strato_invocation_duration_seconds',
    help: 'Time the sandbox spent in an invocation (handler start to end), init excluded.',
    labelNames: ['function', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly initDuration = new Histogram({
    name: 'strato_init_duration_seconds',
    help: 'Instance start and module load time of invocations that paid a cold start.',
    labelNames: ['function', 'tier'] as const,
    buckets: INIT_BUCKETS,
    registers: [this.registry],
  });

  private readonly coldStarts = new Counter({
    name: 'strato_cold_starts_total',
    help: 'Invocations that started their instance (provisioned and pre-warmed starts are not counted).',
    labelNames: ['function', 'tier'] as const,
    registers: [this.registry],
  });

  private readonly throttles = new Counter({
    name: 'strato_throttles_total',
    help: 'Calls refused before running: concurrency (TOO_MANY_REQUESTS) or rate (RATE_LIMITED).',
    labelNames: ['function', 'reason'] as const,
    registers: [this.registry],
  });

  private readonly logDropped = new Counter({
    name: 'strato_log_lines_dropped_total',
    help: 'Function log lines not stored because the function was over logBytesPerFunctionPerMinute.',
    labelNames: ['function'] as const,
    registers: [this.registry],
  });

  private readonly logExpired = new Counter({
    name: 'strato_log_lines_expired_total',
    help: 'Stored function log lines deleted by retention: older than logRetention, or past logRetentionBytes.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly spansDropped = new Counter({
    name: 'strato_trace_spans_dropped_total',
    help: 'Invocation spans not exported to otlpEndpoint: export queue full, or the collector failed a batch.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(sources: ScrapeSources) {
    registerScrapeGauges(this.registry, sources);
    registerProcessMetrics(this.registry);
  }

  invocation(observed: InvocationObservation): void {
    const fn = observed.functionName;
    this.invocations.inc({
      function: fn,
      version: observed.version,
      outcome: observed.outcome,
      trigger: observed.trigger,
    });
    this.duration.observe({ function: fn, outcome: observed.outcome }, observed.durationMs / 1000);
    if (observed.cold) {
      this.coldStarts.inc({ function: fn, tier: observed.tier });
      this.initDuration.observe({ function: fn, tier: observed.tier }, observed.initDurationMs / 1000);
    }
  }

  throttle(functionName: string, reason: ThrottleReason): void {
    this.throttles.inc({ function: functionName, reason });
  }

  logLinesDropped(functionName: string, lines: number): void {
    this.logDropped.inc({ function: functionName }, lines);
  }

  logLinesExpired(reason: LogExpiryReason, lines: number): void {
    this.logExpired.inc({ reason }, lines);
  }

  traceSpansDropped(reason: 'queue_full' | 'export_failed', spans: number): void {
    this.spansDropped.inc({ reason }, spans);
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
