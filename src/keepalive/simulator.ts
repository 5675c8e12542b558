import type { KeepAlivePolicy } from './keep-alive-policy.js';

/**
 * Replays a function's invocations against a keep-alive policy and counts what the policy costs: cold
 * starts, and memory held by an instance that is loaded but not executing ("wasted memory time" in
 * "Serverless in the Wild", section 5). As in the paper's simulator, each function has one instance: a
 * call that arrives while the instance runs another one is served warm, loading and unloading take no
 * time, and the policy is told of every start and end in time order, as the scheduler would tell it.
 */
export interface SimulatedFunction {
  name: string;
  memoryMb: number;
  /** Start of each invocation, sorted ascending (ms since the start of the trace). */
  startsMs: Float64Array;
  /** Execution time of each invocation. */
  durationsMs: Float64Array;
}

export interface FunctionReplay {
  name: string;
  invocations: number;
  coldStarts: number;
  /** Loaded-but-idle instance time times the function's memory, until `endMs`. */
  idleGbSeconds: number;
}

/**
 * Replays one function up to `endMs` (memory held past it is not counted). The policy keeps what it
 * learned, so replay every function of a trace through the same policy object.
 */
export function replayFunction(
  policy: KeepAlivePolicy,
  fn: SimulatedFunction,
  endMs: number,
): FunctionReplay {
  const { name, startsMs, durationsMs } = fn;
  const gb = fn.memoryMb / 1024;
  let coldStarts = 0;
  let idleMs = 0;
  // Ends of the calls in flight, ascending; usually one or two.
  const pendingEnds: number[] = [];
  // When the function last went idle, and the interval its instance is loaded from then on.
  let idleSince = 0;
  let loadedFrom = Number.POSITIVE_INFINITY;
  let loadedUntil = Number.NEGATIVE_INFINITY;

  const heldBetween = (from: number, to: number) =>
    Math.max(0, Math.min(to, loadedUntil) - Math.max(from, loadedFrom));

  const completeUntil = (time: number) => {
    while (pendingEnds.length > 0 && pendingEnds[0]! <= time) {
      const endedAt = pendingEnds.shift()!;
      policy.recordCompletion(name, endedAt);
      if (pendingEnds.length > 0) continue;
      const decision = policy.decide(name, endedAt);
      idleSince = endedAt;
      loadedFrom = decision.prewarmAt ?? endedAt;
      loadedUntil = decision.unloadAt;
    }
  };

  for (let i = 0; i < startsMs.length; i++) {
    const startedAt = startsMs[i]!;
    completeUntil(startedAt);
    if (pendingEnds.length === 0) {
      const warm = startedAt >= loadedFrom && startedAt < loadedUntil;
      if (!warm) coldStarts++;
      idleMs += heldBetween(idleSince, startedAt);
      loadedFrom = Number.POSITIVE_INFINITY;
      loadedUntil = Number.NEGATIVE_INFINITY;
    }
    policy.recordInvocation(name, startedAt);
    insertSorted(pendingEnds, startedAt + durationsMs[i]!);
  }
  completeUntil(Number.POSITIVE_INFINITY);
  if (pendingEnds.length === 0) idleMs += heldBetween(idleSince, endMs);
  return { name, invocations: startsMs.length, coldStarts, idleGbSeconds: (idleMs / 1000) * gb };
}

function insertSorted(sorted: number[], value: number): void {
  let index = sorted.length;
  while (index > 0 && sorted[index - 1]! > value) index--;
  sorted.splice(index, 0, value);
}

export interface ReplaySummary {
  policy: string;
  invocations: number;
  coldStarts: number;
  idleGbSeconds: number;
  /** Cold starts / invocations, per function that was invoked at least once, ascending. */
  appColdStartRates: number[];
}

/** Totals over the functions of one policy, and the per-app cold-start distribution the paper plots. */
export function summarizeReplays(policy: string, replays: readonly FunctionReplay[]): ReplaySummary {
  let invocations = 0;
  let coldStarts = 0;
  let idleGbSeconds = 0;
  const appColdStartRates: number[] = [];
  for (const replay of replays) {
    invocations += replay.invocations;
    coldStarts += replay.coldStarts;
    idleGbSeconds += replay.idleGbSeconds;
    if (replay.invocations > 0) appColdStartRates.push(replay.coldStarts / replay.invocations);
  }
  appColdStartRates.sort((a, b) => a - b);
  return { policy, invocations, coldStarts, idleGbSeconds, appColdStartRates };
}

/** The `p`-th percentile (0-100) of an ascending array, by linear interpolation; NaN when empty. */
export function percentileOf(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}
