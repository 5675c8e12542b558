import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  SqliteAdapter,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { DatabaseConnection, Dialect, SqliteDialectConfig } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import { SqliteRecordWorker } from './sqlite-record-worker.js';
import type { Database } from './schema.js';

export interface SqliteStoreOptions {
  /** Database file; its directory is created if missing. `':memory:'` for a throwaway store. */
  file: string;
  /**
   * How long a statement waits for another process's lock before failing with SQLITE_BUSY.
   * @default 5000
   */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) the single-node store: one SQLite file in WAL mode, migrated to the
 * latest schema before it is returned.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<KyselyStore> {
  if (options.file !== ':memory:' && options.file !== '') {
    mkdirSync(dirname(options.file), { recursive: true });
  }
  const database = new SqliteDatabase(options.file);
  try {
    // busy_timeout first: switching to WAL itself needs a lock another process may hold.
    database.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    // WAL lets readers (e.g. the CLI) run while the server writes; NORMAL is durable in WAL
    // mode except for the last transactions before a power loss, never corrupting.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    // SQLite's lower() folds ASCII only; log search lowers both sides, and must fold 'É' as Postgres does.
    database.function('lower', { deterministic: true }, (text: unknown) =>
      typeof text === 'string' ? text.toLowerCase() : text,
    );
  } catch (error) {
    database.close();
    throw error;
  }

  const store = new KyselyStore(new Kysely<Database>({ dialect: createSqliteDialect({ database }) }), {
    kind: 'sqlite',
  });
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  // A file can be opened twice: invocation batches go through a second connection on a worker thread.
  if (options.file !== ':memory:' && options.file !== '') {
    store.useRecordWriter(
      new SqliteRecordWorker({ file: options.file, busyTimeoutMs: options.busyTimeoutMs ?? 5000 }),
    );
  }
  return store;
}

/**
 * Kysely's SQLite dialect with two changes, both for several processes sharing one file (server
 * and CLI, or two servers started at once):
 * - write transactions start with `BEGIN IMMEDIATE`, so they take the write lock up front and wait
 *   `busy_timeout` for it; a deferred `BEGIN` that reads then writes fails at once with SQLITE_BUSY
 *   when another process wrote in between;
 * - migrations run in one transaction (SQLite does have transactional DDL, Kysely just does not
 *   assume it), which with the above makes the migration itself the cross-process lock. A future
 *   migration that needs `PRAGMA foreign_keys = OFF` (a table rebuild) must use
 *   `PRAGMA defer_foreign_keys` instead: the former is a no-op inside a transaction.
 */
function createSqliteDialect(config: SqliteDialectConfig): Dialect {
  return {
    createDriver: () => new ImmediateTransactionSqliteDriver(config),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createAdapter: () => new TransactionalDdlSqliteAdapter(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  };
}

class ImmediateTransactionSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
