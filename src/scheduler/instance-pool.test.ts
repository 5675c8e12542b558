import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_FUNCTION_CONFIG } from '../core/function.js';
import type { InstanceSpec, InvokeResult, Sandbox, SandboxInstance } from '../core/sandbox.js';
import type { KeepAliveDecision, KeepAlivePolicy } from '../keepalive/keep-alive-policy.js';
import { Scheduler } from './instance-pool.js';

// A unit test of the scheduler's bookkeeping: instances here are inert records (the real tiers are
// exercised by the integration tests under test/).
class InertInstance implements SandboxInstance {
  readonly tier = 'isolate' as const;
  dead = false;
  constructor(readonly id: string) {}
  invoke(): Promise<InvokeResult> {
    throw new Error('not used');
  }
  dispose(): Promise<void> {
    this.dead = true;
    return Promise.resolve();
  }
}

class InertSandbox implements Sandbox {
  readonly tier = 'isolate' as const;
  started = 0;
  startInstance(): SandboxInstance {
    this.started++;
    return new InertInstance(`i${this.started}`);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Expects each next call 150 ms after the last ended: unload now, pre-warm at +100 ms, keep until +400 ms. */
class ExpectingPolicy implements KeepAlivePolicy {
  readonly name = 'expecting';
  recordInvocation(): void {}
  recordCompletion(): void {}
  decide(_name: string, lastEndAt: number): KeepAliveDecision {
    return {
      prewarmMs: 100,
      keepAliveMs: 300,
      mode: 'histogram',
      prewarmAt: lastEndAt + 100,
      unloadAt: lastEndAt + 400,
    };
  }
  forget(): void {}
}

const spec: InstanceSpec = {
  functionName: 'fn',
  version: 1,
  codeSha256: 'abc',
  loadCode: () => Promise.resolve(''),
  config: DEFAULT_FUNCTION_CONFIG,
};

const schedulers: Scheduler[] = [];
afterEach(() => {
  for (const scheduler of schedulers.splice(0)) scheduler.close();
});

describe('Scheduler with a keep-alive policy', () => {
  it('unloads at once, pre-warms before the expected call, and unloads again after the window', async () => {
    const sandbox = new InertSandbox();
    const scheduler = new Scheduler(sandbox, {
      keepAliveMs: 50,
      maxQueueWaitMs: 100,
      maxQueuedPerFunction: 10,
      keepAlivePolicy: new ExpectingPolicy(),
    });
    schedulers.push(scheduler);
    const first = await scheduler.acquire(spec);
    expect(first.cold).toBe(true);
    first.release();
    expect(scheduler.list('fn')).toEqual([]);
    await expect
      .poll(() => scheduler.list('fn').map((i) => i.state), { timeout: 2000, interval: 10 })
      .toEqual(['idle']);
    expect(sandbox.started).toBe(2);
    const second = await scheduler.acquire(spec);
    expect(second.cold).toBe(false);
    second.release();
    // Unloaded again, re-warmed, and finally gone after the keep-alive window when no call comes.
    await sleep(600);
    expect(scheduler.list('fn')).toEqual([]);
    expect(scheduler.capacity.memoryUsed).toBe(0);
  });

  it('keeps the old fixed behaviour by default', async () => {
    const scheduler = new Scheduler(new InertSandbox(), {
      keepAliveMs: 100,
      maxQueueWaitMs: 100,
      maxQueuedPerFunction: 10,
    });
    schedulers.push(scheduler);
    (await scheduler.acquire(spec)).release();
    expect(scheduler.list('fn').map((i) => i.state)).toEqual(['idle']);
    await expect.poll(() => scheduler.list('fn').length, { timeout: 2000, interval: 10 }).toBe(0);
  });
});
