import { describe, expect, it } from 'vitest';
import { FixedKeepAlivePolicy } from './fixed-policy.js';
import { decisionAt, type KeepAlivePolicy } from './keep-alive-policy.js';
import { percentileOf, replayFunction, summarizeReplays } from './simulator.js';

const MIN = 60_000;

/** Starts at 0, 5, 20 and 21 min; each runs 1 min; 1 GB of memory. */
const trace = {
  name: 'f',
  memoryMb: 1024,
  startsMs: Float64Array.from([0, 5 * MIN, 20 * MIN, 21 * MIN]),
  durationsMs: Float64Array.from([MIN, MIN, MIN, MIN]),
};

describe('replayFunction', () => {
  it('counts cold starts and idle memory under a fixed TTL', () => {
    // 0: cold, idle from 1 (loaded until 11). 5: warm after 4 min idle, loaded 6-16.
    // 20: cold (unloaded at 16, 10 min idle counted). 21: warm (the 20-min call ended at 21).
    // Idle 22-32 until the end at 40 min: 10 min. Total 24 min x 1 GB.
    const replay = replayFunction(new FixedKeepAlivePolicy(10 * MIN), trace, 40 * MIN);
    expect(replay).toEqual({ name: 'f', invocations: 4, coldStarts: 2, idleGbSeconds: 24 * 60 });
  });

  it('counts a pre-warmed instance only while it is loaded', () => {
    // Unload at once, reload 4 min after each end, keep 2 min.
    const prewarm: KeepAlivePolicy = {
      name: 'prewarm-4m',
      recordInvocation() {},
      recordCompletion() {},
      decide: (_name, lastEndAt) =>
        decisionAt({ prewarmMs: 4 * MIN, keepAliveMs: 2 * MIN, mode: 'histogram' }, lastEndAt),
      forget() {},
    };
    // 0: cold; loaded 5-7. 5: warm at the reload, no idle; loaded 10-12. 20: cold, 2 min idle; loaded
    // 25-27. 21: cold (unloaded at the end at 21, reload only at 25); loaded 26-28, 2 min idle by 40.
    const replay = replayFunction(prewarm, trace, 40 * MIN);
    expect(replay).toEqual({ name: 'f', invocations: 4, coldStarts: 3, idleGbSeconds: 4 * 60 });
  });

  it('serves calls that overlap a running one warm and counts no idle time while busy', () => {
    const overlapping = {
      name: 'g',
      memoryMb: 512,
      startsMs: Float64Array.from([0, 30_000, 50_000]),
      durationsMs: Float64Array.from([60_000, 60_000, 1_000]),
    };
    // Busy 0-90 s, then idle until the end at 100 s: 10 s x 0.5 GB.
    const replay = replayFunction(new FixedKeepAlivePolicy(10 * MIN), overlapping, 100_000);
    expect(replay).toEqual({ name: 'g', invocations: 3, coldStarts: 1, idleGbSeconds: 5 });
  });

  it('summarizes per-app cold-start rates', () => {
    const summary = summarizeReplays('p', [
      { name: 'a', invocations: 4, coldStarts: 1, idleGbSeconds: 1 },
      { name: 'b', invocations: 0, coldStarts: 0, idleGbSeconds: 0 },
      { name: 'c', invocations: 2, coldStarts: 2, idleGbSeconds: 2 },
    ]);
    expect(summary).toEqual({
      policy: 'p',
      invocations: 6,
      coldStarts: 3,
      idleGbSeconds: 3,
      appColdStartRates: [0.25, 1],
    });
    expect(percentileOf([0, 1, 2, 3, 4], 75)).toBe(3);
    expect(percentileOf([0, 1], 75)).toBe(0.75);
  });
});
