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

describe('Scheduler with instanceConcurrency', () => {
  const shared: InstanceSpec = {
    ...spec,
    functionName: 'shared',
    config: { ...DEFAULT_FUNCTION_CONFIG, concurrency: 25, instanceConcurrency: 10 },
  };
  const options = { keepAliveMs: 60_000, maxQueueWaitMs: 50, maxQueuedPerFunction: 0 };

  it('packs invocations into ceil(in-flight / slots) instances and counts memory per instance', async () => {
    const sandbox = new InertSandbox();
    const scheduler = new Scheduler(sandbox, options);
    schedulers.push(scheduler);
    const leases = await Promise.all(Array.from({ length: 25 }, () => scheduler.acquire(shared)));
    expect(sandbox.started).toBe(3);
    expect(leases.filter((lease) => lease.cold)).toHaveLength(3);
    expect(
      scheduler
        .list('shared')
        .map((i) => i.inFlight)
        .sort((a, b) => a - b),
    ).toEqual([5, 10, 10]);
    expect(scheduler.capacity.memoryUsed).toBe(3 * 128);
    expect(scheduler.busyCount()).toBe(25);
    // concurrency counts invocations: the 26th is refused although an instance has free slots.
    await expect(scheduler.acquire(shared)).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    for (const lease of leases) lease.release();
    expect(scheduler.list('shared').map((i) => i.state)).toEqual(['idle', 'idle', 'idle']);
    expect(scheduler.capacity.memoryUsed).toBe(3 * 1.5);
  });

  it('reuses a busy instance with a free slot before an idle one, and idles only when the last slot frees', async () => {
    const sandbox = new InertSandbox();
    const scheduler = new Scheduler(sandbox, options);
    schedulers.push(scheduler);
    const [a, b] = await Promise.all([scheduler.acquire(shared), scheduler.acquire(shared)]);
    expect(sandbox.started).toBe(1);
    a.release();
    expect(scheduler.list('shared').map((i) => [i.state, i.inFlight])).toEqual([['starting', 1]]);
    b.release();
    expect(scheduler.list('shared').map((i) => [i.state, i.inFlight])).toEqual([['idle', 0]]);
    const c = await scheduler.acquire(shared);
    const d = await scheduler.acquire(shared);
    expect(c.cold || d.cold).toBe(false);
    expect(sandbox.started).toBe(1);
    expect(scheduler.list('shared').map((i) => [i.state, i.inFlight])).toEqual([['busy', 2]]);
    c.release();
    d.release();
  });

  it('gives a dead instance no new invocations', async () => {
    const sandbox = new InertSandbox();
    const scheduler = new Scheduler(sandbox, options);
    schedulers.push(scheduler);
    const first = await scheduler.acquire(shared);
    (first.instance as InertInstance).dead = true;
    const second = await scheduler.acquire(shared);
    expect(second.instance).not.toBe(first.instance);
    first.release();
    second.release();
    expect(scheduler.list('shared')).toHaveLength(1);
  });

  it('keeps one invocation per instance off the isolate tier', async () => {
    const sandbox = new InertSandbox();
    const scheduler = new Scheduler(sandbox, options);
    schedulers.push(scheduler);
    sandbox.startInstance = () => {
      sandbox.started++;
      return Object.assign(new InertInstance(`p${sandbox.started}`), { tier: 'process' as const });
    };
    const leases = await Promise.all(Array.from({ length: 3 }, () => scheduler.acquire(shared)));
    expect(sandbox.started).toBe(3);
    for (const lease of leases) lease.release();
  });
});
