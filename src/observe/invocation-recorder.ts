import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { InvocationRecord, LogLine } from '../core/invocation.js';
import type { Store } from '../core/store.js';
import type { LogFloodBound } from './log-flood-bound.js';
import type { LogMetrics } from './metrics.js';

export interface RecorderOptions {
  /** Flush at least this often. @default 100 */
  flushIntervalMs?: number;
  /** Flush early once this many records wait. @default 500 */
  maxBatch?: number;
  /** Bounds each function's log bytes per minute; lines past it are dropped here. @default no bound */
  floodBound?: LogFloodBound | undefined;
  /** Counts the lines the flood bound drops. @default none */
  metrics?: Pick<LogMetrics, 'logLinesDropped'> | undefined;
}

/**
 * Writes invocation records and their logs to the store in batches, off the invoke path: one
 * transaction per batch instead of one per invocation. A record waits at most `flushIntervalMs`;
 * `close()` flushes what is left. Emits `record` for live consumers (log tail, metrics).
 */
export class InvocationRecorder extends EventEmitter<{ record: [InvocationRecord, LogLine[]] }> {
  private records: InvocationRecord[] = [];
  private logs: LogLine[] = [];
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly maxBatch: number;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly options: RecorderOptions = {},
  ) {
    super();
    this.maxBatch = options.maxBatch ?? 500;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 100);
    this.timer.unref();
  }

  /**
   * Queues a settled invocation for the next batch. The flood bound applies here, after the function is
   * done, so that a function logging past its budget is never slowed down; the live tail sees what is stored.
   */
  add(settled: InvocationRecord, settledLogs: LogLine[]): void {
    let record = settled;
    let logs = settledLogs;
    if (this.options.floodBound !== undefined) {
      const bounded = this.options.floodBound.admit(settled, settledLogs);
      ({ record, lines: logs } = bounded);
      if (bounded.dropped > 0) this.options.metrics?.logLinesDropped(record.functionName, bounded.dropped);
    }
    this.records.push(record);
    for (const line of logs) this.logs.push(line);
    this.emit('record', record, logs);
    if (this.records.length >= this.maxBatch) void this.flush();
  }

  /** Writes everything added so far; resolves when it is in the store. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeBatch());
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async writeBatch(): Promise<void> {
    if (this.records.length === 0) return;
    const records = this.records;
    const logs = this.logs;
    this.records = [];
    this.logs = [];
    try {
      await this.store.recordInvocations(records, logs);
    } catch (error) {
      // Keep them for the next flush rather than lose them; the store may be back by then.
      this.logger.error({ err: error, records: records.length }, 'recording invocations failed; will retry');
      this.records = records.concat(this.records);
      this.logs = logs.concat(this.logs);
    }
  }
}
