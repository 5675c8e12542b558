import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { probeNodeBinary } from '../../config/node-runtimes.js';
import type { PooledRuntime } from './pool-script.js';
import { PooledSandbox, type PoolContext } from './pooled-sandbox.js';
import { nodeClientArgv, nodeDefaultEnv } from './runtime-command.js';

/** Which pool a sandbox comes from: `exec` (a runtime exec'd at assignment) or one per Node binary. */
export type PoolKey = 'exec' | `node:${string}`;

export function nodePoolKey(nodePath: string): PoolKey {
  return `node:${nodePath}`;
}

export interface PoolStats {
  ready: number;
  preparing: number;
  taken: number;
}

interface Entry {
  /** Resolves to undefined when the sandbox could not be prepared. */
  sandbox: Promise<PooledSandbox | undefined>;
  ready: boolean;
}

// A refill waits this long after a take, so it does not compete with the cold start that took the sandbox
// for the CPU (the isolate tier's stem cells also refill after the taking invocation).
const refillDelayMs = 25;
// After a failed preparation: a host that cannot confine right now must not be hammered.
const failureBackoffMs = 1_000;

/**
 * Sandboxes confined ahead of need, `size` per key, so a cold start skips namespaces, cgroup, mounts, the
 * forwarder and, for Node, Node's own start. A sandbox is taken once and never comes back (nothing of one
 * function may reach another's). Refills run one at a time, tier-wide, in the background.
 */
export class SandboxPool {
  private readonly entries = new Map<PoolKey, Entry[]>();
  private readonly taken = new Map<PoolKey, number>();
  private refilling = false;
  private refillTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly keys: readonly PoolKey[],
    private readonly context: PoolContext,
    private readonly logger: Logger,
  ) {
    for (const key of keys) this.entries.set(key, []);
    this.refillSoon(0);
  }

  /**
   * A sandbox of `key`: a ready one, else one still being prepared (already part way), else undefined (the
   * caller starts an instance the ordinary way). Resolves to undefined when the one handed out fails.
   */
  take(key: PoolKey): Promise<PooledSandbox | undefined> | undefined {
    const entries = this.entries.get(key);
    if (this.closed || entries === undefined || entries.length === 0) return undefined;
    const index = entries.findIndex((entry) => entry.ready);
    const [entry] = entries.splice(index === -1 ? 0 : index, 1);
    this.taken.set(key, (this.taken.get(key) ?? 0) + 1);
    this.refillSoon(refillDelayMs);
    return entry?.sandbox;
  }

  /** Per key: sandboxes ready, being prepared, and taken so far (for tests and `strato ps`). */
  stats(): Record<string, PoolStats> {
    return Object.fromEntries(
      [...this.entries].map(([key, entries]) => {
        const ready = entries.filter((entry) => entry.ready).length;
        return [key, { ready, preparing: entries.length - ready, taken: this.taken.get(key) ?? 0 }];
      }),
    );
  }

  /** Stops every sandbox not taken; waits for those being prepared. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    const pending = [...this.entries.values()].flatMap((entries) => entries.splice(0));
    await Promise.all(pending.map(async (entry) => (await entry.sandbox)?.stop()));
  }

  private refillSoon(delayMs: number): void {
    if (this.closed || this.refilling || this.refillTimer !== undefined) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refilling = true;
      void this.refill().finally(() => (this.refilling = false));
    }, delayMs);
  }

  private async refill(): Promise<void> {
    for (;;) {
      const key = this.mostWanting();
      if (key === undefined || this.closed) return;
      const entry: Entry = { sandbox: this.prepare(key), ready: false };
      this.entries.get(key)?.push(entry);
      const sandbox = await entry.sandbox;
      if (sandbox === undefined) {
        this.remove(key, entry);
        if (!this.closed) await sleep(failureBackoffMs, undefined, { ref: false });
        continue;
      }
      entry.ready = true;
      // A sandbox that ends while it waits (killed from outside) leaves the pool.
      void sandbox.exited.then(() => {
        if (this.remove(key, entry)) this.refillSoon(0);
      });
    }
  }

  private async prepare(key: PoolKey): Promise<PooledSandbox | undefined> {
    try {
      const runtime = await this.runtimeOf(key);
      const sandbox = await PooledSandbox.prepare(randomBytes(8).toString('hex'), runtime, this.context);
      if (this.closed) {
        await sandbox.stop();
        return undefined;
      }
      return sandbox;
    } catch (error) {
      if (!this.closed) this.logger.warn({ err: error, poolKey: key }, 'a pooled sandbox failed to start');
      return undefined;
    }
  }

  private async runtimeOf(key: PoolKey): Promise<PooledRuntime> {
    if (key === 'exec') return { kind: 'exec' };
    const nodePath = key.slice('node:'.length);
    const binary = await probeNodeBinary(nodePath);
    // LANG as every instance gets it (lambda-environment's `lang`); the function's env replaces all of it.
    return {
      kind: 'node',
      argv: nodeClientArgv(nodePath, binary),
      env: { ...nodeDefaultEnv, LANG: 'C.UTF-8' },
    };
  }

  /** The key furthest below `size`, the first listed on a tie. */
  private mostWanting(): PoolKey | undefined {
    let wanting: PoolKey | undefined;
    let fewest = this.size;
    for (const key of this.keys) {
      const count = this.entries.get(key)?.length ?? 0;
      if (count < fewest) {
        wanting = key;
        fewest = count;
      }
    }
    return wanting;
  }

  private remove(key: PoolKey, entry: Entry): boolean {
    const entries = this.entries.get(key);
    const index = entries?.indexOf(entry) ?? -1;
    if (entries === undefined || index === -1) return false;
    entries.splice(index, 1);
    return true;
  }
}
