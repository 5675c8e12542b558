import type { RateLimitPolicy } from '../core/function.js';
import { TokenBucket, type ConsumeResult, type TokenBucketParams } from './token-bucket.js';

/** Bucket keys: one namespace per kind of caller, so a function and an API key never share a budget. */
export const rateLimitKey = {
  /** All versions and aliases of a function share its budget. */
  function: (functionName: string) => `fn:${functionName}`,
  /** Per API key (issue 8) or Lambda access key id. */
  apiKey: (keyId: string) => `key:${keyId}`,
};

/**
 * A setting in requests per second → Firecracker's terms: the bucket holds `burst` tokens and refills
 * from empty in `burst / rate` seconds, so it earns `rate` tokens a second.
 */
export function bucketParamsOf(policy: RateLimitPolicy): TokenBucketParams {
  return {
    size: policy.burst,
    oneTimeBurst: policy.initialBurst,
    refillTimeMs: (policy.burst / policy.ratePerSecond) * 1000,
  };
}

export interface RateLimiterOptions {
  /** Buckets kept at most; past it, full buckets go first, then the least recently used. @default 10000 */
  maxBuckets?: number;
  /** The clock in ms. @default Date.now */
  now?: () => number;
}

/**
 * Token buckets by key, created on first use with the key's parameters and replaced (full again) when
 * those change. Memory stays bounded without timers: when the map reaches `maxBuckets`, buckets that are
 * full again go first (a new bucket would allow the same, except that it grants the one-time burst
 * again), then the least recently used ones.
 */
export class RateLimiter {
  /** Map order is use order: a used bucket is moved to the end, so the first entries are the LRU ones. */
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly maxBuckets: number;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions = {}) {
    this.maxBuckets = Math.max(1, options.maxBuckets ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** Takes `count` tokens from `key`'s bucket (created, or replaced, with `params`). */
  tryConsume(key: string, params: TokenBucketParams, count = 1): ConsumeResult {
    let bucket = this.buckets.get(key);
    if (bucket !== undefined) {
      this.buckets.delete(key);
      if (!sameParams(bucket.params, params)) bucket = undefined;
    }
    if (bucket === undefined) {
      this.makeRoom();
      bucket = new TokenBucket(params, this.now);
    }
    this.buckets.set(key, bucket);
    return bucket.tryConsume(count);
  }

  /** Drops `key`'s bucket (its limit was removed). */
  forget(key: string): void {
    this.buckets.delete(key);
  }

  /** Buckets held now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private makeRoom(): void {
    if (this.buckets.size < this.maxBuckets) return;
    for (const [key, bucket] of this.buckets) if (bucket.isFull()) this.buckets.delete(key);
    // Evict down to 90% so that a map of busy buckets is not swept again on every new key.
    const target = Math.floor(this.maxBuckets * 0.9);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}

function sameParams(a: TokenBucketParams, b: TokenBucketParams): boolean {
  return a.size === b.size && a.oneTimeBurst === b.oneTimeBurst && a.refillTimeMs === b.refillTimeMs;
}
