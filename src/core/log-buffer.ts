import type { LogLevel } from './invocation.js';

/** One invocation's captured output, as `InvokeResult` carries it. */
export interface CapturedLogs {
  lines: Array<{ ts: number; level: LogLevel; message: string }>;
  /** Bytes of output the function produced, including what was dropped. */
  bytes: number;
  truncated: boolean;
}

/**
 * A per-invocation log buffer with a byte budget, shared by every tier (the isolate's console, a process's
 * stdout/stderr). Past the budget, output is counted and dropped, never blocking the function, and
 * `take()` adds one marker line that says how much was lost.
 */
export class LogBuffer {
  private lines: CapturedLogs['lines'] = [];
  private bytes = 0;
  private keptBytes = 0;
  private truncated = false;

  constructor(private limitBytes: number) {}

  setLimit(bytes: number): void {
    this.limitBytes = bytes;
  }

  /** Nothing was written since the last take. */
  get isEmpty(): boolean {
    return this.lines.length === 0 && !this.truncated;
  }

  /** Adds a line; `size` is its size in bytes as the caller measures it (plus one for the newline). */
  add(level: LogLevel, message: string, size: number): void {
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

  /** Takes the lines captured so far (with the truncation marker, if any) and starts a new buffer. */
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
}
