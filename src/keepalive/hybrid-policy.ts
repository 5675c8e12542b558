import { formatMinutes } from './fixed-policy.js';
import { IdleHistogram, type IdleHistogramOptions } from './idle-histogram.js';
import {
  decisionAt,
  type KeepAliveDecision,
  type KeepAlivePolicy,
  type KeepAliveWindows,
} from './keep-alive-policy.js';

/**
 * The hybrid histogram policy of "Serverless in the Wild" (Shahrad et al., USENIX ATC 2020, section 4.2).
 * Per function, a histogram of idle times; the head (5th percentile) says how long the function surely
 * stays idle, so its instance is unloaded and pre-warmed just before; the tail (99th percentile) says how
 * long to keep it after that. Each cut-off gets a 10% margin against jitter.
 *
 * Where the histogram cannot be trusted, the paper falls back: to a standard keep-alive when the histogram
 * is not representative, and to an ARIMA forecast of the next idle time when most idle times exceed the
 * range. Here both fallbacks are a fixed TTL (`fallbackKeepAliveMs`); see docs/keepalive.md.
 */
export interface HybridPolicyOptions extends IdleHistogramOptions {
  /** Percentile of idle times that sets the pre-warm window. @default 5 */
  headPercentile?: number;
  /** Percentile of idle times that sets the end of the keep-alive window. @default 99 */
  tailPercentile?: number;
  /** Pre-warm this fraction earlier and keep this fraction longer than the cut-offs. @default 0.1 */
  margin?: number;
  /** Fewer idle times than this: fall back. @default 5 */
  minSamples?: number;
  /**
   * Bin-count coefficient of variation below which the histogram is too flat to predict anything (the
   * paper's representativeness check). @default 2
   */
  minCv?: number;
  /** More idle times than this fraction beyond the range: fall back. @default 0.5 */
  maxOutOfRangeFraction?: number;
  /** The fixed TTL used whenever the histogram is not used. @default 600000 (10 min) */
  fallbackKeepAliveMs?: number;
  /** Overrides the generated name (for charts comparing variants). */
  name?: string;
}

/** Why the windows are what they are (for logs, tests and the bench). */
export type HybridReason = 'histogram' | 'few-samples' | 'flat' | 'out-of-range';

export interface HybridWindows extends KeepAliveWindows {
  reason: HybridReason;
}

type ResolvedOptions = Required<Omit<HybridPolicyOptions, 'name' | keyof IdleHistogramOptions>>;

const defaults: ResolvedOptions = {
  headPercentile: 5,
  tailPercentile: 99,
  margin: 0.1,
  minSamples: 5,
  minCv: 2,
  maxOutOfRangeFraction: 0.5,
  fallbackKeepAliveMs: 600_000,
};

/** The windows the hybrid policy derives from one histogram. Pure. */
export function hybridWindows(histogram: IdleHistogram, options: HybridPolicyOptions = {}): HybridWindows {
  return windowsFor(histogram, resolve(options));
}

function resolve(options: HybridPolicyOptions): ResolvedOptions {
  const resolved = { ...defaults };
  for (const key of Object.keys(defaults) as Array<keyof ResolvedOptions>) {
    const value = options[key];
    if (value !== undefined) resolved[key] = value;
  }
  return resolved;
}

// Called after every invocation that changed the histogram: options come resolved, no closures.
function windowsFor(histogram: IdleHistogram, o: ResolvedOptions): HybridWindows {
  if (histogram.total < o.minSamples) return fallback(o, 'few-samples');
  if (histogram.outOfRange > o.maxOutOfRangeFraction * histogram.total) return fallback(o, 'out-of-range');
  if (histogram.count < o.minSamples) return fallback(o, 'few-samples');
  if (histogram.binCountCv() < o.minCv) return fallback(o, 'flat');
  // Both bins exist: the histogram holds at least minSamples >= 1 samples in range.
  const headBin = histogram.percentileBin(o.headPercentile)!;
  const tailBin = histogram.percentileBin(o.tailPercentile)!;
  // The head is the start of its bin and the tail the end of its bin: the window covers both bins whole.
  // The epsilon keeps float noise (11 min * 1.1 = 726000.0000000001) from adding a millisecond.
  const prewarmMs = Math.floor(headBin * histogram.binMs * (1 - o.margin) + 1e-6);
  const keepUntilMs = Math.ceil((tailBin + 1) * histogram.binMs * (1 + o.margin) - 1e-6);
  return { prewarmMs, keepAliveMs: keepUntilMs - prewarmMs, mode: 'histogram', reason: 'histogram' };
}

function fallback(o: ResolvedOptions, reason: HybridReason): HybridWindows {
  return { prewarmMs: 0, keepAliveMs: o.fallbackKeepAliveMs, mode: 'fixed', reason };
}

interface FunctionIdleState {
  histogram: IdleHistogram;
  /** Invocations started and not yet ended: the function is idle only when this is 0. */
  inFlight: number;
  lastEndAt: number | undefined;
  /** Windows of the current histogram; dropped when it changes. */
  windows: HybridWindows | undefined;
}

/**
 * {@link hybridWindows} per function, learning idle times from the calls the scheduler makes anyway.
 * Memory per function is one histogram (240 numbers by default); call `forget` when a function goes.
 */
export class HybridKeepAlivePolicy implements KeepAlivePolicy {
  readonly name: string;
  private readonly functions = new Map<string, FunctionIdleState>();
  private readonly resolved: ResolvedOptions;

  constructor(private readonly options: HybridPolicyOptions = {}) {
    this.resolved = resolve(options);
    this.name = options.name ?? `hybrid (fallback ${formatMinutes(this.resolved.fallbackKeepAliveMs)})`;
  }

  recordInvocation(functionName: string, startedAt: number): void {
    const state = this.state(functionName);
    // Concurrent invocations are not idle time: only a start after everything ended is a sample.
    if (state.inFlight === 0 && state.lastEndAt !== undefined) {
      state.histogram.record(startedAt - state.lastEndAt);
      state.windows = undefined;
    }
    state.inFlight++;
  }

  recordCompletion(functionName: string, endedAt: number): void {
    const state = this.state(functionName);
    state.inFlight = Math.max(0, state.inFlight - 1);
    state.lastEndAt = state.lastEndAt === undefined ? endedAt : Math.max(state.lastEndAt, endedAt);
  }

  decide(functionName: string, lastEndAt: number): KeepAliveDecision {
    return decisionAt(this.windows(functionName), lastEndAt);
  }

  /** The windows currently in force for a function (with the reason), for logs and `strato ps`. */
  windows(functionName: string): HybridWindows {
    const state = this.state(functionName);
    state.windows ??= windowsFor(state.histogram, this.resolved);
    return state.windows;
  }

  forget(functionName: string): void {
    this.functions.delete(functionName);
  }

  private state(functionName: string): FunctionIdleState {
    let state = this.functions.get(functionName);
    if (state === undefined) {
      state = {
        histogram: new IdleHistogram(this.options),
        inFlight: 0,
        lastEndAt: undefined,
        windows: undefined,
      };
      this.functions.set(functionName, state);
    }
    return state;
  }
}
