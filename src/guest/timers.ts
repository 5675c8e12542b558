import type { HostBindings } from './host-bindings.js';

type TimerCallback = (...args: unknown[]) => void;

interface TimerEntry {
  callback: TimerCallback;
  args: unknown[];
  /** Set for setInterval: the period to re-arm with. */
  intervalMs: number | null;
}

/**
 * setTimeout / setInterval for an isolate, which has no event loop of its own: the host arms a real
 * timer and calls `fire(id)` back when it expires. Timers belong to the instance; the runtime clears
 * every pending timer when an invocation settles, as if the sandbox were frozen between invocations.
 */
export class GuestTimers {
  private readonly entries = new Map<number, TimerEntry>();
  private nextId = 1;

  constructor(private readonly host: Pick<HostBindings, 'setTimer' | 'clearTimer'>) {}

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

  /** Called by the host when timer `id` expires. */
  fire(id: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    if (entry.intervalMs === null) this.entries.delete(id);
    else this.host.setTimer(id, entry.intervalMs);
    entry.callback(...entry.args);
  }

  clearAll(): void {
    for (const id of this.entries.keys()) this.host.clearTimer(id);
    this.entries.clear();
  }

  private arm(callback: TimerCallback, delay: unknown, args: unknown[], repeat: boolean): number {
    if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be a function');
    const delayMs = Math.max(0, Math.min(2_147_483_647, Number(delay) || 0));
    const id = this.nextId++;
    this.entries.set(id, { callback, args, intervalMs: repeat ? Math.max(1, delayMs) : null });
    this.host.setTimer(id, delayMs);
    return id;
  }

  private clear(id: unknown): void {
    if (typeof id !== 'number' || !this.entries.delete(id)) return;
    this.host.clearTimer(id);
  }
}
