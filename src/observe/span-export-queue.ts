import type { FinishedSpan } from './finished-span.js';
import type { OtlpPostResult } from './otlp-http-post.js';

/** Why spans were not exported: the queue was full (the collector is slow or down), or a batch failed. */
export type SpanDropReason = 'queue_full' | 'export_failed';

export interface SpanExportQueueOptions {
  /** Encodes a batch as an OTLP/HTTP request body. */
  encode(spans: readonly FinishedSpan[]): { body: string | Uint8Array; contentType: string };
  /** Sends one body; resolves with the outcome after retries, never rejects. */
  post(body: string | Uint8Array, contentType: string, deadline: number): Promise<OtlpPostResult>;
  /** Told every `exportDelayMs` how many spans were dropped since, and once more at shutdown. */
  onDropped(reason: SpanDropReason, spans: number, detail: string | undefined): void;
  /** Spans per export request; a full batch is sent at once, a partial one every `exportDelayMs`. @default 512 */
  maxExportBatchSize?: number;
  /** @default 1000 */
  exportDelayMs?: number;
  /** Spans waiting at most; more are dropped (and counted) rather than held. @default 8192 */
  maxQueueSize?: number;
  /** How long one export (retries included) and the final flush may take. @default 10000 */
  exportTimeoutMs?: number;
}

/**
 * Ended spans waiting for export, and the one loop that exports them: the same bounds as the SDK's
 * BatchSpanProcessor as it was configured here (512 a batch, every second, 8192 queued, one export at a
 * time), but the invoke path only pushes a plain struct: encoding and sending run from a timer or
 * setImmediate, never inside an invocation. When the collector is slow or down the queue fills and new
 * spans are dropped and counted; invocations never wait for a collector.
 */
export class SpanExportQueue {
  private queue: FinishedSpan[] = [];
  private readonly batchSize: number;
  private readonly maxQueueSize: number;
  private readonly timeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  private exporting: Promise<void> | undefined;
  private exportSoon = false;
  private closed = false;
  private droppedFull = 0;
  private droppedFailed = 0;
  private lastFailure: string | undefined;

  constructor(private readonly options: SpanExportQueueOptions) {
    this.batchSize = options.maxExportBatchSize ?? 512;
    this.maxQueueSize = options.maxQueueSize ?? 8192;
    this.timeoutMs = options.exportTimeoutMs ?? 10_000;
    this.timer = setInterval(() => {
      this.reportDrops();
      if (this.queue.length > 0) this.startExport();
    }, options.exportDelayMs ?? 1000);
    this.timer.unref();
  }

  /** On the invoke path: a push and two comparisons. */
  add(span: FinishedSpan): void {
    if (this.closed || this.queue.length >= this.maxQueueSize) {
      this.droppedFull++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.batchSize && !this.exportSoon && this.exporting === undefined) {
      this.exportSoon = true;
      setImmediate(() => {
        this.exportSoon = false;
        this.startExport();
      });
    }
  }

  /** Exports everything queued (within the export timeout), then reports what was dropped. */
  async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const deadline = Date.now() + this.timeoutMs;
    await this.exporting;
    while (this.queue.length > 0) await this.exportBatch(deadline);
    this.reportDrops();
  }

  private startExport(): void {
    if (this.exporting !== undefined || this.closed) return;
    this.exporting = this.exportFullBatches().finally(() => {
      this.exporting = undefined;
    });
  }

  /** One batch, then more while full batches wait (a burst drains without waiting for the timer). */
  private async exportFullBatches(): Promise<void> {
    do await this.exportBatch(Date.now() + this.timeoutMs);
    while (this.queue.length >= this.batchSize && !this.closed);
  }

  private async exportBatch(deadline: number): Promise<void> {
    const batch = this.queue.length <= this.batchSize ? this.queue : this.queue.slice(0, this.batchSize);
    this.queue = batch === this.queue ? [] : this.queue.slice(this.batchSize);
    const { body, contentType } = this.options.encode(batch);
    const result = await this.options.post(body, contentType, deadline);
    if (result.kind === 'failed') {
      this.droppedFailed += batch.length;
      this.lastFailure = result.reason;
      // Said at once: a failing collector is news; a full queue is summed up by the timer.
      this.reportDrops();
    }
  }

  private reportDrops(): void {
    if (this.droppedFull > 0) this.options.onDropped('queue_full', this.droppedFull, undefined);
    if (this.droppedFailed > 0) this.options.onDropped('export_failed', this.droppedFailed, this.lastFailure);
    this.droppedFull = 0;
    this.droppedFailed = 0;
    this.lastFailure = undefined;
  }
}
