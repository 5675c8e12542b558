import { decisionAt, type KeepAliveDecision, type KeepAlivePolicy } from './keep-alive-policy.js';

/**
 * The state of the practice (AWS Lambda ~10 min, Azure Functions 20 min in 2019): every function keeps its
 * instance for the same time after each invocation and is never pre-warmed. Learns nothing.
 */
export class FixedKeepAlivePolicy implements KeepAlivePolicy {
  readonly name: string;

  /** @param keepAliveMs the TTL after the last invocation ends. */
  constructor(private readonly keepAliveMs: number) {
    if (!(keepAliveMs >= 0)) throw new RangeError(`keepAliveMs must be >= 0, got ${keepAliveMs}`);
    this.name = `fixed-${formatMinutes(keepAliveMs)}`;
  }

  recordInvocation(): void {}

  recordCompletion(): void {}

  decide(_functionName: string, lastEndAt: number): KeepAliveDecision {
    return decisionAt({ prewarmMs: 0, keepAliveMs: this.keepAliveMs, mode: 'fixed' }, lastEndAt);
  }

  forget(): void {}
}

/** `600000` → `10m`; sub-minute TTLs keep their seconds (`30s`). */
export function formatMinutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}
