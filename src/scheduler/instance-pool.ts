import type { InstanceSpec, Sandbox, SandboxInstance, SandboxTier } from '../core/sandbox.js';
import { StratoError } from '../core/strato-error.js';
import { FixedKeepAlivePolicy } from '../keepalive/fixed-policy.js';
import type { KeepAlivePolicy } from '../keepalive/keep-alive-policy.js';
import { Capacity } from './capacity.js';

export interface SchedulerOptions {
  /** Idle instances are disposed after this long. @default 600000 (10 min) */
  keepAliveMs: number;
  /** How long a request waits for a free slot when the function is at its concurrency. @default 10000 */
  maxQueueWaitMs: number;
  /** Requests allowed to wait per function; more are refused at once. @default 1000 */
  maxQueuedPerFunction: number;
  /** Concurrent executions on this node over all functions (reservations come out of it). @default 1000 */
  totalConcurrency?: number;
  /** Memory for instances on this node, in MB. @default unlimited */
  memoryBudgetMb?: number;
  /**
   * How long an idle instance is kept and when one is pre-warmed (fixed TTL, or the ATC'20 hybrid
   * histogram policy). @default a fixed TTL of `keepAliveMs`
   */
  keepAlivePolicy?: KeepAlivePolicy;
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
  /** Invocations it is serving right now (0 when idle). */
  inFlight: number;
  /** Invocations it may serve at once (the version's `instanceConcurrency`, 1 off the isolate tier). */
  instanceConcurrency: number;
  /** The instance's memory limit, in MB. */
  memoryMb: number;
  /** Kept warm by the function's `minInstances` (never reaped for idleness). */
  provisioned: boolean;
}

/** A slot of an instance lent to one invocation. Release it exactly once. */
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
  /** Invocations holding a slot of it; 'starting' and 'busy' while above 0, 'idle' at 0. */
  inFlight: number;
  /** Slots: how many invocations it may hold at once. */
  slots: number;
  /** Memory this instance is counted for in the node's capacity right now. */
  countedMb: number;
  pinned: boolean;
  /** When the keep-alive policy lets this idle instance go. */
  unloadAt: number;
}

interface Waiter {
  spec: InstanceSpec;
  resolve: (lease: Lease) => void;
  reject: (error: StratoError) => void;
  timer: NodeJS.Timeout;
}

interface FunctionPool {
  name: string;
  /** Invocations in flight (not instances): what `concurrency` and reservations count. */
  busy: number;
  instances: Set<PooledInstance>;
  /** Idle instances per version, most recently used last: the warmest is popped first. */
  idle: Map<string, PooledInstance[]>;
  waiters: Waiter[];
  /** Moving average of how long an invocation holds an instance, for `Retry-After`. */
  averageHoldMs: number;
  /** `minInstances` of one version, kept warm. */
  provisioned: { spec: InstanceSpec; count: number } | undefined;
  /** An instance the keep-alive policy wants loaded again before the next expected call. */
  prewarm: { spec: InstanceSpec; at: number; unloadAt: number } | undefined;
}

const versionKey = (spec: InstanceSpec) =>
  `${spec.codeSha256}:${spec.version}:${spec.secretsGeneration ?? 0}`;

/**
 * What an idle instance holds, in MB. An idle isolate is its compiled code and a small heap (measured:
 * 1.34 MB of host RSS per idle isolate with the guest runtime and a small function loaded,
 * bench/isolate-footprint.ts; rounded up); an idle process keeps whatever it allocated, so it is counted
 * at its limit.
 */
/**
 * Slots of an instance of this spec. Only isolates share an instance between requests; deploy refuses more
 * than 1 elsewhere (control/instance-concurrency-check.ts), and this keeps a stored version that says so
 * anyway from ever reaching a tier that would serve its requests one after another.
 */
function slotsOf(spec: InstanceSpec, tier: SandboxTier): number {
  return tier === 'isolate' ? Math.max(1, spec.config.instanceConcurrency ?? 1) : 1;
}

function idleFootprintMb(tier: SandboxTier, limitMb: number): number {
  return tier === 'isolate' ? Math.min(1.5, limitMb) : limitMb;
}

/**
 * Per-function pools of sandbox instances: reuse a warm idle instance of the same version, start a new
 * one while the function is under its concurrency and the node has capacity (concurrency and memory),
 * otherwise wait (bounded) for one to free up. Idle instances are reaped after the keep-alive, so an idle
 * function holds no memory, except the `minInstances` it asked to keep warm.
 */
