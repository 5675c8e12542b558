import type { InstanceSpec, InvokeResult, Sandbox, SandboxInstance, SandboxTier } from '../core/sandbox.js';

/** A tier this host could not start (it refuses to run code unconfined), with the reason. */
export type TierOrReason = Sandbox | { unavailable: string };

/**
 * Routes each instance to its tier: container-image functions to the container tier, functions with a Lambda
 * `runtime` (zips) to the process tier, JavaScript bundles to the isolate tier. When a tier could not start on
 * this host, its functions fail with that reason instead of running elsewhere.
 */
export class TieredSandbox implements Sandbox {
  readonly tier: SandboxTier = 'isolate';

  constructor(
    private readonly isolate: Sandbox,
    private readonly process: TierOrReason,
    private readonly container: TierOrReason = { unavailable: 'the container tier is not configured' },
  ) {}

  async prepare(spec: InstanceSpec): Promise<void> {
    if (spec.config.image === undefined && spec.runtime === undefined) await this.isolate.prepare?.(spec);
  }

  startInstance(spec: InstanceSpec): SandboxInstance {
    if (spec.config.image !== undefined) return start(this.container, 'container', spec);
    if (spec.runtime === undefined) return this.isolate.startInstance(spec);
    return start(this.process, 'process', spec);
  }

  async close(): Promise<void> {
    const running = [this.isolate, this.process, this.container].filter(
      (tier): tier is Sandbox => !('unavailable' in tier),
    );
    await Promise.all(running.map((tier) => tier.close()));
  }
}

function start(tier: TierOrReason, name: SandboxTier, spec: InstanceSpec): SandboxInstance {
  return 'unavailable' in tier ? new UnavailableInstance(name, tier.unavailable) : tier.startInstance(spec);
}

/** An instance of a tier this host cannot run: every invocation fails with the reason. */
class UnavailableInstance implements SandboxInstance {
  readonly id = 'unavailable';
  readonly dead = true;

  constructor(
    readonly tier: SandboxTier,
    private readonly reason: string,
  ) {}

  invoke(): Promise<InvokeResult> {
    return Promise.resolve({
      outcome: 'crashed',
      error: { type: 'SandboxUnavailable', message: this.reason, stack: undefined },
      logs: [],
      logBytes: 0,
      logTruncated: false,
      durationMs: 0,
      initDurationMs: 0,
    });
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}
