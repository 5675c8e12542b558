import type SqliteDatabase from 'better-sqlite3';

/*
 * One table holds every invocation in every state: a message moves between states by UPDATE, so a
 * state change is one atomic write and nothing is ever copied between tables (and lost in between).
 * For a running message `visible_at` is its lease expiry: an expired lease is visible again by the same
 * test as a queued message whose delay has passed.
 */
const statements = [
  `create table if not exists queue_invocations (
     id text primary key,
     function_name text not null,
     status text not null check (status in ('queued', 'running', 'succeeded', 'failed', 'dead')),
     message_json text not null,
     visible_at integer not null,
     lease_token text,
     attempts integer not null default 0,
     deliveries integer not null default 0,
     max_attempts integer not null,
     history_json text not null default '[]',
     result text,
     error_json text,
     enqueued_at integer not null,
     updated_at integer not null
   ) strict`,
  // The lease query of one function and of all; partial, so finished records do not weigh on it.
  `create index if not exists queue_fn_visible on queue_invocations (function_name, visible_at, id)
     where status in ('queued', 'running')`,
  `create index if not exists queue_visible on queue_invocations (visible_at, id)
     where status in ('queued', 'running')`,
  `create index if not exists queue_dead on queue_invocations (function_name, id) where status = 'dead'`,
  `create index if not exists queue_finished on queue_invocations (updated_at)
     where status in ('succeeded', 'failed')`,
  `create table if not exists queue_idempotency_keys (
     function_name text not null,
     idempotency_key text not null,
     id text not null,
     created_at integer not null,
     primary key (function_name, idempotency_key)
   ) strict, without rowid`,
  `create index if not exists queue_idempotency_age on queue_idempotency_keys (created_at)`,
];

/** Creates the queue's tables; idempotent, so it runs on every open. */
export function migrateQueueSchema(database: SqliteDatabase.Database): void {
  database.transaction(() => {
    for (const sql of statements) database.prepare(sql).run();
  })();
}
