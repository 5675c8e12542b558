import type { ApiKeyScope, Principal } from '../core/api-key.js';
import { StratoError } from '../core/strato-error.js';
import { KeyService } from '../auth/key-service.js';
import { bucketParamsOf, rateLimitKey, RateLimiter } from '../ratelimit/rate-limiter.js';

/**
 * The one check every authenticated request passes, on the control plane and the data plane alike: a
 * valid key (401), the scope the route needs (403), and the key's own rate limit (429), in that order.
 */
export class Gatekeeper {
  constructor(
    readonly keys: KeyService,
    private readonly limiter: RateLimiter = new RateLimiter(),
  ) {}

  async admit(authorization: string | undefined, scope: ApiKeyScope): Promise<Principal> {
    const principal = await this.keys.authenticate(authorization);
    KeyService.authorize(principal, scope);
    this.checkRateLimit(principal);
    return principal;
  }

  private checkRateLimit(principal: Principal): void {
    const policy = principal.rateLimit;
    if (policy === null) return;
    const consumed = this.limiter.tryConsume(rateLimitKey.apiKey(principal.keyId), bucketParamsOf(policy));
    if (consumed.ok) return;
    const retryAfterSeconds = Math.max(1, Math.ceil(consumed.retryAfterMs / 1000));
    throw new StratoError(
      'RATE_LIMITED',
      `API key ${principal.keyId} is over its rate limit of ${policy.ratePerSecond}/s (burst ${policy.burst})`,
      { details: { retryAfterSeconds, scope: 'apiKey' } },
    );
  }
}
