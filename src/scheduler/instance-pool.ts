import type { InstanceSpec, Sandbox, SandboxInstance } from '../core/sandbox.js';
import { StratoError } from '../core/strato-error.js';

export interface SchedulerOptions {
  /** Idle instances are disposed after this long. @default 600000 (10 min) */
  keepAliveMs: number;
  /** How long a request waits for a free slot when the function is at its concurrency. @default 10000 */
  maxQueueWaitMs: number;
  /** Requests allowed to wait per function; more are refused at once. @default 1000 */
  maxQueuedPerFunction: number;
}

export type InstanceState = 'starting' | 'idle' | 'busy';

export interface InstanceInfo {
  id: string;
  functionName: string;
  version: number;
  tier: string;
  state: InstanceState;
  createdAt: number;
  lastUsedAt: number;
  invocations: number;
}

/** An instance lent to one invocation. Release it exactly once. */
export interface Lease {
  instance: SandboxInstance;
  /** The instance was started for this invocation. */
  cold: boolean;
  release(): void;
}

interface PooledInstance {
  instance: SandboxInstance;
  spec: InstanceSpec;
  state: InstanceState;
  createdAt: number;
  lastUsedAt: number;
  invocations: number;
}

interface Waiter {
  spec: InstanceSpec;
  resolve: (lease: Lease) => void;
  reject: (error: StratoError) => void;
  timer: NodeJS.Timeout;
}

interface FunctionPool {
  busy: number;
  instances: Set<PooledInstance>;
  /** Idle instances per version, most recently used last: the warmest is popped first. */
  idle: Map<string, PooledInstance[]>;
  waiters: Waiter[];
}

const versionKey = (spec: InstanceSpec) => `${spec.codeSha256}:${spec.version}`;

/**
 * Per-function pools of sandbox instances: reuse a warm idle instance of the same version, start a new
 * one while the function is under its concurrency, otherwise wait (bounded) for one to free up.
 * Idle instances are reaped after the keep-alive, so an idle function holds no memory.
 */
