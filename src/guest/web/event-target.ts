/**
 * Minimal `Event` and `EventTarget`: enough for AbortSignal and for code that dispatches its own
 * events. No capture/bubble phases (there is no tree to propagate through).
 */
export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

export type EventListenerOrObject = ((event: Event) => void) | { handleEvent(event: Event): void };

export interface AddEventListenerOptions {
  once?: boolean;
  capture?: boolean;
  passive?: boolean;
  signal?: { aborted: boolean; addEventListener(type: string, listener: () => void): void };
}

/**
 * Where a listener that throws is reported, as browsers report it without failing `dispatchEvent`.
 * The runtime may point it at its log capture; by default it goes to `console.error` when there is
 * one. (An unhandled rejection is no substitute: isolated-vm fails the pending host call with it.)
 */
let reportListenerError: (error: unknown) => void = (error) => {
  const console = (globalThis as { console?: { error?: unknown } }).console;
  if (typeof console?.error === 'function') (console.error as (error: unknown) => void)(error);
};

export function setListenerErrorReporter(report: (error: unknown) => void): void {
  reportListenerError = report;
}

/** Reports an error thrown by a listener or an `on...` handler without interrupting the caller. */
export function reportError(error: unknown): void {
  reportListenerError(error);
}

// Assigned in Event's static block, which alone can reach its private state.
let beginDispatch: (event: Event, target: EventTarget) => void;
let endDispatch: (event: Event) => void;
let isStopped: (event: Event) => boolean;

export class Event {
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;

  readonly #type: string;
  readonly #bubbles: boolean;
  readonly #cancelable: boolean;
  readonly #composed: boolean;
  readonly #timeStamp = Date.now();
  #defaultPrevented = false;
  #target: EventTarget | null = null;
  #stopImmediate = false;
  #dispatching = false;

  constructor(type: string, init: EventInit | null = {}) {
    if (arguments.length === 0) throw new TypeError('The "type" argument must be specified');
    init ??= {};
    this.#type = String(type);
    this.#bubbles = Boolean(init.bubbles);
    this.#cancelable = Boolean(init.cancelable);
    this.#composed = Boolean(init.composed);
  }

  get type(): string {
    return this.#type;
  }
  get bubbles(): boolean {
    return this.#bubbles;
  }
  get cancelable(): boolean {
    return this.#cancelable;
  }
  get composed(): boolean {
    return this.#composed;
  }
  get defaultPrevented(): boolean {
    return this.#defaultPrevented;
  }
  get target(): EventTarget | null {
    return this.#target;
  }
  get currentTarget(): EventTarget | null {
    return this.#dispatching ? this.#target : null;
  }
  get srcElement(): EventTarget | null {
    return this.#target;
  }
  get eventPhase(): number {
    return this.#dispatching ? Event.AT_TARGET : Event.NONE;
  }
  get isTrusted(): boolean {
    return false;
  }
  get timeStamp(): number {
    return this.#timeStamp;
  }
  get returnValue(): boolean {
    return !this.#defaultPrevented;
  }

  preventDefault(): void {
    if (this.#cancelable) this.#defaultPrevented = true;
  }
  stopPropagation(): void {}
  stopImmediatePropagation(): void {
    this.#stopImmediate = true;
  }
  composedPath(): EventTarget[] {
    return this.#dispatching && this.#target ? [this.#target] : [];
  }

  get [Symbol.toStringTag](): string {
    return 'Event';
  }

  static {
    beginDispatch = (event, target) => {
      if (event.#dispatching) throw new Error('The event is already being dispatched');
      event.#target = target;
      event.#dispatching = true;
      event.#stopImmediate = false;
    };
    endDispatch = (event) => {
      event.#dispatching = false;
    };
    isStopped = (event) => event.#stopImmediate;
  }
}

interface Registration {
  listener: EventListenerOrObject;
  capture: boolean;
  once: boolean;
  removed: boolean;
}

export class EventTarget {
  readonly #listeners = new Map<string, Registration[]>();

  addEventListener(
    type: string,
    listener: EventListenerOrObject | null,
    options: AddEventListenerOptions | boolean = {},
  ): void {
    if (listener === null || listener === undefined) return;
    const { capture, once, signal } = typeof options === 'boolean' ? { capture: options } : options;
    if (signal?.aborted) return;
    const key = String(type);
    const list = this.#listeners.get(key) ?? [];
    if (list.some((r) => r.listener === listener && r.capture === Boolean(capture))) return;
    const registration = { listener, capture: Boolean(capture), once: Boolean(once), removed: false };
    list.push(registration);
    this.#listeners.set(key, list);
    signal?.addEventListener('abort', () => this.removeEventListener(key, listener, { capture }));
  }

  removeEventListener(
    type: string,
    listener: EventListenerOrObject | null,
    options: { capture?: boolean } | boolean = {},
  ): void {
    const capture = Boolean(typeof options === 'boolean' ? options : options.capture);
    const list = this.#listeners.get(String(type));
    const index = list?.findIndex((r) => r.listener === listener && r.capture === capture) ?? -1;
    if (list && index !== -1) {
      (list[index] as Registration).removed = true;
      list.splice(index, 1);
    }
  }

  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) throw new TypeError('The "event" argument must be an instance of Event');
    beginDispatch(event, this);
    try {
      // A snapshot: listeners added during dispatch wait for the next event; removed ones are skipped.
      for (const registration of [...(this.#listeners.get(event.type) ?? [])]) {
        if (registration.removed) continue;
        if (registration.once) this.removeEventListener(event.type, registration.listener, registration);
        this.#invoke(registration.listener, event);
        if (isStopped(event)) break;
      }
    } finally {
      endDispatch(event);
    }
    return !event.defaultPrevented;
  }

  #invoke(listener: EventListenerOrObject, event: Event): void {
    try {
      if (typeof listener === 'function') listener.call(this, event);
      else if (typeof listener.handleEvent === 'function') listener.handleEvent(event);
    } catch (error) {
      reportError(error);
    }
  }

  get [Symbol.toStringTag](): string {
    return 'EventTarget';
  }
}
