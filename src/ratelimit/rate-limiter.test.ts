import { describe, expect, it } from 'vitest';
import { bucketParamsOf, RateLimiter, rateLimitKey } from './rate-limiter.js';

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let ms = 0;
  return { now: () => ms, advance: (by) => (ms += by) };
}

const tenPerSecond = { size: 10, oneTimeBurst: 0, refillTimeMs: 1000 };

describe('bucketParamsOf', () => {
  it('turns requests per second into Firecracker terms', () => {
    expect(bucketParamsOf({ ratePerSecond: 2, burst: 3, initialBurst: 1 })).toEqual({
      size: 3,
      oneTimeBurst: 1,
      refillTimeMs: 1500,
    });
  });
});

describe('RateLimiter', () => {
  it('keeps one bucket per key, created on first use', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    const a = rateLimitKey.function('a');
    const b = rateLimitKey.apiKey('a');
    expect(a).not.toBe(b);
    for (let i = 0; i < 10; i++) expect(limiter.tryConsume(a, tenPerSecond).ok).toBe(true);
    expect(limiter.tryConsume(a, tenPerSecond)).toEqual({ ok: false, retryAfterMs: 100 });
    expect(limiter.tryConsume(b, tenPerSecond).ok).toBe(true);
    expect(limiter.size).toBe(2);
  });

  it('replaces a bucket whose parameters changed, and forgets one on request', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ now: clock.now });
    const key = rateLimitKey.function('f');
    const one = { size: 1, oneTimeBurst: 0, refillTimeMs: 1000 };
    expect(limiter.tryConsume(key, one).ok).toBe(true);
    expect(limiter.tryConsume(key, one).ok).toBe(false);
    expect(limiter.tryConsume(key, { ...one, size: 2 }).ok).toBe(true);
    limiter.forget(key);
    expect(limiter.size).toBe(0);
  });

  it('stays bounded: full buckets go first, then the least recently used', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ maxBuckets: 10, now: clock.now });
    const one = { size: 1, oneTimeBurst: 0, refillTimeMs: 1000 };
    for (let i = 0; i < 10; i++) limiter.tryConsume(`k${i}`, one);
    clock.advance(1000);
    // k0 is used again (empty), the others are full again by now.
    expect(limiter.tryConsume('k0', one).ok).toBe(true);
    limiter.tryConsume('new', one);
    expect(limiter.size).toBe(2);
    expect(limiter.tryConsume('k0', one).ok).toBe(false);

    // All busy: the least recently used go, down to 90%.
    for (let i = 0; i < 20; i++) limiter.tryConsume(`busy${i}`, one);
    expect(limiter.size).toBeLessThanOrEqual(10);
    expect(limiter.tryConsume('busy19', one).ok).toBe(false);
  });
});
