import type { InvocationRecord, LogLine } from '../core/invocation.js';

/** A function's log bytes in the current and the previous window. */
interface FunctionWindow {
  /** Start of the current window, epoch ms, a multiple of the window length. */
  start: number;
  current: number;
  previous: number;
}

export interface LogFloodBoundOptions {
  /** Log bytes (UTF-8 message bytes) one function may store per window; 0 turns the bound off. */
  bytesPerWindow: number;
  /** @default 60_000 */
  windowMs?: number;
  /** Epoch ms. @default Date.now */
  now?: () => number;
}

/** One invocation's logs after the bound: what to store, and how many lines it lost. */
export interface BoundedLogs {
  record: InvocationRecord;
  lines: LogLine[];
  dropped: number;
}

/**
 * Bounds how many log bytes each function stores per minute, over all its invocations (the per-invocation
 * cap is the sandbox's LogBuffer). It runs where settled invocations are recorded, after the function is
 * done, so a flood costs the function nothing: its lines past the budget are simply not kept.
 *
 * The window slides: the previous minute counts in proportion to how much of it still lies within the last
 * 60 s (Cloudflare's sliding-window counter), so a flood straddling a minute boundary does not get twice the
 * budget, and two numbers per function are the whole state.
 */
export class LogFloodBound {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, FunctionWindow>();
  #lastPrune = 0;

  constructor(options: LogFloodBoundOptions) {
    this.#limit = options.bytesPerWindow;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Keeps the invocation's lines while its function is within budget and drops the rest of them (a prefix
   * is kept, as the per-invocation cap does). An invocation that lost lines gets `logTruncated` and one
   * marker line, outside the budget, that says how many.
   */
  admit(record: InvocationRecord, lines: LogLine[]): BoundedLogs {
    if (this.#limit === 0 || lines.length === 0) return { record, lines, dropped: 0 };
    const now = this.#now();
    this.#prune(now);
    const window = this.#windowOf(record.functionName, now);
    const elapsed = Math.min(Math.max(now - window.start, 0), this.#windowMs);
    const previousWeight = 1 - elapsed / this.#windowMs;
    let used = window.previous * previousWeight + window.current;
    let kept = lines.length;
    for (let index = 0; index < lines.length; index++) {
      const size = Buffer.byteLength((lines[index] as LogLine).message, 'utf8');
      if (used + size > this.#limit) {
        kept = index;
        break;
      }
      used += size;
      window.current += size;
    }
    if (kept === lines.length) return { record, lines, dropped: 0 };

    const dropped = lines.length - kept;
    const last = lines.at(-1) as LogLine;
    const marker: LogLine = {
      invocationId: record.id,
      functionName: record.functionName,
      seq: last.seq + 1,
      ts: now,
      level: 'warn',
      message: `[strato] log flood: ${dropped} of ${lines.length} lines dropped (function over ${this.#limit} log bytes per minute)`,
    };
    return {
      record: { ...record, logTruncated: true },
      lines: [...lines.slice(0, kept), marker],
      dropped,
    };
  }

  /** The function's window, rolled forward to `now`. */
  #windowOf(functionName: string, now: number): FunctionWindow {
    const start = now - (now % this.#windowMs);
    let window = this.#windows.get(functionName);
    if (window === undefined) {
      window = { start, current: 0, previous: 0 };
      this.#windows.set(functionName, window);
    } else if (start > window.start) {
      // A clock that steps back keeps the current window rather than forgetting what was used.
      window.previous = start - window.start === this.#windowMs ? window.current : 0;
      window.current = 0;
      window.start = start;
    }
    return window;
  }

  /** Once a window, forgets functions that have not logged for two: they would start from zero anyway. */
  #prune(now: number): void {
    if (now - this.#lastPrune < this.#windowMs) return;
    this.#lastPrune = now;
    for (const [name, window] of this.#windows) {
      if (now - window.start >= 2 * this.#windowMs) this.#windows.delete(name);
    }
  }

  /** Functions with a window in memory (for tests of the pruning). */
  get trackedFunctions(): number {
    return this.#windows.size;
  }
}
