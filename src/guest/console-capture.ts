import type { LogLevel } from '../core/invocation.js';
import { LogBuffer, type CapturedLogs } from '../core/log-buffer.js';
import { formatLogArgs } from './web/format.js';

/** Captured before user code runs: a function may replace JSON.stringify for itself, not for us. */
const stringify = JSON.stringify;

export type GuestLogLevel = LogLevel;
export type { CapturedLogs };

/**
 * `console.*` that writes into the log buffer of the invocation the isolate works for (`target`, see
 * guest-calls.ts), or into the instance's own buffer outside any (module load, work left after an
 * invocation settled), which goes out with the load result or the next invocation to settle.
 * `console.count` and `console.time` labels belong to the instance, shared by its invocations.
 */
export class ConsoleCapture {
  private readonly buffer: LogBuffer;
  private readonly counters = new Map<string, number>();
  private readonly timers = new Map<string, number>();

  constructor(
    limitBytes: number,
    private readonly target: () => LogBuffer | undefined = () => undefined,
  ) {
    this.buffer = new LogBuffer(limitBytes);
  }

  setLimit(bytes: number): void {
    this.buffer.setLimit(bytes);
  }

  /** Takes the instance's lines captured so far and starts a new buffer. */
  take(): CapturedLogs {
    return this.buffer.take();
  }

  /** `take()` as JSON, or '' when nothing was printed (the common case costs nothing to send). */
  takeJson(): string {
    if (this.buffer.isEmpty) return '';
    return stringify(this.buffer.take());
  }

  /**
   * An invocation's lines as JSON ('' when none), after any the instance's buffer holds: those were printed
   * outside every invocation since the last one settled, and one invocation at a time always got them.
   */
  takeJsonOf(own: LogBuffer): string {
    if (this.buffer.isEmpty) return own.isEmpty ? '' : stringify(own.take());
    const early = this.buffer.take();
    if (own.isEmpty) return stringify(early);
    const late = own.take();
    return stringify({
      lines: [...early.lines, ...late.lines],
      bytes: early.bytes + late.bytes,
      truncated: early.truncated || late.truncated,
    });
  }

  write(level: GuestLogLevel, args: unknown[]): void {
    let message: string;
    try {
      message = formatLogArgs(args);
    } catch {
      message = '[strato] unprintable value';
    }
    // UTF-16 length is a cheap upper-bound proxy for bytes that never needs an encoder.
    (this.target() ?? this.buffer).add(level, message, message.length + 1);
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
