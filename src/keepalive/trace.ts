import { deriveSeed, Prng } from './prng.js';

/**
 * A synthetic, bursty, multi-function invocation trace shaped by the published distribution facts of the
 * Azure Functions 2019 trace ("Serverless in the Wild", Shahrad et al., USENIX ATC 2020, section 3). The
 * real trace is not used: only these facts, each cited where it is applied.
 *
 * - F1 (fig. 5a): 45% of apps are invoked at most once per hour on average, 81% at most once per minute,
 *   over 8 orders of magnitude. A log-normal daily rate through both points: P(rate <= 24/day) = 0.45 and
 *   P(rate <= 1440/day) = 0.81 give sigma = ln(60) / (z(0.81) - z(0.45)) = 4.094 / 1.0036 = 4.080 and
 *   mu = ln(24) + 0.1257 * sigma = 3.691 (median ~40 invocations a day).
 * - F2 (section 3.2): heavy skew, the most popular 18.6% of apps make 99.6% of invocations. The log-normal
 *   of F1 has it built in; the cap below trims only the very top, which every policy keeps warm anyway.
 * - F3 (fig. 3 and 8): 29% of apps have a timer trigger, and timer-only apps are mostly periodic (inter-
 *   arrival CV ~ 0); many other apps are bursty (CV > 1). Mix here: periodic 30%, Poisson 30%, bursty 40%.
 * - F4 (fig. 7): average execution times per function fit a log-normal with mu = -0.38, sigma = 2.36 (in
 *   seconds): half the functions run under ~0.7 s on average.
 * - F5 (fig. 9): half the apps allocate at most ~170 MB and 90% at most ~400 MB (a log-normal through those
 *   points: median 170 MB, sigma = ln(400/170) / 1.2816 = 0.668).
 */
export interface TraceOptions {
  /** Number of apps (one function each, as the paper's simulation treats an app). @default 300 */
  apps?: number;
  /** Simulated time. @default 604800000 (7 days) */
  durationMs?: number;
  /** PRNG seed: the same seed gives the same trace. @default 2019 */
  seed?: number;
  /**
   * Cap on an app's average rate, so a replay stays at a few million invocations. Apps this busy are warm
   * under every policy, so the cap moves the invocation-weighted cold-start rate, not the comparison.
   * @default 8640 (one every 10 s)
   */
  maxPerDay?: number;
}

export type TracePattern = 'periodic' | 'poisson' | 'bursty';

/** One app of the trace. `startsMs` is sorted; `durationsMs[i]` is the execution time of call `i`. */
export interface TraceApp {
  name: string;
  pattern: TracePattern;
  memoryMb: number;
  /** The average rate drawn from F1 (before the cap and, for timers, before snapping to a period). */
  drawnPerDay: number;
  /** Timer period, for periodic apps. */
  periodMs?: number;
  startsMs: Float64Array;
  durationsMs: Float64Array;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
// F1
const RATE_MU = 3.691;
const RATE_SIGMA = 4.08;
// F4
const EXEC_MU = -0.38;
const EXEC_SIGMA = 2.36;
// Azure's maximum function timeout on the consumption plan (10 min) bounds any execution.
const MAX_EXEC_MS = 600_000;
// F5
const MEMORY_MEDIAN_MB = 170;
const MEMORY_SIGMA = 0.668;
// Cron schedules people write; a timer app gets the one closest to its drawn rate.
const TIMER_PERIODS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440];
// Timers fire a little late (scheduling, cold host): up to this much.
const TIMER_JITTER_MS = 3_000;

/** Generates the trace lazily, one app at a time, so a replay holds one app's calls in memory. */
export function* generateTrace(options: TraceOptions = {}): Generator<TraceApp> {
  const apps = options.apps ?? 300;
  for (let index = 0; index < apps; index++) yield generateApp(index, options);
}