export class Scheduler {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly reaper: NodeJS.Timeout;
  private drainWaiters: Array<() => void> = [];
  readonly capacity: Capacity;
  private readonly keepAlive: KeepAlivePolicy;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly options: SchedulerOptions,
  ) {
    this.capacity = new Capacity(options.totalConcurrency ?? 1000, options.memoryBudgetMb ?? Infinity);
    this.keepAlive = options.keepAlivePolicy ?? new FixedKeepAlivePolicy(options.keepAliveMs);
    const interval = Math.max(25, Math.min(10_000, Math.floor(options.keepAliveMs / 2)));
    this.reaper = setInterval(() => this.reapIdle(), interval);
    this.reaper.unref();
  }

  acquire(spec: InstanceSpec): Promise<Lease> {
    const pool = this.pool(spec.functionName);
    // Waiters go first: a newcomer may not overtake requests already queued.
    const lease = pool.waiters.length === 0 ? this.tryAcquire(pool, spec) : undefined;
    if (lease !== undefined) return Promise.resolve(lease);
    if (pool.waiters.length >= this.options.maxQueuedPerFunction) {
      return Promise.reject(this.tooManyRequests(pool, spec, 0));
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        spec,
        resolve,
        reject,
        timer: setTimeout(() => {
          pool.waiters.splice(pool.waiters.indexOf(waiter), 1);
          reject(this.tooManyRequests(pool, spec, this.options.maxQueueWaitMs));
        }, this.options.maxQueueWaitMs),
      };
      pool.waiters.push(waiter);
    });
  }

  /**
   * Keeps `count` instances of this version warm (provisioned concurrency), replacing any kept for another
   * version; 0 stops. Instances start now, so the first call finds them warm. Limited by the function's
   * concurrency and the node's memory; what does not fit is started once capacity frees up.
   */
  provision(spec: InstanceSpec, count: number): void {
    const pool = this.pool(spec.functionName);
    const key = versionKey(spec);
    pool.provisioned = count > 0 ? { spec, count } : undefined;
    for (const pooled of pool.instances) {
      const wasPinned = pooled.pinned;
      pooled.pinned = count > 0 && versionKey(pooled.spec) === key;
      // Kept warm for a version no longer provisioned: nothing will call it soon.
      if (wasPinned && !pooled.pinned && pooled.state === 'idle') this.remove(pool, pooled);
    }
    this.fillProvisioned(pool);
  }

  /**
   * Starts one instance of this version ahead of its first call (a container-image deploy's warm-up, SCAR's
   * "request-response first" made automatic), unless an idle one is already there or there is no room. It
   * lives like any idle instance: the keep-alive reaps it when no call comes. True when one was started.
   */
  warm(spec: InstanceSpec): boolean {
    const pool = this.pool(spec.functionName);
    if ((pool.idle.get(versionKey(spec))?.length ?? 0) > 0) return false;
    const started = this.startInstance(pool, spec, this.capOf(spec));
    if (started === undefined) return false;
    started.unloadAt = Date.now() + this.options.keepAliveMs;
    this.makeIdle(pool, started);
    return true;
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
          inFlight: pooled.inFlight,
          instanceConcurrency: pooled.slots,
          memoryMb: pooled.spec.config.memoryMb,
          provisioned: pooled.pinned,
        });
      }
    }
    return out;
  }

  /** Disposes a function's idle instances now (after a delete or a new deploy); provisioned ones stay. */
  evictIdle(functionName: string): void {
    const pool = this.pools.get(functionName);
    if (pool === undefined) return;
    for (const pooled of pool.instances)
      if (pooled.state === 'idle' && !pooled.pinned) this.remove(pool, pooled);
  }

  /** Forgets a deleted function: its provisioned instances go too. */
  forget(functionName: string): void {
    const pool = this.pools.get(functionName);
    if (pool === undefined) return;
    pool.provisioned = undefined;
    pool.prewarm = undefined;
    for (const pooled of pool.instances) {
      pooled.pinned = false;
      if (pooled.state === 'idle') this.remove(pool, pooled);
    }
    this.capacity.setReservation(functionName, undefined);
    this.keepAlive.forget(functionName);
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
      pool.provisioned = undefined;
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
      pool = {
        name: functionName,
        busy: 0,
        instances: new Set(),
        idle: new Map(),
        waiters: [],
        averageHoldMs: 100,
        provisioned: undefined,
        prewarm: undefined,
      };
      this.pools.set(functionName, pool);
    }
    return pool;
  }

  /** The function's own cap: its concurrency, and its reservation when it has one (Lambda's rule). */
  private capOf(spec: InstanceSpec): number {
    return Math.min(spec.config.concurrency, this.capacity.reservationOf(spec.functionName) ?? Infinity);
  }

  private tryAcquire(pool: FunctionPool, spec: InstanceSpec): Lease | undefined {
    const cap = this.capOf(spec);
    if (pool.busy >= cap || !this.capacity.canRun(spec.functionName)) return undefined;
    // A busy instance with a free slot costs no memory and no start: it goes before an idle one.
    const shared = this.withFreeSlot(pool, spec);
    if (shared !== undefined) return this.lend(pool, shared, false);
    const idle = pool.idle.get(versionKey(spec));
    while (idle !== undefined && idle.length > 0) {
      const warm = idle.pop()!;
      if (!warm.instance.dead) return this.lend(pool, warm, false);
      warm.state = 'busy'; // already off the idle stack
      this.remove(pool, warm);
    }
    const started = this.startInstance(pool, spec, cap);
    return started === undefined ? undefined : this.lend(pool, started, true);
  }

  /** A live busy (or starting) instance of this version that can take one more invocation. */
  private withFreeSlot(pool: FunctionPool, spec: InstanceSpec): PooledInstance | undefined {
    if ((spec.config.instanceConcurrency ?? 1) <= 1) return undefined;
    const key = versionKey(spec);
    for (const pooled of pool.instances) {
      if (pooled.inFlight === 0 || pooled.inFlight >= pooled.slots || pooled.instance.dead) continue;
      if (versionKey(pooled.spec) === key) return pooled;
    }
    return undefined;
  }

  /** Starts an instance if the function and the node have room, evicting idle instances to make it. */
  private startInstance(pool: FunctionPool, spec: InstanceSpec, cap: number): PooledInstance | undefined {
    while (pool.instances.size >= cap) {
      // Under its cap in busy instances but not in all: idle ones of other versions make way.
      const victim = this.idleVictim([pool]);
      if (victim === undefined) return undefined;
      this.remove(pool, victim);
    }
    const limitMb = spec.config.memoryMb;
    while (!this.capacity.fits(limitMb)) {
      const victim = this.idleVictim(this.pools.values());
      if (victim === undefined) return undefined;
      this.remove(this.pools.get(victim.spec.functionName)!, victim);
    }
    const now = Date.now();
    const instance = this.sandbox.startInstance(spec);
    const started: PooledInstance = {
      instance,
      spec,
      state: 'starting',
      createdAt: now,
      lastUsedAt: now,
      invocations: 0,
      inFlight: 0,
      slots: slotsOf(spec, instance.tier),
      countedMb: limitMb,
      pinned: false,
      unloadAt: Infinity,
    };
    this.capacity.account(limitMb);
    pool.instances.add(started);
    return started;
  }

  /** The least recently used idle instance that is not provisioned, among the given pools. */
  private idleVictim(pools: Iterable<FunctionPool>): PooledInstance | undefined {
    let victim: PooledInstance | undefined;
    for (const pool of pools) {
      for (const pooled of pool.instances) {
        if (pooled.state !== 'idle' || pooled.pinned) continue;
        if (victim === undefined || pooled.lastUsedAt < victim.lastUsedAt) victim = pooled;
      }
    }
    return victim;
  }

  private lend(pool: FunctionPool, pooled: PooledInstance, cold: boolean): Lease {
    pool.busy++;
    const reserved = this.capacity.reservationOf(pool.name) !== undefined;
    this.capacity.startRun(pool.name);
    // The first slot taken makes an idle instance busy; later ones share it (memory counts instances).
    if (!cold && pooled.inFlight === 0) {
      pooled.state = 'busy';
      this.recount(pooled, pooled.spec.config.memoryMb);
    }
    pooled.inFlight++;
    pooled.invocations++;
    const lentAt = Date.now();
    this.keepAlive.recordInvocation(pool.name, lentAt);
    // The call the pre-warm was for came (or came early): nothing left to pre-warm.
    pool.prewarm = undefined;
    let released = false;
    return {
      instance: pooled.instance,
      cold,
      release: () => {
        if (released) return;
        released = true;
        pool.busy--;
        pooled.inFlight--;
        this.capacity.endRun(pool.name, reserved);
        pooled.lastUsedAt = Date.now();
        pool.averageHoldMs = pool.averageHoldMs * 0.8 + (pooled.lastUsedAt - lentAt) * 0.2;
        this.keepAlive.recordCompletion(pool.name, pooled.lastUsedAt);
        // Idle (and keep-alive) starts when the last slot frees; a dead one goes once its siblings settled.
        if (pooled.inFlight === 0) {
          if (pooled.instance.dead) this.remove(pool, pooled);
          else this.afterUse(pool, pooled);
        }
        this.serveAllWaiters(pool);
        if (this.drainWaiters.length > 0 && this.busyCount() === 0) {
          for (const resolve of this.drainWaiters.splice(0)) resolve();
        }
      },
    };
  }

  /** Capacity freed up: this function's waiters first, then everyone else's (memory, unreserved pool). */
  private serveAllWaiters(first: FunctionPool): void {
    this.serveWaiters(first);
    for (const pool of this.pools.values())
      if (pool !== first && pool.waiters.length > 0) this.serveWaiters(pool);
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

  /**
   * An instance finished an invocation: kept idle until the policy's `unloadAt`, or (when the policy expects
   * the next call only after a while) unloaded now and pre-warmed shortly before that call.
   */
  private afterUse(pool: FunctionPool, pooled: PooledInstance): void {
    const decision = this.keepAlive.decide(pool.name, pooled.lastUsedAt);
    const unloadNow = decision.prewarmAt !== undefined && !pooled.pinned && pool.busy === 0;
    if (unloadNow) {
      pool.prewarm = { spec: pooled.spec, at: decision.prewarmAt!, unloadAt: decision.unloadAt };
      this.remove(pool, pooled);
      return;
    }
    pooled.unloadAt = decision.unloadAt;
    this.makeIdle(pool, pooled);
  }

  private makeIdle(pool: FunctionPool, pooled: PooledInstance): void {
    pooled.state = 'idle';
    this.recount(pooled, idleFootprintMb(pooled.instance.tier, pooled.spec.config.memoryMb));
    const key = versionKey(pooled.spec);
    const idle = pool.idle.get(key);
    if (idle === undefined) pool.idle.set(key, [pooled]);
    else idle.push(pooled);
  }

  private recount(pooled: PooledInstance, mb: number): void {
    this.capacity.account(mb - pooled.countedMb);
    pooled.countedMb = mb;
  }

  private remove(pool: FunctionPool, pooled: PooledInstance): void {
    if (!pool.instances.delete(pooled)) return;
    if (pooled.state === 'idle') {
      const key = versionKey(pooled.spec);
      const idle = pool.idle.get(key);
      const index = idle?.indexOf(pooled) ?? -1;
      if (idle !== undefined && index !== -1) idle.splice(index, 1);
      if (idle !== undefined && idle.length === 0) pool.idle.delete(key);
    }
    this.recount(pooled, 0);
    void pooled.instance.dispose();
    // A provisioned instance that died is replaced.
    if (pooled.pinned && pool.provisioned !== undefined) setImmediate(() => this.fillProvisioned(pool));
  }

  /** Starts provisioned instances until the function has its `minInstances` of the provisioned version. */
  private fillProvisioned(pool: FunctionPool): void {
    const provisioned = pool.provisioned;
    if (provisioned === undefined) return;
    const key = versionKey(provisioned.spec);
    let pinned = 0;
    for (const pooled of pool.instances) if (pooled.pinned && versionKey(pooled.spec) === key) pinned++;
    const cap = this.capOf(provisioned.spec);
    while (pinned < provisioned.count) {
      const started = this.startInstance(pool, provisioned.spec, cap);
      if (started === undefined) return;
      started.pinned = true;
      started.invocations = 0;
      this.makeIdle(pool, started);
      pinned++;
    }
  }

  private reapIdle(): void {
    const now = Date.now();
    for (const [name, pool] of this.pools) {
      for (const pooled of pool.instances) {
        if (pooled.state !== 'idle') continue;
        if (pooled.instance.dead || (!pooled.pinned && now >= pooled.unloadAt)) this.remove(pool, pooled);
      }
      this.fillProvisioned(pool);
      this.prewarmDue(pool, now);
      const empty = pool.instances.size === 0 && pool.waiters.length === 0 && pool.busy === 0;
      if (empty && pool.provisioned === undefined && pool.prewarm === undefined) this.pools.delete(name);
    }
  }

  /** Loads the instance the policy asked for, unless one of that version is already there. */
  private prewarmDue(pool: FunctionPool, now: number): void {
    const prewarm = pool.prewarm;
    if (prewarm === undefined || now < prewarm.at) return;
    pool.prewarm = undefined;
    if (now >= prewarm.unloadAt || pool.idle.has(versionKey(prewarm.spec))) return;
    const started = this.startInstance(pool, prewarm.spec, this.capOf(prewarm.spec));
    if (started === undefined) return;
    started.unloadAt = prewarm.unloadAt;
    this.makeIdle(pool, started);
  }

  private tooManyRequests(pool: FunctionPool, spec: InstanceSpec, waitedMs: number): StratoError {
    const cap = this.capOf(spec);
    // Roughly when a slot frees up for a request that joins the queue now.
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil((pool.averageHoldMs * (1 + pool.waiters.length / Math.max(1, cap))) / 1000),
    );
    const why =
      pool.busy >= cap
        ? `is at its concurrency limit (${cap})`
        : 'cannot get capacity on this node (concurrency or memory in use by other functions)';
    return new StratoError(
      'TOO_MANY_REQUESTS',
      `function '${spec.functionName}' ${why} and no instance freed up within ${waitedMs} ms`,
      { details: { retryAfterSeconds } },
    );
  }
}
