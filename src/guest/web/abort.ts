/**
 * `AbortController` / `AbortSignal`. `AbortSignal.timeout()` is left out: timers belong to the
 * runtime, which can build it from `abortSignal()` below.
 */
import { DOMException } from './dom-exception.js';
import { Event, EventTarget, reportError } from './event-target.js';

/** Aborts `signal` with `reason` (runtime-internal; user code goes through AbortController). */
export let abortSignal: (signal: AbortSignal, reason?: unknown) => void;
let createSignal: () => AbortSignal;

/** Guards the constructor: like browsers, `new AbortSignal()` is an illegal invocation. */
const constructing = { allowed: false };

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason: unknown = undefined;
  #onabort: ((event: Event) => void) | null = null;

  static {
    createSignal = () => {
      constructing.allowed = true;
      try {
        return new AbortSignal();
      } finally {
        constructing.allowed = false;
      }
    };
    abortSignal = (signal, reason) => {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason =
        reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
      const event = new Event('abort');
      try {
        signal.#onabort?.call(signal, event);
      } catch (error) {
        reportError(error);
      }
      signal.dispatchEvent(event);
    };
  }

  constructor() {
    if (!constructing.allowed) throw new TypeError('Illegal constructor');
    super();
  }

  static abort(reason?: unknown): AbortSignal {
    const signal = createSignal();
    abortSignal(signal, reason);
    return signal;
  }

  /** A signal that aborts as soon as any of `signals` does, with that signal's reason. */
  static any(signals: Iterable<AbortSignal>): AbortSignal {
    const result = createSignal();
    const sources = [...signals];
    for (const source of sources) {
      if (!(source instanceof AbortSignal))
        throw new TypeError('AbortSignal.any: expected AbortSignal instances');
      if (source.aborted) {
        abortSignal(result, source.reason);
        return result;
      }
    }
    for (const source of sources) {
      source.addEventListener('abort', () => abortSignal(result, source.reason), { once: true });
    }
    return result;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  get onabort(): ((event: Event) => void) | null {
    return this.#onabort;
  }
  set onabort(handler: ((event: Event) => void) | null) {
    this.#onabort = typeof handler === 'function' ? handler : null;
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  override get [Symbol.toStringTag](): string {
    return 'AbortSignal';
  }
}

/** A fresh signal for runtime code (Request objects); `new AbortSignal()` is closed to users. */
export function newAbortSignal(): AbortSignal {
  return createSignal();
}

export class AbortController {
  readonly #signal = createSignal();

  get signal(): AbortSignal {
    return this.#signal;
  }

  abort(reason?: unknown): void {
    abortSignal(this.#signal, reason);
  }

  get [Symbol.toStringTag](): string {
    return 'AbortController';
  }
}
