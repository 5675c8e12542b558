import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { z } from 'zod';
import type {
  AckOutcome,
  EnqueueOptions,
  InvocationQueue,
  LeasedInvocation,
  QueueDepth,
  QueueErrorInfo,
  QueueMessage,
  QueuedInvocation,
  RetryOptions,
} from '../core/invocation-queue.js';
import { StratoError } from '../core/strato-error.js';
import { newInvocationId } from './invocation-id.js';
import { LEASE_EXPIRED_ERROR, leaseError, notFound } from './queue-errors.js';
import {
  checkQueueMessage,
  parseStored,
  queueErrorInfoSchema,
  queueHistorySchema,
  queueMessageSchema,
} from './queue-schemas.js';
import { migrateQueueSchema } from './sqlite-queue-schema.js';

export interface SqliteQueueOptions {
  /** Database file (e.g. `<dataDir>/queue.db`); its directory is created if missing. */
  file: string;
  /** How long succeeded and failed records stay pollable. @default 86_400_000 (24 h) */
  retentionMs?: number;
  /**
   * How long an idempotency key maps to its first id. Defaults to the retention, so the id a duplicate
   * returns can still be polled. @default retentionMs
   */
  dedupWindowMs?: number;
  /** How often finished records and old keys are pruned. @default 60_000 */
  pruneIntervalMs?: number;
  /** @default 5000 */
  busyTimeoutMs?: number;
}

interface PendingEnqueue {
  message: QueueMessage;
  options: EnqueueOptions;
  resolve: (result: { id: string; duplicate: boolean }) => void;
  reject: (error: unknown) => void;
}

const rowSchema = z.object({
  id: z.string(),
  function_name: z.string(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'dead']),
  message_json: z.string(),
  visible_at: z.number(),
  lease_token: z.string().nullable(),
  attempts: z.number(),
  deliveries: z.number(),
  history_json: z.string(),
  result: z.string().nullable(),
  error_json: z.string().nullable(),
  updated_at: z.number(),
});
type Row = z.infer<typeof rowSchema>;

const leasedRowSchema = rowSchema.pick({
  id: true,
  lease_token: true,
  visible_at: true,
  attempts: true,
  deliveries: true,
  message_json: true,
});

/**
 * Opens (creating if needed) the single-node queue: its own SQLite file, apart from the store, so the
 * queue's fsync-per-enqueue never waits behind the store's batches and vice versa.
 */
export function openSqliteQueue(options: SqliteQueueOptions): SqliteQueue {
  if (options.file !== ':memory:' && options.file !== '')
    mkdirSync(dirname(options.file), { recursive: true });
  const database = new SqliteDatabase(options.file);
  try {
    database.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    database.pragma('journal_mode = WAL');
    // FULL, not the store's NORMAL: WAL + NORMAL may lose the last commits on a power cut, and an
    // accepted async invocation must survive one.
    database.pragma('synchronous = FULL');
    migrateQueueSchema(database);
  } catch (error) {
    database.close();
    throw error;
  }
  return new SqliteQueue(database, options);
}

export class SqliteQueue implements InvocationQueue {
  readonly kind = 'sqlite';
  private readonly retentionMs: number;
  private readonly dedupWindowMs: number;
  private readonly pruneTimer: NodeJS.Timeout;
  private closed = false;
  private pendingEnqueues: PendingEnqueue[] = [];

