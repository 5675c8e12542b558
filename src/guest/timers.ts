import type { GuestCall } from './guest-calls.js';
import type { HostBindings } from './host-bindings.js';

type TimerCallback = (...args: unknown[]) => void;

interface TimerEntry {
  callback: TimerCallback;
  args: unknown[];
  /** Set for setInterval: the period to re-arm with. */
  intervalMs: number | null;
  /** The invocation that armed it (undefined: armed outside one, e.g. at module load). */
  owner: GuestCall | undefined;
}

/**
 * setTimeout / setInterval for an isolate, which has no event loop of its own: the host arms a real
 * timer and calls `fire(id)` back when it expires. A timer belongs to the invocation that armed it and is
 * cleared when that one settles; when no invocation is left, every timer is (as if the sandbox were frozen
 * between invocations).
 */
export class GuestTimers {
  private readonly entries = new Map<number, TimerEntry>();
  private nextId = 1;

  constructor(
    private readonly host: Pick<HostBindings, 'setTimer' | 'clearTimer'>,
    private readonly currentOwner: () => GuestCall | undefined = () => undefined,
  ) {}

  get pending(): number {
    return this.entries.size;
  }

  install(global: Record<string, unknown>): void {
    const define = (name: string, value: unknown) =>
      Object.defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
    define('setTimeout', (callback: TimerCallback, delay?: number, ...args: unknown[]) =>
      this.arm(callback, delay, args, false),
    );
    define('setInterval', (callback: TimerCallback, delay?: number, ...args: unknown[]) =>
      this.arm(callback, delay, args, true),
    );
    define('clearTimeout', (id: unknown) => this.clear(id));
    define('clearInterval', (id: unknown) => this.clear(id));
    define('queueMicrotask', (callback: () => void) => {
      if (typeof callback !== 'function') throw new TypeError('queueMicrotask: callback must be a function');
      void Promise.resolve().then(callback);
    });
  }

  /** Whose timer `id` is, for attributing what its callback does. */
  ownerOf(id: number): GuestCall | undefined {
    return this.entries.get(id)?.owner;
  }

  /** Called by the host when timer `id` expires. */
  fire(id: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    if (entry.intervalMs === null) this.entries.delete(id);
    else this.host.setTimer(id, entry.intervalMs);
    entry.callback(...entry.args);
  }

  /** Clears the timers this invocation armed. */
  clearOwnedBy(owner: GuestCall): void {
    for (const [id, entry] of this.entries) {
      if (entry.owner !== owner) continue;
      this.entries.delete(id);
      this.host.clearTimer(id);
    }
  }

  clearAll(): void {
    for (const id of this.entries.keys()) this.host.clearTimer(id);
    this.entries.clear();
  }

  private arm(callback: TimerCallback, delay: unknown, args: unknown[], repeat: boolean): number {
    if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be a function');
    const delayMs = Math.max(0, Math.min(2_147_483_647, Number(delay) || 0));
    const id = this.nextId++;
    this.entries.set(id, {
      callback,
      args,
      intervalMs: repeat ? Math.max(1, delayMs) : null,
      owner: this.currentOwner(),
    });
    this.host.setTimer(id, delayMs);
    return id;
  }

  private clear(id: unknown): void {
    if (typeof id !== 'number' || !this.entries.delete(id)) return;
    this.host.clearTimer(id);
  }
}
