import { StringDecoder } from 'node:string_decoder';
import type { LogLevel } from '../../core/invocation.js';

/** Logs of one invocation, as `InvokeResult` carries them. */
export interface CapturedOutput {
  lines: Array<{ ts: number; level: LogLevel; message: string }>;
  /** Bytes the process wrote, including what was dropped. */
  bytes: number;
  truncated: boolean;
}

/**
 * Collects a confined process's stdout and stderr as timestamped lines, with a byte budget per invocation
 * (the isolate tier's console has the same budget and marker). Past the budget, output is counted and
 * dropped, never left in the pipe: a process blocked on a full pipe would look like a hang.
 */
export class OutputCapture {
  private lines: CapturedOutput['lines'] = [];
  private bytes = 0;
  private keptBytes = 0;
  private truncated = false;
  /** Unfinished last line of each stream (a line only counts once its newline arrives or it is flushed). */
  private readonly partial = new Map<LogLevel, string>();
  /** Per stream, so a UTF-8 character split across two chunks is decoded whole. */
  private readonly decoders = new Map<LogLevel, StringDecoder>();

  constructor(private readonly limitBytes: number) {}

  /** Feeds a chunk of one stream; stdout lines are `info`, stderr lines `error`. */
  write(level: LogLevel, chunk: Buffer): void {
    let decoder = this.decoders.get(level);
    if (decoder === undefined) {
      decoder = new StringDecoder('utf8');
      this.decoders.set(level, decoder);
    }
    const text = (this.partial.get(level) ?? '') + decoder.write(chunk);
    const parts = text.split('\n');
    const rest = parts.pop() ?? '';
    for (const line of parts) this.addLine(level, line);
    // A flood without newlines must not grow without bound: past the budget it becomes a line of its own.
    if (rest.length > this.limitBytes) {
      this.addLine(level, rest);
      this.partial.delete(level);
    } else {
      this.partial.set(level, rest);
    }
  }

  /** Takes what was captured since the last take (unfinished lines included) and starts a new buffer. */
  take(): CapturedOutput {
    for (const [level, rest] of this.partial) if (rest !== '') this.addLine(level, rest);
    this.partial.clear();
    const taken: CapturedOutput = { lines: this.lines, bytes: this.bytes, truncated: this.truncated };
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

  private addLine(level: LogLevel, raw: string): void {
    const message = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const size = Buffer.byteLength(message) + 1;
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
}
