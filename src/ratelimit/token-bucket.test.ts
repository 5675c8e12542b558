import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

/** A clock the test moves by hand. */
function fakeClock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let ms = start;
  return { now: () => ms, advance: (by) => (ms += by) };
}

/** How many single tokens the bucket grants in a row right now. */
function drain(bucket: TokenBucket): number {
  let granted = 0;
  while (bucket.tryConsume().ok) granted++;
  return granted;
}

describe('TokenBucket', () => {
  it('allows exactly its burst, then its rate', () => {
    const clock = fakeClock();
    // Firecracker terms: 10 tokens, refilled from empty in 1000 ms → 1 token per 100 ms.
    const bucket = new TokenBucket({ size: 10, refillTimeMs: 1000 }, clock.now);
    expect(drain(bucket)).toBe(10);
    for (let step = 0; step < 20; step++) {
      clock.advance(99);
      expect(bucket.tryConsume().ok).toBe(false);
      clock.advance(1);
      expect(bucket.tryConsume().ok).toBe(true);
      expect(bucket.tryConsume().ok).toBe(false);
    }
  });

  it('spends the one-time burst first, on top of the size, and never refills it', () => {
    const clock = fakeClock(1_000_000);
    const bucket = new TokenBucket({ size: 3, oneTimeBurst: 5, refillTimeMs: 300 }, clock.now);
    expect(bucket.available()).toBe(8);
    expect(drain(bucket)).toBe(8);
    clock.advance(60_000);
    expect(bucket.available()).toBe(3);
    expect(drain(bucket)).toBe(3);
  });

  it('keeps the regular budget full while the one-time burst lasts', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ size: 2, oneTimeBurst: 2, refillTimeMs: 1000 }, clock.now);
    expect(bucket.tryConsume(2).ok).toBe(true);
    expect(bucket.available()).toBe(2);
    // A request larger than the burst left takes the rest of it and the difference from the budget.
    expect(bucket.tryConsume().ok).toBe(true);
    expect(bucket.available()).toBe(1);
  });

  it('answers the exact time until enough tokens exist', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ size: 10, refillTimeMs: 1000 }, clock.now);
    drain(bucket);
    expect(bucket.tryConsume()).toEqual({ ok: false, retryAfterMs: 100 });
    clock.advance(30);
    expect(bucket.tryConsume()).toEqual({ ok: false, retryAfterMs: 70 });
    expect(bucket.tryConsume(5)).toEqual({ ok: false, retryAfterMs: 470 });
    clock.advance(70);
    expect(bucket.tryConsume()).toEqual({ ok: true });
  });

  it('refuses without taking anything, and never grants more than the size at once', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ size: 4, refillTimeMs: 400 }, clock.now);
    expect(bucket.tryConsume(3).ok).toBe(true);
    expect(bucket.tryConsume(2).ok).toBe(false);
    expect(bucket.available()).toBe(1);
    expect(bucket.tryConsume(5)).toEqual({ ok: false, retryAfterMs: Number.POSITIVE_INFINITY });
  });

  it('accumulates fractional refills', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ size: 10, refillTimeMs: 1000 }, clock.now);
    drain(bucket);
    for (let step = 0; step < 9; step++) {
      clock.advance(10);
      expect(bucket.tryConsume().ok).toBe(false);
    }
    clock.advance(10);
    expect(bucket.tryConsume().ok).toBe(true);
    // A rate that is no whole number of ms per token: 3 tokens per 1000 ms.
    const odd = new TokenBucket({ size: 3, refillTimeMs: 1000 }, clock.now);
    drain(odd);
    let granted = 0;
    for (let ms = 0; ms < 10_000; ms++) {
      clock.advance(1);
      if (odd.tryConsume().ok) granted++;
    }
    expect(granted).toBe(30);
  });

  it('refills at most to its size after a long pause', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ size: 5, refillTimeMs: 500 }, clock.now);
    drain(bucket);
    clock.advance(24 * 60 * 60 * 1000);
    expect(bucket.isFull()).toBe(true);
    expect(drain(bucket)).toBe(5);
  });

  it('earns nothing, and loses nothing, when the clock steps back', () => {
    const clock = fakeClock(10_000);
    const bucket = new TokenBucket({ size: 2, refillTimeMs: 1000 }, clock.now);
    expect(bucket.tryConsume().ok).toBe(true);
    clock.advance(-5000);
    expect(bucket.available()).toBe(1);
    clock.advance(500);
    expect(bucket.available()).toBe(2);
  });

  it('validates its parameters', () => {
    expect(() => new TokenBucket({ size: 0, refillTimeMs: 1000 })).toThrow();
    expect(() => new TokenBucket({ size: 1.5, refillTimeMs: 1000 })).toThrow();
    expect(() => new TokenBucket({ size: 1, refillTimeMs: 0 })).toThrow();
    expect(() => new TokenBucket({ size: 1, oneTimeBurst: -1, refillTimeMs: 10 })).toThrow();
  });
});