/** App `index` of the trace; independent of the other apps (its own PRNG stream). */
export function generateApp(index: number, options: TraceOptions = {}): TraceApp {
  const durationMs = options.durationMs ?? 7 * DAY_MS;
  const random = new Prng(deriveSeed(options.seed ?? 2019, index));
  const drawnPerDay = random.logNormal(RATE_MU, RATE_SIGMA);
  const perDay = Math.min(drawnPerDay, options.maxPerDay ?? 8640);
  const memoryMb = Math.round(
    Math.min(1536, Math.max(32, random.logNormal(Math.log(MEMORY_MEDIAN_MB), MEMORY_SIGMA))),
  );
  const meanExecMs = Math.min(MAX_EXEC_MS, 1000 * random.logNormal(EXEC_MU, EXEC_SIGMA));
  // Timers fire at most once a minute and, in practice, at least once a day: rarer apps are sporadic.
  const pattern: TracePattern =
    perDay < 1 ? 'poisson' : random.pick<TracePattern>(['periodic', 'poisson', 'bursty'], [0.3, 0.3, 0.4]);
  const name = `app-${String(index).padStart(4, '0')}`;
  const starts: number[] = [];
  let periodMs: number | undefined;
  switch (pattern) {
    case 'periodic':
      periodMs = nearestPeriodMs(DAY_MS / perDay);
      periodicStarts(random, periodMs, durationMs, starts);
      break;
    case 'poisson':
      poissonStarts(random, DAY_MS / perDay, durationMs, starts);
      break;
    case 'bursty':
      burstyStarts(random, perDay, durationMs, starts);
      break;
  }
  const durationsMs = new Float64Array(starts.length);
  // Calls of one function vary around its mean (sigma 0.5, mean-preserving).
  for (let i = 0; i < starts.length; i++) {
    durationsMs[i] = Math.min(MAX_EXEC_MS, meanExecMs * random.logNormal(-0.125, 0.5));
  }
  const app: TraceApp = {
    name,
    pattern,
    memoryMb,
    drawnPerDay,
    startsMs: Float64Array.from(starts),
    durationsMs,
  };
  if (periodMs !== undefined) app.periodMs = periodMs;
  return app;
}

function nearestPeriodMs(meanGapMs: number): number {
  let best = TIMER_PERIODS_MIN[0]!;
  for (const minutes of TIMER_PERIODS_MIN) {
    if (
      Math.abs(Math.log(minutes * MINUTE_MS) - Math.log(meanGapMs)) <
      Math.abs(Math.log(best * MINUTE_MS) - Math.log(meanGapMs))
    ) {
      best = minutes;
    }
  }
  return best * MINUTE_MS;
}

function periodicStarts(random: Prng, periodMs: number, durationMs: number, out: number[]): void {
  for (let tick = random.uniform(0, periodMs); tick < durationMs; tick += periodMs) {
    const firedAt = tick + random.uniform(0, TIMER_JITTER_MS);
    if (firedAt < durationMs) out.push(firedAt);
  }
}

function poissonStarts(random: Prng, meanGapMs: number, durationMs: number, out: number[]): void {
  for (let t = random.exponential(meanGapMs); t < durationMs; t += random.exponential(meanGapMs)) out.push(t);
}

/**
 * ON/OFF traffic: bursts of a few calls seconds apart, separated by long, heavy-tailed quiet gaps, with
 * the same average rate as drawn. Inter-arrival CV well above 1 (F3's bursty apps).
 */
function burstyStarts(random: Prng, perDay: number, durationMs: number, out: number[]): void {
  const meanGapMs = DAY_MS / perDay;
  const callsPerBurst = random.uniform(2, 20);
  // Calls within a burst are 1-30 s apart, but never denser than the average rate allows.
  const inBurstGapMs = Math.min(random.uniform(1_000, 30_000), meanGapMs / 2);
  const quietMeanMs = Math.max(meanGapMs, callsPerBurst * meanGapMs - (callsPerBurst - 1) * inBurstGapMs);
  // Log-normal quiet gaps (sigma 1) with the mean above: more spread than exponential.
  const quietMu = Math.log(quietMeanMs) - 0.5;
  let t = random.uniform(0, quietMeanMs);
  while (t < durationMs) {
    const calls = random.geometric(callsPerBurst);
    for (let call = 0; call < calls && t < durationMs; call++) {
      out.push(t);
      t += random.exponential(inBurstGapMs);
    }
    t += random.logNormal(quietMu, 1);
  }
}
