import { formatLogArgs } from './web/format.js';

/** Captured before user code runs: a function may replace JSON.stringify for itself, not for us. */
const stringify = JSON.stringify;

export type GuestLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface CapturedLogs {
  lines: Array<{ ts: number; level: GuestLogLevel; message: string }>;
  /** Bytes of output the function produced, including what was dropped. */
  bytes: number;
  truncated: boolean;
}

/**
 * `console.*` that writes into a per-invocation buffer with a byte budget. Past the budget, output is
 * counted and dropped (never blocks the function), and one marker line says how much was lost.
 */
export class ConsoleCapture {
  private lines: CapturedLogs['lines'] = [];
  private bytes = 0;
  private keptBytes = 0;
  private truncated = false;
  private readonly counters = new Map<string, number>();
  private readonly timers = new Map<string, number>();

  constructor(private limitBytes: number) {}

  setLimit(bytes: number): void {
    this.limitBytes = bytes;
  }

  /** Takes the lines captured so far and starts a new buffer. */
  take(): CapturedLogs {
    const taken: CapturedLogs = { lines: this.lines, bytes: this.bytes, truncated: this.truncated };
    if (this.truncated) {
      taken.lines.push({
        ts: Date.now(),
        level: 'warn',
        message: `[strato] log output truncated: ${this.bytes - this.keptBytes} of ${this.bytes} bytes dropped (limit ${this.limitBytes})`,
      });
    }
    this.lines = [];
    this.bytes = 0;
    this.keptBytes = 0;
    this.truncated = false;
    return taken;
  }

  /** `take()` as JSON, or '' when nothing was printed (the common case costs nothing to send). */
  takeJson(): string {
    if (this.lines.length === 0 && !this.truncated) return '';
    return stringify(this.take());
  }

  write(level: GuestLogLevel, args: unknown[]): void {
    let message: string;
    try {
      message = formatLogArgs(args);
    } catch {
      message = '[strato] unprintable value';
    }
    // UTF-16 length is a cheap upper-bound proxy for bytes that never needs an encoder.
    const size = message.length + 1;
    this.bytes += size;
    if (this.truncated) return;
    const room = this.limitBytes - this.keptBytes;
    if (size > room) {
      this.truncated = true;
      if (room > 64) {
        this.lines.push({ ts: Date.now(), level, message: message.slice(0, room - 1) });
        this.keptBytes += room;
      }
      return;
    }
    this.keptBytes += size;
    this.lines.push({ ts: Date.now(), level, message });
  }

  /** The `console` object functions see. */
  createConsole(): Record<string, (...args: unknown[]) => void> {
    const write =
      (level: GuestLogLevel) =>
      (...args: unknown[]) =>
        this.write(level, args);
    return {
      log: write('info'),
      info: write('info'),
      debug: write('debug'),
      trace: write('debug'),
      warn: write('warn'),
      error: write('error'),
      dir: (value: unknown) => this.write('info', [value]),
      assert: (condition: unknown, ...args: unknown[]) => {
        if (!condition) this.write('error', ['Assertion failed' + (args.length > 0 ? ':' : ''), ...args]);
      },
      count: (label: unknown = 'default') => {
        const key = String(label);
        const count = (this.counters.get(key) ?? 0) + 1;
        this.counters.set(key, count);
        this.write('info', [`${key}: ${count}`]);
      },
      countReset: (label: unknown = 'default') => void this.counters.delete(String(label)),
      time: (label: unknown = 'default') => void this.timers.set(String(label), Date.now()),
      timeLog: (label: unknown = 'default', ...args: unknown[]) => this.logTimer(String(label), false, args),
      timeEnd: (label: unknown = 'default') => this.logTimer(String(label), true, []),
      group: write('info'),
      groupCollapsed: write('info'),
      groupEnd: () => undefined,
      table: write('info'),
    };
  }

  private logTimer(label: string, end: boolean, args: unknown[]): void {
    const started = this.timers.get(label);
    if (started === undefined) {
      this.write('warn', [`Timer '${label}' does not exist`]);
      return;
    }
    if (end) this.timers.delete(label);
    this.write('info', [`${label}: ${Date.now() - started}ms`, ...args]);
  }
}
