import { z } from 'zod';

/**
 * A token bucket's parameters, in Firecracker's terms (its `TokenBucket { size, one_time_burst,
 * refill_time }`): `size` tokens at most, refilled from empty to full in `refillTimeMs`, plus
 * `oneTimeBurst` extra tokens that are spent first and never come back.
 */
export const tokenBucketParamsSchema = z.strictObject({
  /** The bucket's capacity: the longest burst once the one-time burst is spent. */
  size: z.number().int().min(1),
  /** Extra tokens available once, at creation, before the regular budget. */
  oneTimeBurst: z.number().int().min(0).default(0),
  /** Milliseconds to refill `size` tokens from empty; the rate is `size / refillTimeMs`. */
  refillTimeMs: z.number().positive(),
});

export type TokenBucketParams = z.output<typeof tokenBucketParamsSchema>;

/** What consuming tokens did: an expected outcome, not an exception. */
export type ConsumeResult = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * Refills add fractions of a token (0.1 + 0.1 + ... in binary floating point falls just short of 1);
 * a deficit smaller than this counts as none, so ten 10 ms steps earn what one 100 ms step earns.
 */
const TOKEN_EPSILON = 1e-9;

/**
 * Firecracker's token bucket, computed lazily: no timer runs; each call first adds the tokens the
 * elapsed time earned (proportionally, so fractions accumulate), capped at `size`. Pure apart from the
 * injected clock, so tests drive time by hand.
 */
export class TokenBucket {
  readonly params: TokenBucketParams;
  private tokens: number;
  private oneTimeBurst: number;
  private lastRefillMs: number;

  /**
   * @param params validated with {@link tokenBucketParamsSchema} (throws a ZodError on nonsense).
   * @param now the clock in ms. @default Date.now
   */
  constructor(
    params: z.input<typeof tokenBucketParamsSchema>,
    private readonly now: () => number = Date.now,
  ) {
    this.params = tokenBucketParamsSchema.parse(params);
    // As in Firecracker, a new bucket starts full: the first `size` (+ one-time burst) requests pass at once.
    this.tokens = this.params.size;
    this.oneTimeBurst = this.params.oneTimeBurst;
    this.lastRefillMs = now();
  }

  /**
   * Takes `count` tokens, or none: the one-time burst first, then the regular budget. Refused: the exact
   * time until enough tokens exist (a request larger than everything the bucket can ever hold is never
   * granted; its `retryAfterMs` is Infinity).
   */
  tryConsume(count = 1): ConsumeResult {
    this.refill();
    const fromBurst = Math.min(count, this.oneTimeBurst);
    const needed = count - fromBurst;
    if (needed <= this.tokens + TOKEN_EPSILON) {
      this.oneTimeBurst -= fromBurst;
      this.tokens = Math.max(0, this.tokens - needed);
      return { ok: true };
    }
    if (needed > this.params.size) return { ok: false, retryAfterMs: Number.POSITIVE_INFINITY };
    return {
      ok: false,
      retryAfterMs: ((needed - this.tokens) * this.params.refillTimeMs) / this.params.size,
    };
  }

  /** The regular budget is full again: the bucket has not been used for at least one refill time. */
  isFull(): boolean {
    this.refill();
    return this.tokens + TOKEN_EPSILON >= this.params.size;
  }

  /** Tokens available right now (regular budget plus what is left of the one-time burst). */
  available(): number {
    this.refill();
    return this.tokens + this.oneTimeBurst;
  }

  private refill(): void {
    const nowMs = this.now();
    // A clock that steps back earns nothing (and must not take tokens away).
    const elapsedMs = Math.max(0, nowMs - this.lastRefillMs);
    this.lastRefillMs = nowMs;
    this.tokens = Math.min(
      this.params.size,
      this.tokens + (elapsedMs * this.params.size) / this.params.refillTimeMs,
    );
  }
}
