import type { InstanceSpec, InvokeResult, Sandbox, SandboxInstance, SandboxTier } from '../core/sandbox.js';

/**
 * Routes each instance to its tier: functions with a Lambda `runtime` (custom-runtime zips) to the process
 * tier, JavaScript bundles to the isolate tier. When the process tier could not start on this host (it
 * refuses to run code unconfined), its functions fail with that reason instead of running elsewhere.
 */
export class TieredSandbox implements Sandbox {
  readonly tier: SandboxTier = 'isolate';

  constructor(
    private readonly isolate: Sandbox,
    private readonly process: Sandbox | { unavailable: string },
  ) {}

  startInstance(spec: InstanceSpec): SandboxInstance {
    if (spec.runtime === undefined) return this.isolate.startInstance(spec);
    if ('unavailable' in this.process) return new UnavailableInstance(this.process.unavailable);
    return this.process.startInstance(spec);
  }

  async close(): Promise<void> {
    await Promise.all([
      this.isolate.close(),
      'unavailable' in this.process ? undefined : this.process.close(),
    ]);
  }
}

/** An instance of a tier this host cannot run: every invocation fails with the reason. */
class UnavailableInstance implements SandboxInstance {
  readonly id = 'unavailable';
  readonly tier: SandboxTier = 'process';
  readonly dead = true;

  constructor(private readonly reason: string) {}

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
