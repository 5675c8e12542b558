import { sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { usageRollupSql } from './usage-rollup.js';

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * Schema changes, in order. Names sort lexicographically (Kysely runs them by name), so they are
 * numbered: add "0003_..." and so on, never edit a shipped one. Migrations receive an untyped
 * `Kysely` because they describe the schema before the `Database` type of schema.ts was true.
 *
 * One set of migrations serves both dialects; they branch only where the column types differ.
 * "double precision" and "bigint" need no branch: SQLite reads them as REAL and INTEGER affinity.
 */
function buildMigrations(dialect: StoreDialect): Record<string, Migration> {
  const blobType = dialect === 'postgres' ? 'bytea' : 'blob';

  return {
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('functions')
          .addColumn('name', 'text', (col) => col.primaryKey())
          .addColumn('latest_version', 'integer', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .addColumn('updated_at', 'text', (col) => col.notNull())
          .execute();

        await db.schema
          .createTable('versions')
          .addColumn('function_name', 'text', (col) => col.notNull())
          .addColumn('version', 'integer', (col) => col.notNull())
          .addColumn('code_sha256', 'text', (col) => col.notNull())
          .addColumn('code_size', 'integer', (col) => col.notNull())
          .addColumn('source_map_sha256', 'text')
          .addColumn('config_json', 'text', (col) => col.notNull())
          .addColumn('description', 'text', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .addPrimaryKeyConstraint('versions_pk', ['function_name', 'version'])
          // A version never outlives its function. No reference to artifacts: the artifact GC
          // (later) decides what is garbage, and publish may race a separate artifact upload.
          .addForeignKeyConstraint('versions_function_fk', ['function_name'], 'functions', ['name'])
          .execute();

        await db.schema
          .createTable('artifacts')
          .addColumn('sha256', 'text', (col) => col.primaryKey())
          .addColumn('bytes', blobType, (col) => col.notNull())
          .addColumn('size', 'integer', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .execute();

        // No foreign keys from invocations and logs: an invocation that finishes while its
        // function is being deleted must not fail the whole batch it is recorded in.
        await db.schema
          .createTable('invocations')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('function_name', 'text', (col) => col.notNull())
          .addColumn('version', 'integer', (col) => col.notNull())
          .addColumn('trigger', 'text', (col) => col.notNull())
          .addColumn('started_at', 'text', (col) => col.notNull())
          .addColumn('duration_ms', 'double precision', (col) => col.notNull())
          .addColumn('init_duration_ms', 'double precision', (col) => col.notNull())
          .addColumn('cold', 'integer', (col) => col.notNull())
          .addColumn('outcome', 'text', (col) => col.notNull())
          .addColumn('error_json', 'text')
          .addColumn('memory_mb', 'integer', (col) => col.notNull())
          .addColumn('billed_ms', 'integer', (col) => col.notNull())
          .addColumn('log_bytes', 'integer', (col) => col.notNull())
          .addColumn('log_truncated', 'integer', (col) => col.notNull())
          .execute();
        // `id` last so the newest-first keyset page (started_at, id) is read straight off the index.
        await db.schema
          .createIndex('invocations_function_started_idx')
          .on('invocations')
          .columns(['function_name', 'started_at', 'id'])
          .execute();

        await db.schema
          .createTable('logs')
          .addColumn('invocation_id', 'text', (col) => col.notNull())
          .addColumn('function_name', 'text', (col) => col.notNull())
          .addColumn('seq', 'integer', (col) => col.notNull())
          .addColumn('ts', 'bigint', (col) => col.notNull())
          .addColumn('level', 'text', (col) => col.notNull())
          .addColumn('message', 'text', (col) => col.notNull())
          // A key, not just an index: re-recording a batch (a retried flush) inserts nothing twice.
          .addPrimaryKeyConstraint('logs_pk', ['invocation_id', 'seq'])
          .execute();
        await db.schema
          .createIndex('logs_function_ts_idx')
          .on('logs')
          .columns(['function_name', 'ts'])
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        for (const table of ['logs', 'invocations', 'artifacts', 'versions', 'functions']) {
          await db.schema.dropTable(table).ifExists().execute();
        }
      },
    },

    '0002_aliases': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('aliases')
          .addColumn('function_name', 'text', (col) => col.notNull())
          .addColumn('name', 'text', (col) => col.notNull())
          .addColumn('function_version', 'integer', (col) => col.notNull())
          .addColumn('weights_json', 'text', (col) => col.notNull())
          .addColumn('description', 'text', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .addColumn('updated_at', 'text', (col) => col.notNull())
          .addPrimaryKeyConstraint('aliases_pk', ['function_name', 'name'])
          // The primary version is a real row; the additional versions live in weights_json and
          // are checked by the store (versions are only ever deleted with their function).
          .addForeignKeyConstraint('aliases_version_fk', ['function_name', 'function_version'], 'versions', [
            'function_name',
            'version',
          ])
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('aliases').ifExists().execute();
      },
    },

    '0003_triggers': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('triggers')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('type', 'text', (col) => col.notNull())
          .addColumn('function_name', 'text', (col) => col.notNull().references('functions.name'))
          .addColumn('qualifier', 'text')
          .addColumn('schedule', 'text', (col) => col.notNull())
          .addColumn('timezone', 'text', (col) => col.notNull())
          .addColumn('payload_json', 'text', (col) => col.notNull())
          .addColumn('missed', 'text', (col) => col.notNull())
          .addColumn('enabled', 'integer', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .addColumn('last_fired_slot', 'text')
          .execute();
        await db.schema
          .createIndex('triggers_function_idx')
          .on('triggers')
          .columns(['function_name', 'created_at'])
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('triggers').ifExists().execute();
      },
    },

    '0007_secrets': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('secrets')
          .addColumn('function_name', 'text', (col) => col.notNull().references('functions.name'))
          .addColumn('name', 'text', (col) => col.notNull())
          .addColumn('ciphertext', 'text', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .addColumn('updated_at', 'text', (col) => col.notNull())
          .addPrimaryKeyConstraint('secrets_pk', ['function_name', 'name'])
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('secrets').ifExists().execute();
      },
    },

    '0008_api_keys': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (col) => col.primaryKey())
          .addColumn('namespace', 'text', (col) => col.notNull())
          .addColumn('scopes_json', 'text', (col) => col.notNull())
          .addColumn('token_sha256', 'text', (col) => col.notNull().unique())
          .addColumn('description', 'text', (col) => col.notNull())
          .addColumn('created_at', 'text', (col) => col.notNull())
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema
          .createIndex('api_keys_namespace_idx')
          .on('api_keys')
          .columns(['namespace', 'created_at'])
          .execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('api_keys').ifExists().execute();
      },
    },

    '0009_api_key_rate_limit': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('api_keys').addColumn('rate_limit_json', 'text').execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('api_keys').dropColumn('rate_limit_json').execute();
      },
    },

    '0006_usage_hourly': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Records from before this migration did not count; 1 is what each of them knew for sure.
        await db.schema
          .alterTable('invocations')
          .addColumn('in_flight', 'integer', (col) => col.notNull().defaultTo(1))
          .execute();
        await db.schema
          .createTable('usage_hourly')
          .addColumn('function_name', 'text', (col) => col.notNull())
          .addColumn('hour_start', 'text', (col) => col.notNull())
          .addColumn('requests', 'bigint', (col) => col.notNull())
          .addColumn('billed_ms', 'bigint', (col) => col.notNull())
          .addColumn('mb_ms', 'bigint', (col) => col.notNull())
          .addColumn('errors', 'bigint', (col) => col.notNull())
          .addColumn('peak_in_flight', 'integer', (col) => col.notNull())
          .addColumn('peak_memory_mb', 'bigint', (col) => col.notNull())
          .addPrimaryKeyConstraint('usage_hourly_pk', ['function_name', 'hour_start'])
          .execute();
        // Reports read a window of hours across all functions.
        await db.schema
          .createIndex('usage_hourly_hour_idx')
          .on('usage_hourly')
          .columns(['hour_start', 'function_name'])
          .execute();
        // The invocations already stored are part of the measured workload too.
        await sql.raw(usageRollupSql(dialect, 'all')).execute(db);
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('usage_hourly').ifExists().execute();
        await db.schema.alterTable('invocations').dropColumn('in_flight').execute();
      },
    },

    '0004_logs_retention': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .alterTable('logs')
          .addColumn('bytes', 'integer', (col) => col.notNull().defaultTo(0))
          .execute();
        // SQLite's length() counts characters; a blob's length is its bytes.
        const messageBytes =
          dialect === 'postgres' ? sql`octet_length(message)` : sql`length(cast(message as blob))`;
        await sql`update logs set bytes = ${messageBytes}`.execute(db);
        // Retention deletes the oldest lines of the whole store, whatever their function.
        await db.schema.createIndex('logs_ts_idx').on('logs').column('ts').execute();
        await db.schema
          .createTable('log_usage')
          .addColumn('function_name', 'text', (col) => col.primaryKey())
          .addColumn('lines', 'bigint', (col) => col.notNull())
          .addColumn('bytes', 'bigint', (col) => col.notNull())
          .execute();
        await sql`insert into log_usage (function_name, lines, bytes)
          select function_name, count(*), sum(bytes) from logs group by function_name`.execute(db);
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('log_usage').ifExists().execute();
        await db.schema.dropIndex('logs_ts_idx').ifExists().execute();
        await db.schema.alterTable('logs').dropColumn('bytes').execute();
      },
    },

    // 0004 and 0006 are taken by other changes in flight; names only need to sort.
    '0005_trace_ids': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('invocations').addColumn('trace_id', 'text').execute();
        await db.schema.alterTable('invocations').addColumn('span_id', 'text').execute();
        // "Every invocation of this trace" (an async child, a retry) is a lookup by trace id.
        await db.schema.createIndex('invocations_trace_idx').on('invocations').column('trace_id').execute();
      },

      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropIndex('invocations_trace_idx').ifExists().execute();
        await db.schema.alterTable('invocations').dropColumn('span_id').execute();
        await db.schema.alterTable('invocations').dropColumn('trace_id').execute();
      },
    },
  };
}

/** The store's migrations as code (no files to ship or find at run time). */
export function createMigrationProvider(dialect: StoreDialect): MigrationProvider {
  const migrations = buildMigrations(dialect);
  return { getMigrations: () => Promise.resolve(migrations) };
}
