import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import type { LogUsage, Store } from '../core/store.js';
import type { LogExpiryReason, LogMetrics } from './metrics.js';

export interface LogRetentionOptions {
  store: Pick<Store, 'expireLogs' | 'trimLogs'>;
  /** Lines older than this go; 0 keeps lines whatever their age. */
  maxAgeMs: number;
  /** The store's log message bytes are trimmed to this, oldest lines first; 0 sets no cap. */
  maxBytes: number;
  logger: Logger;
  metrics?: Pick<LogMetrics, 'logLinesExpired'> | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
  /** @default 60_000 */
  intervalMs?: number | undefined;
  /** Lines deleted per transaction (~7 ms of CPU each on SQLite, measured on a 200k-line store). @default 200 */
  batchSize?: number | undefined;
}

/** What one sweep deleted, by reason. */
export type LogSweepResult = Record<LogExpiryReason, LogUsage>;

/**
 * Deletes function logs past their retention: first lines older than `maxAgeMs`, then the oldest lines
 * while the store holds more than `maxBytes`. Every `intervalMs`, in batches of `batchSize` lines, one short
 * transaction each with a turn of the event loop in between: on SQLite the deletes run on the connection
 * that serves requests and hold the file's single writer lock, so a long delete would stall both.
 */
export class LogRetention {
  readonly #options: LogRetentionOptions;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #logger: Logger;
  #cancelTimer: (() => void) | undefined;
  #running: Promise<LogSweepResult> | undefined;
  #stopped = false;

  constructor(options: LogRetentionOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#batchSize = options.batchSize ?? 200;
    this.#logger = options.logger.child({ component: 'log-retention' });
  }

  /** Sweeps every `intervalMs` from now on, until {@link stop}. */
  start(): void {
    if (this.#stopped || this.#cancelTimer !== undefined) return;
    this.#arm();
  }

  /**
   * One sweep, now; a sweep already running is joined rather than doubled. Resolves with what it deleted
   * (it stops early, between batches, when the retention is stopped).
   */
  sweep(): Promise<LogSweepResult> {
    this.#running ??= this.#sweepAll().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Cancels the timer and waits for a running sweep to finish its batch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.#running?.catch(() => undefined);
  }

  #arm(): void {
    this.#cancelTimer = this.#clock.setTimer(() => {
      this.sweep()
        .catch((error: unknown) => this.#logger.error({ err: error }, 'log retention sweep failed'))
        .finally(() => {
          if (!this.#stopped) this.#arm();
        });
    }, this.#intervalMs);
  }

  async #sweepAll(): Promise<LogSweepResult> {
    const { maxAgeMs, maxBytes, store } = this.#options;
    const before = this.#clock.now() - maxAgeMs;
    const age =
      maxAgeMs > 0
        ? await this.#inBatches('age', () => store.expireLogs({ before, limit: this.#batchSize }))
        : { lines: 0, bytes: 0 };
    const size =
      maxBytes > 0 && !this.#stopped
        ? await this.#inBatches('size', () => store.trimLogs({ maxBytes, limit: this.#batchSize }))
        : { lines: 0, bytes: 0 };
    if (age.lines > 0 || size.lines > 0) this.#logger.info({ age, size }, 'expired function log lines');
    return { age, size };
  }

  /** Runs `deleteBatch` until a batch comes back short of a full one. */
  async #inBatches(reason: LogExpiryReason, deleteBatch: () => Promise<LogUsage>): Promise<LogUsage> {
    const total = { lines: 0, bytes: 0 };
    for (;;) {
      const deleted = await deleteBatch();
      total.lines += deleted.lines;
      total.bytes += deleted.bytes;
      if (deleted.lines > 0) this.#options.metrics?.logLinesExpired(reason, deleted.lines);
      if (deleted.lines < this.#batchSize || this.#stopped) break;
      await nextTurn();
    }
    return total;
  }
}
