import { StringDecoder } from 'node:string_decoder';
import type { LogLevel } from '../../core/invocation.js';
import { LogBuffer, type CapturedLogs } from '../../core/log-buffer.js';

/** Logs of one invocation, as `InvokeResult` carries them. */
export type CapturedOutput = CapturedLogs;

/**
 * Collects a confined process's stdout and stderr as timestamped lines, with a byte budget per invocation
 * (the isolate tier's console has the same budget and marker). Past the budget, output is counted and
 * dropped, never left in the pipe: a process blocked on a full pipe would look like a hang.
 */
export class OutputCapture {
  private readonly buffer: LogBuffer;
  /** Unfinished last line of each stream (a line only counts once its newline arrives or it is flushed). */
  private readonly partial = new Map<LogLevel, string>();
  /** Per stream, so a UTF-8 character split across two chunks is decoded whole. */
  private readonly decoders = new Map<LogLevel, StringDecoder>();

  constructor(private readonly limitBytes: number) {
    this.buffer = new LogBuffer(limitBytes);
  }

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
    return this.buffer.take();
  }

  private addLine(level: LogLevel, raw: string): void {
    const message = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    this.buffer.add(level, message, Buffer.byteLength(message) + 1);
  }
}
