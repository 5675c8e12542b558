/**
 * The contract between a keep-alive policy and whoever holds instances (the scheduler, the simulator).
 * A policy only computes: it owns no timers and reads no clock; every time is passed in (epoch ms), so
 * the same code runs live, in tests and in a week-long replay that takes a second.
 */

/** How long to hold a function's instance after its last invocation ended. */
export interface KeepAliveWindows {
  /**
   * Unload at once and load again after this long (0: never unloaded early). Pays off when the next call
   * is known not to come soon, e.g. a timer that fires every 10 minutes.
   */
  prewarmMs: number;
  /** Keep the (re)loaded instance this long, counted from the end of the pre-warm window. */
  keepAliveMs: number;
  /** `histogram`: learned from the function's idle times; `fixed`: a fixed TTL (default or fallback). */
  mode: 'histogram' | 'fixed';
}

/** A plan for one idle instance, in absolute times. */
export interface KeepAliveDecision extends KeepAliveWindows {
  /** Load an instance again at this time; absent: keep the current one (it is not unloaded early). */
  prewarmAt?: number;
  /** Unload the idle instance at this time (whether it was kept or pre-warmed). */
  unloadAt: number;
}

export interface KeepAlivePolicy {
  /** For tables and charts, e.g. `fixed-10m`, `hybrid`. */
  readonly name: string;
  /** An invocation of the function starts (call on every acquire, warm or cold). */
  recordInvocation(functionName: string, startedAt: number): void;
  /** An invocation of the function ended (call on every release). */
  recordCompletion(functionName: string, endedAt: number): void;
  /**
   * What to do with the function's instance once it is idle since `lastEndAt`. Depends only on what was
   * recorded, so it is cheap to call again (on a timer, after a config change).
   */
  decide(functionName: string, lastEndAt: number): KeepAliveDecision;
  /** Drops what was learned about the function (it was deleted). */
  forget(functionName: string): void;
}

/** Turns relative windows into a plan for an instance idle since `lastEndAt`. */
export function decisionAt(windows: KeepAliveWindows, lastEndAt: number): KeepAliveDecision {
  const { prewarmMs, keepAliveMs, mode } = windows;
  const unloadAt = lastEndAt + prewarmMs + keepAliveMs;
  // Literal objects, not spreads: a replay calls this millions of times.
  return prewarmMs > 0
    ? { prewarmMs, keepAliveMs, mode, prewarmAt: lastEndAt + prewarmMs, unloadAt }
    : { prewarmMs, keepAliveMs, mode, unloadAt };
}
