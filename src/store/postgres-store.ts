import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { StratoError } from '../core/index.js';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';

/** Unquoted Postgres identifiers: safe in `search_path` and in DDL without quoting rules. */
const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`. */
  connectionString: string;
  /**
   * Schema holding Strato's tables, created if missing; lowercase letters, digits and `_`.
   * @default the connection's current schema (normally `public`)
   */
  schema?: string | undefined;
  /**
   * Connections in the pool.
   * @default 10
   */
  poolSize?: number | undefined;
  /**
   * Called when an idle pooled connection fails (server restart, network). The pool drops the
   * connection and opens a new one on demand; without a listener pg would crash the process.
   * @default ignore the error
   */
  onPoolError?: ((error: Error) => void) | undefined;
}

/**
 * Opens the cluster store on Postgres, migrated to the latest schema. Safe when several nodes
 * start at once: schema creation tolerates the race and Kysely's migrator holds an advisory lock.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<KyselyStore> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME_PATTERN.test(schema)) {
    throw new StratoError('VALIDATION_FAILED', `invalid Postgres schema name: ${schema}`);
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    // Set at connect time, so every pooled connection (and every statement) sees the schema
    // without qualifying table names in queries.
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  const onPoolError = options.onPoolError;
  pool.on('error', (error) => onPoolError?.(error));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

  try {
    if (schema !== undefined) await ensureSchema(db, schema);
    const store = new KyselyStore(db, {
      kind: 'postgres',
      // Kysely finds its bookkeeping tables in any schema unless told which: name ours always.
      migrationTableSchema: schema ?? (await currentSchema(db)),
    });
    await store.migrate();
    return store;
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

async function ensureSchema(db: Kysely<Database>, schema: string): Promise<void> {
  try {
    await db.schema.createSchema(schema).ifNotExists().execute();
  } catch (error) {
    // Two concurrent `create schema if not exists` can still collide on the catalog's unique
    // index; losing that race is fine as long as the schema now exists.
    const schemas = await db.introspection.getSchemas();
    if (!schemas.some((it) => it.name === schema)) throw error;
  }
}

async function currentSchema(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (schema === undefined || schema === null) {
    throw new StratoError(
      'INTERNAL',
      'no Postgres schema to create tables in: search_path names none that exists',
    );
  }
  return schema;
}
