import { describe, expect, it } from 'vitest';
import { FixedKeepAlivePolicy } from './fixed-policy.js';
import { HybridKeepAlivePolicy, hybridWindows } from './hybrid-policy.js';
import { IdleHistogram } from './idle-histogram.js';

const SEC = 1000;
const MIN = 60 * SEC;

/** Feeds a policy calls at `starts` that each run `durationMs`, one after the other. */
function replay(policy: HybridKeepAlivePolicy, name: string, starts: number[], durationMs: number): void {
  for (const start of starts) {
    policy.recordInvocation(name, start);
    policy.recordCompletion(name, start + durationMs);
  }
}

describe('HybridKeepAlivePolicy', () => {
  it('pre-warms a 10-minute timer shortly before it fires and keeps it briefly', () => {
    const policy = new HybridKeepAlivePolicy();
    // Fires every 10 min, up to 3 s late; runs 1 s. Idle times fall in 9.93-10.03 min.
    const starts = Array.from({ length: 30 }, (_, k) => k * 10 * MIN + ((k * 7919) % 3000));
    replay(policy, 'timer', starts, SEC);
    const windows = policy.windows('timer');
    expect(windows.mode).toBe('histogram');
    // Head bin 9 min, minus the 10% margin.
    expect(windows.prewarmMs).toBe(0.9 * 9 * MIN);
    // Tail bin ends at 10 or 11 min; +10% margin; counted after the pre-warm.
    expect(windows.prewarmMs + windows.keepAliveMs).toBeGreaterThanOrEqual(11 * MIN);
    expect(windows.prewarmMs + windows.keepAliveMs).toBeLessThanOrEqual(12.1 * MIN);
    expect(windows.keepAliveMs).toBeLessThan(5 * MIN);

    const lastEnd = starts.at(-1)! + SEC;
    const decision = policy.decide('timer', lastEnd);
    expect(decision.prewarmAt).toBe(lastEnd + windows.prewarmMs);
    expect(decision.unloadAt).toBe(lastEnd + windows.prewarmMs + windows.keepAliveMs);
  });

  it('keeps a frequently called function briefly and never unloads it early', () => {
    const policy = new HybridKeepAlivePolicy();
    replay(
      policy,
      'busy',
      Array.from({ length: 100 }, (_, k) => k * 5 * SEC),
      200,
    );
    expect(policy.windows('busy')).toEqual({
      prewarmMs: 0,
      keepAliveMs: 1.1 * MIN,
      mode: 'histogram',
      reason: 'histogram',
    });
    expect(policy.decide('busy', 1000)).toEqual({
      prewarmMs: 0,
      keepAliveMs: 1.1 * MIN,
      mode: 'histogram',
      unloadAt: 1000 + 1.1 * MIN,
    });
  });

  it('falls back to the fixed TTL until it has seen enough idle times', () => {
    const policy = new HybridKeepAlivePolicy({ fallbackKeepAliveMs: 10 * MIN });
    replay(policy, 'new', [0, 10 * MIN, 20 * MIN], SEC); // 2 idle times < minSamples 5
    expect(policy.windows('new')).toMatchObject({
      prewarmMs: 0,
      keepAliveMs: 10 * MIN,
      reason: 'few-samples',
    });
    expect(policy.decide('new', 0).prewarmAt).toBeUndefined();
  });

  it('falls back when idle times are spread flat over the range', () => {
    const histogram = new IdleHistogram();
    for (let minute = 0; minute < 240; minute++) histogram.record(minute * MIN);
    expect(hybridWindows(histogram)).toMatchObject({ mode: 'fixed', reason: 'flat' });
  });

  it('falls back when most idle times are longer than the range', () => {
    const histogram = new IdleHistogram();
    for (let i = 0; i < 10; i++) histogram.record(6 * 60 * MIN);
    histogram.record(MIN);
    expect(hybridWindows(histogram, { fallbackKeepAliveMs: 20 * MIN })).toEqual({
      prewarmMs: 0,
      keepAliveMs: 20 * MIN,
      mode: 'fixed',
      reason: 'out-of-range',
    });
  });

  it('learns no idle time from calls that overlap', () => {
    const policy = new HybridKeepAlivePolicy({ minSamples: 1 });
    policy.recordInvocation('f', 0);
    policy.recordInvocation('f', 10 * MIN); // the first still runs
    policy.recordCompletion('f', 11 * MIN);
    policy.recordCompletion('f', 12 * MIN);
    policy.recordInvocation('f', 12 * MIN + 5 * SEC);
    // One sample, 5 s: bin 0.
    expect(policy.windows('f')).toMatchObject({ prewarmMs: 0, keepAliveMs: 1.1 * MIN, mode: 'histogram' });
    policy.forget('f');
    expect(policy.windows('f').reason).toBe('few-samples');
  });
});

describe('FixedKeepAlivePolicy', () => {
  it('keeps every instance for its TTL', () => {
    const policy = new FixedKeepAlivePolicy(10 * MIN);
    expect(policy.name).toBe('fixed-10m');
    expect(policy.decide('any', 5)).toEqual({
      prewarmMs: 0,
      keepAliveMs: 10 * MIN,
      mode: 'fixed',
      unloadAt: 5 + 10 * MIN,
    });
  });
});