  constructor(
    private readonly database: SqliteDatabase.Database,
    options: SqliteQueueOptions,
  ) {
    this.retentionMs = options.retentionMs ?? 86_400_000;
    this.dedupWindowMs = options.dedupWindowMs ?? this.retentionMs;
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), options.pruneIntervalMs ?? 60_000);
    this.pruneTimer.unref();
  }

  enqueue(message: QueueMessage, options: EnqueueOptions = {}): Promise<{ id: string; duplicate: boolean }> {
    let checked: QueueMessage;
    try {
      checked = checkQueueMessage(message);
      this.run(() => undefined);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise((resolve, reject) => {
      this.pendingEnqueues.push({ message: checked, options, resolve, reject });
      if (this.pendingEnqueues.length === 1) setImmediate(() => this.flushEnqueues());
    });
  }

  /**
   * Group commit: the enqueues that arrived in one turn of the event loop (e.g. concurrent requests)
   * share one transaction, so one fsync makes all of them durable. With `synchronous = FULL` the fsync
   * is the cost of an enqueue; one per request would cap throughput at the disk's fsync rate.
   */
  private flushEnqueues(): void {
    const batch = this.pendingEnqueues;
    this.pendingEnqueues = [];
    if (batch.length === 0) return;
    try {
      // Immediate: take the write lock before reading keys, so two enqueues of one key serialise
      // (also across processes).
      const settled = this.run(() =>
        this.database
          .transaction(() =>
            batch.map((pending) => ({ pending, result: this.insertOne(pending.message, pending.options) })),
          )
          .immediate(),
      );
      for (const { pending, result } of settled) pending.resolve(result);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }

  private insertOne(checked: QueueMessage, options: EnqueueOptions): { id: string; duplicate: boolean } {
    const now = Date.now();
    const key = options.idempotencyKey;
    const id = newInvocationId(now);
    if (key !== undefined) {
      const first = this.database
        .prepare(
          `select id from queue_idempotency_keys
           where function_name = ? and idempotency_key = ? and created_at > ?`,
        )
        .pluck()
        .get(checked.functionName, key, now - this.dedupWindowMs);
      if (typeof first === 'string') return { id: first, duplicate: true };
      this.database
        .prepare(`insert or replace into queue_idempotency_keys values (?, ?, ?, ?)`)
        .run(checked.functionName, key, id, now);
    }
    this.database
      .prepare(
        `insert into queue_invocations
           (id, function_name, status, message_json, visible_at, max_attempts, enqueued_at, updated_at)
         values (?, ?, 'queued', ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        checked.functionName,
        JSON.stringify(checked),
        now + Math.max(0, options.delayMs ?? 0),
        checked.maxAttempts,
        checked.enqueuedAt,
        now,
      );
    return { id, duplicate: false };
  }

  lease(functionName: string | undefined, max: number, leaseMs: number): Promise<LeasedInvocation[]> {
    return settle(() => this.leaseNow(functionName, max, leaseMs));
  }

  private leaseNow(functionName: string | undefined, max: number, leaseMs: number): LeasedInvocation[] {
    if (max <= 0) return [];
    const now = Date.now();
    const expiredError = JSON.stringify(LEASE_EXPIRED_ERROR);
    const fnFilter = functionName === undefined ? '' : 'and function_name = @fn';
    const claim = this.database.transaction(() => {
      // A lease that expired on the last allowed attempt: the consumer died on it (maybe because of it).
      this.database
        .prepare(
          `update queue_invocations
           set status = 'dead', lease_token = null, updated_at = @now, error_json = @expiredError,
               history_json = json_set(history_json, '$[#-1].endedAt', @now, '$[#-1].error', json(@expiredError))
           where status = 'running' and visible_at <= @now and attempts >= max_attempts ${fnFilter}`,
        )
        .run({ now, expiredError, fn: functionName });
      return this.database
        .prepare(
          `update queue_invocations
           set status = 'running', lease_token = lower(hex(randomblob(16))), attempts = attempts + 1,
               deliveries = deliveries + 1, visible_at = @expires, updated_at = @now,
               history_json = json_insert(
                 case when status = 'running'
                   then json_set(history_json, '$[#-1].endedAt', @now, '$[#-1].error', json(@expiredError))
                   else history_json end,
                 '$[#]',
                 json_object('delivery', deliveries + 1, 'startedAt', @now, 'endedAt', null,
                             'counted', json('true'), 'error', null))
           where id in (
             select id from queue_invocations
             where status in ('queued', 'running') and visible_at <= @now ${fnFilter}
             order by visible_at, id limit @max)
           returning id, lease_token, visible_at, attempts, deliveries, message_json`,
        )
        .all({ now, expires: now + leaseMs, expiredError, fn: functionName, max });
    });
    const rows = this.run(() => claim.immediate()).map((row) => leasedRowSchema.parse(row));
    return rows
      .map((row) => ({
        id: row.id,
        leaseToken: row.lease_token ?? '',
        leaseExpiresAt: row.visible_at,
        attempt: row.attempts,
        delivery: row.deliveries,
        message: parseStored(queueMessageSchema, row.message_json, 'queue message'),
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  extendLease(id: string, leaseToken: string, ms: number): Promise<number> {
    return settle(() => {
      const now = Date.now();
      this.updateLeased(id, leaseToken, now, `visible_at = @until`, { until: now + ms });
      return now + ms;
    });
  }

  ack(id: string, leaseToken: string, outcome: AckOutcome = { status: 'succeeded' }): Promise<void> {
    const error = outcome.status === 'failed' ? JSON.stringify(outcome.error) : null;
    return settle(() =>
      this.updateLeased(
        id,
        leaseToken,
        Date.now(),
        `status = @status, lease_token = null, result = @result, error_json = @error,
         history_json = json_set(history_json, '$[#-1].endedAt', @now, '$[#-1].error', json(coalesce(@error, 'null')))`,
        {
          status: outcome.status,
          result: outcome.status === 'succeeded' ? (outcome.result ?? null) : null,
          error,
        },
      ),
    );
  }

  retry(id: string, leaseToken: string, options: RetryOptions): Promise<void> {
    const now = Date.now();
    return settle(() =>
      this.updateLeased(
        id,
        leaseToken,
        now,
        `status = 'queued', lease_token = null, visible_at = @visibleAt, attempts = attempts - @refund,
         history_json = json_set(history_json, '$[#-1].endedAt', @now, '$[#-1].error', json(@error),
                                 '$[#-1].counted', json(@counted))`,
        {
          visibleAt: now + Math.max(0, options.delayMs),
          refund: options.countsAsAttempt ? 0 : 1,
          error: JSON.stringify(options.error),
          counted: options.countsAsAttempt ? 'true' : 'false',
        },
      ),
    );
  }

  deadLetter(id: string, leaseToken: string, error: QueueErrorInfo): Promise<void> {
    return settle(() =>
      this.updateLeased(
        id,
        leaseToken,
        Date.now(),
        `status = 'dead', lease_token = null, error_json = @error,
         history_json = json_set(history_json, '$[#-1].endedAt', @now, '$[#-1].error', json(@error))`,
        { error: JSON.stringify(error) },
      ),
    );
  }

  get(id: string): Promise<QueuedInvocation | undefined> {
    return settle(() => {
      const row: unknown = this.run(() =>
        this.database.prepare(`select * from queue_invocations where id = ?`).get(id),
      );
      return row === undefined ? undefined : toInvocation(rowSchema.parse(row));
    });
  }

  listDead(
    functionName: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: QueuedInvocation[]; next: string | null }> {
    return settle(() => {
      const limit = Math.max(1, page.limit);
      const rows = this.run(() =>
        this.database
          .prepare(
            `select * from queue_invocations where function_name = ? and status = 'dead' and id > ?
             order by id limit ?`,
          )
          .all(functionName, page.cursor ?? '', limit + 1),
      ).map((row) => toInvocation(rowSchema.parse(row)));
      const items = rows.slice(0, limit);
      return { items, next: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    });
  }

  async getDead(id: string): Promise<QueuedInvocation | undefined> {
    const record = await this.get(id);
    return record?.status === 'dead' ? record : undefined;
  }

  redrive(target: { id: string } | { functionName: string }): Promise<number> {
    return settle(() => {
      const [filter, value] = 'id' in target ? ['id', target.id] : ['function_name', target.functionName];
      const now = Date.now();
      const moved = this.run(
        () =>
          this.database
            .prepare(
              `update queue_invocations
               set status = 'queued', attempts = 0, visible_at = ?, error_json = null, updated_at = ?
               where status = 'dead' and ${filter} = ?`,
            )
            .run(now, now, value).changes,
      );
      if ('id' in target && moved === 0) throw notFound(target.id, 'dead-lettered invocation');
      return moved;
    });
  }

  purgeDead(functionName: string): Promise<number> {
    return settle(
      () =>
        this.run(() =>
          this.database
            .prepare(`delete from queue_invocations where function_name = ? and status = 'dead'`)
            .run(functionName),
        ).changes,
    );
  }

  depth(functionName?: string): Promise<QueueDepth> {
    return settle(() => {
      const now = Date.now();
      const row = this.run(() =>
        this.database
          .prepare(
            `select
               count(*) filter (where status in ('queued', 'running') and visible_at <= @now) as ready,
               count(*) filter (where status = 'queued' and visible_at > @now) as delayed,
               count(*) filter (where status = 'running' and visible_at > @now) as running,
               count(*) filter (where status = 'dead') as dead,
               min(enqueued_at) filter (where status in ('queued', 'running') and visible_at <= @now) as oldest
             from queue_invocations
             where status in ('queued', 'running', 'dead') ${functionName === undefined ? '' : 'and function_name = @fn'}`,
          )
          .get({ now, fn: functionName }),
      );
      const counts = z
        .object({ ready: z.number(), delayed: z.number(), running: z.number(), dead: z.number() })
        .extend({ oldest: z.number().nullable() })
        .parse(row);
      return {
        ready: counts.ready,
        delayed: counts.delayed,
        running: counts.running,
        dead: counts.dead,
        oldestReadyAgeMs: counts.oldest === null ? null : Math.max(0, now - counts.oldest),
      };
    });
  }

  /** Drops finished records past the retention and idempotency keys past the window. */
  prune(now: number = Date.now()): void {
    if (this.closed) return;
    this.database.transaction(() => {
      this.database
        .prepare(`delete from queue_invocations where status in ('succeeded', 'failed') and updated_at < ?`)
        .run(now - this.retentionMs);
      this.database
        .prepare(`delete from queue_idempotency_keys where created_at < ?`)
        .run(now - this.dedupWindowMs);
    })();
  }

  close(): Promise<void> {
    if (!this.closed) {
      // Accepted enqueues are committed, not dropped.
      this.flushEnqueues();
      this.closed = true;
      clearInterval(this.pruneTimer);
      this.database.close();
    }
    return Promise.resolve();
  }

  /**
   * Applies `set` to a message only while `leaseToken` is its current, unexpired lease. The token is
   * random per lease, so a consumer whose lease expired (and maybe was re-leased) cannot touch it.
   */
  private updateLeased(
    id: string,
    leaseToken: string,
    now: number,
    set: string,
    params: Record<string, string | number | null>,
  ): void {
    const changes = this.run(
      () =>
        this.database
          .prepare(
            `update queue_invocations set ${set}, updated_at = @now
             where id = @id and status = 'running' and lease_token = @leaseToken and visible_at > @now`,
          )
          .run({ ...params, id, leaseToken, now }).changes,
    );
    if (changes === 1) return;
    const exists = this.run(() =>
      this.database.prepare(`select 1 from queue_invocations where id = ?`).pluck().get(id),
    );
    throw exists === undefined ? notFound(id) : leaseError(id);
  }

  /** Runs a statement, turning "the queue is closed" into a coded error instead of a TypeError. */
  private run<T>(statement: () => T): T {
    if (this.closed) throw new StratoError('QUEUE_UNAVAILABLE', 'the queue is closed');
    return statement();
  }
}

function toInvocation(row: Row): QueuedInvocation {
  return {
    id: row.id,
    status: row.status,
    message: parseStored(queueMessageSchema, row.message_json, 'queue message'),
    attempts: row.attempts,
    deliveries: row.deliveries,
    history: parseStored(queueHistorySchema, row.history_json, 'attempt history'),
    result: row.result,
    error: row.error_json === null ? null : parseStored(queueErrorInfoSchema, row.error_json, 'queue error'),
    updatedAt: row.updated_at,
    visibleAt: row.visible_at,
  };
}

/** Runs synchronous SQLite work as a promise, so a throw rejects it instead of escaping the call. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