export class Scheduler {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly reaper: NodeJS.Timeout;
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly sandbox: Sandbox,
    private readonly options: SchedulerOptions,
  ) {
    const interval = Math.max(25, Math.min(10_000, Math.floor(options.keepAliveMs / 2)));
    this.reaper = setInterval(() => this.reapIdle(), interval);
    this.reaper.unref();
  }

  acquire(spec: InstanceSpec): Promise<Lease> {
    const pool = this.pool(spec.functionName);
    const lease = this.tryAcquire(pool, spec);
    if (lease !== undefined) return Promise.resolve(lease);
    if (pool.waiters.length >= this.options.maxQueuedPerFunction) {
      return Promise.reject(tooManyRequests(spec, this.options.maxQueueWaitMs));
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        spec,
        resolve,
        reject,
        timer: setTimeout(() => {
          pool.waiters.splice(pool.waiters.indexOf(waiter), 1);
          reject(tooManyRequests(spec, this.options.maxQueueWaitMs));
        }, this.options.maxQueueWaitMs),
      };
      pool.waiters.push(waiter);
    });
  }

  /** Instances of a function (or of all functions), for `GET .../instances` and `strato ps`. */
  list(functionName?: string): InstanceInfo[] {
    const out: InstanceInfo[] = [];
    for (const [name, pool] of this.pools) {
      if (functionName !== undefined && name !== functionName) continue;
      for (const pooled of pool.instances) {
        out.push({
          id: pooled.instance.id,
          functionName: name,
          version: pooled.spec.version,
          tier: pooled.instance.tier,
          state: pooled.state,
          createdAt: pooled.createdAt,
          lastUsedAt: pooled.lastUsedAt,
          invocations: pooled.invocations,
        });
      }
    }
    return out;
  }

  /** Disposes a function's idle instances now (after a delete or a new deploy). */
  evictIdle(functionName: string): void {
    const pool = this.pools.get(functionName);
    if (pool === undefined) return;
    for (const pooled of pool.instances) if (pooled.state === 'idle') this.remove(pool, pooled);
  }

  busyCount(): number {
    let busy = 0;
    for (const pool of this.pools.values()) busy += pool.busy;
    return busy;
  }

  /** Resolves when no instance is busy. */
  drain(): Promise<void> {
    if (this.busyCount() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): void {
    clearInterval(this.reaper);
    for (const pool of this.pools.values()) {
      for (const waiter of pool.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new StratoError('SHUTTING_DOWN', 'the server is shutting down'));
      }
      for (const pooled of pool.instances) this.remove(pool, pooled);
    }
  }

  private pool(functionName: string): FunctionPool {
    let pool = this.pools.get(functionName);
    if (pool === undefined) {
      pool = { busy: 0, instances: new Set(), idle: new Map(), waiters: [] };
      this.pools.set(functionName, pool);
    }
    return pool;
  }

  private tryAcquire(pool: FunctionPool, spec: InstanceSpec): Lease | undefined {
    if (pool.busy >= spec.config.concurrency) return undefined;
    const idle = pool.idle.get(versionKey(spec));
    while (idle !== undefined && idle.length > 0) {
      const warm = idle.pop()!;
      if (!warm.instance.dead) return this.lend(pool, warm, false);
      warm.state = 'busy'; // already off the idle stack
      this.remove(pool, warm);
    }
    const now = Date.now();
    const started: PooledInstance = {
      instance: this.sandbox.startInstance(spec),
      spec,
      state: 'starting',
      createdAt: now,
      lastUsedAt: now,
      invocations: 0,
    };
    pool.instances.add(started);
    return this.lend(pool, started, true);
  }

  private lend(pool: FunctionPool, pooled: PooledInstance, cold: boolean): Lease {
    pool.busy++;
    if (!cold) pooled.state = 'busy';
    pooled.invocations++;
    let released = false;
    return {
      instance: pooled.instance,
      cold,
      release: () => {
        if (released) return;
        released = true;
        pool.busy--;
        pooled.lastUsedAt = Date.now();
        if (pooled.instance.dead) this.remove(pool, pooled);
        else this.makeIdle(pool, pooled);
        this.serveWaiters(pool);
        if (this.drainWaiters.length > 0 && this.busyCount() === 0) {
          for (const resolve of this.drainWaiters.splice(0)) resolve();
        }
      },
    };
  }

  private serveWaiters(pool: FunctionPool): void {
    while (pool.waiters.length > 0) {
      const waiter = pool.waiters[0]!;
      const lease = this.tryAcquire(pool, waiter.spec);
      if (lease === undefined) return;
      pool.waiters.shift();
      clearTimeout(waiter.timer);
      waiter.resolve(lease);
    }
  }

  private makeIdle(pool: FunctionPool, pooled: PooledInstance): void {
    pooled.state = 'idle';
    const key = versionKey(pooled.spec);
    const idle = pool.idle.get(key);
    if (idle === undefined) pool.idle.set(key, [pooled]);
    else idle.push(pooled);
  }

  private remove(pool: FunctionPool, pooled: PooledInstance): void {
    pool.instances.delete(pooled);
    if (pooled.state === 'idle') {
      const key = versionKey(pooled.spec);
      const idle = pool.idle.get(key);
      const index = idle?.indexOf(pooled) ?? -1;
      if (idle !== undefined && index !== -1) idle.splice(index, 1);
      if (idle !== undefined && idle.length === 0) pool.idle.delete(key);
    }
    void pooled.instance.dispose();
  }

  private reapIdle(): void {
    const cutoff = Date.now() - this.options.keepAliveMs;
    for (const [name, pool] of this.pools) {
      for (const pooled of pool.instances) {
        if (pooled.state === 'idle' && (pooled.lastUsedAt <= cutoff || pooled.instance.dead))
          this.remove(pool, pooled);
      }
      if (pool.instances.size === 0 && pool.waiters.length === 0 && pool.busy === 0) this.pools.delete(name);
    }
  }
}

function tooManyRequests(spec: InstanceSpec, waitedMs: number): StratoError {
  return new StratoError(
    'TOO_MANY_REQUESTS',
    `function '${spec.functionName}' is at its concurrency limit (${spec.config.concurrency}) and no instance freed up within ${waitedMs} ms`,
    { details: { retryAfterSeconds: 1 } },
  );
}
