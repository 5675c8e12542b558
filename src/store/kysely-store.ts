import { Migrator } from 'kysely';
import { whereInNamespace } from './namespace-filter.js';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { MAX_STATS_RECORDS, StratoError, bucketInvocations } from '../core/index.js';
import type {
  AliasPatch,
  AliasRecord,
  CreateAliasInput,
  FunctionConfig,
  FunctionRecord,
  HourlyUsage,
  InvocationQuery,
  InvocationOutcome,
  InvocationRecord,
  InvocationStats,
  InvocationStatsQuery,
  LogLine,
  LogQuery,
  LogUsage,
  Page,
  PublishVersionInput,
  Store,
  UsageQuery,
  VersionRecord,
} from '../core/index.js';
import * as aliasQueries from './alias-queries.js';
import * as logQueries from './log-queries.js';
import * as triggerQueries from './trigger-queries.js';
import * as secretQueries from './secret-queries.js';
import * as apiKeyQueries from './api-key-queries.js';
import type { ApiKeyRecord, StoredApiKey } from '../core/api-key.js';
import type { SecretRecord, StoredSecret } from '../core/secret.js';
import * as usageQueries from './usage-queries.js';
import type { CreateTriggerInput, TriggerRecord } from '../core/trigger.js';
import { createMigrationProvider } from './migrations.js';
import type { StoreDialect } from './migrations.js';
import type { Database, FunctionsTable, VersionsTable } from './schema.js';
import { toInvocationRecord, toInvocationRow, toLogRow } from './invocation-rows.js';

/**
 * Bind parameters per statement. SQLite allows 32766 and Postgres 65535; staying well under both
 * lets one chunk size serve both dialects.
 */
const MAX_BIND_PARAMETERS = 30_000;

/** A dialect's own path for invocation batches (one transaction per batch); closed with the store. */
export interface RecordWriter {
  write(records: InvocationRecord[], logs: LogLine[]): Promise<void>;
  close(): Promise<void>;
}

export interface KyselyStoreOptions {
  kind: StoreDialect;
  /**
   * Schema holding Kysely's migration bookkeeping tables (Postgres). Must be the schema the data
   * tables live in: Kysely looks for its tables in every schema unless told which one.
   */
  migrationTableSchema?: string | undefined;
}

/**
 * The {@link Store} on Kysely, one implementation for SQLite and Postgres. The dialect matters in
 * two places only: the migrations' blob type, and row locks (`FOR UPDATE`), which Postgres needs
 * and SQLite neither has nor needs since its write transactions are serialized.
 */
export class KyselyStore implements Store {
  readonly kind: StoreDialect;
  readonly #db: Kysely<Database>;
  readonly #migrationTableSchema: string | undefined;
  #closing: Promise<void> | undefined;
  #recordWriter: RecordWriter | undefined;

  constructor(db: Kysely<Database>, options: KyselyStoreOptions) {
    this.#db = db;
    this.kind = options.kind;
    this.#migrationTableSchema = options.migrationTableSchema;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.#db,
      provider: createMigrationProvider(this.kind),
      migrationTableSchema: this.#migrationTableSchema,
    });
    const { error } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const reason = error instanceof Error ? error.message : 'unknown error';
      throw new StratoError('INTERNAL', `store migration failed: ${reason}`, { cause: error });
    }
  }

  close(): Promise<void> {
    // Idempotent: a pg pool throws when ended twice, and shutdown paths often close twice.
    this.#closing ??= (async () => {
      await this.#recordWriter?.close();
      await this.#db.destroy();
    })();
    return this.#closing;
  }

  async putArtifact(sha256: string, bytes: Uint8Array): Promise<void> {
    await this.#db
      .insertInto('artifacts')
      .values({
        sha256,
        // Both drivers bind a Buffer as blob/bytea; this view copies nothing.
        bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        size: bytes.byteLength,
        created_at: new Date().toISOString(),
      })
      .onConflict((oc) => oc.column('sha256').doNothing())
      .execute();
  }

  async getArtifact(sha256: string): Promise<Uint8Array | undefined> {
    const row = await this.#db
      .selectFrom('artifacts')
      .select('bytes')
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    // A plain copy: the driver's Buffer may be a view into a larger pooled allocation.
    return row === undefined ? undefined : new Uint8Array(row.bytes);
  }

  /**
   * Requires the code (and source map) artifacts to be stored already: the version's `codeSize`
   * is read from them. Throws FUNCTION_EXISTS, FUNCTION_NOT_FOUND (per `mode`) or ARTIFACT_NOT_FOUND.
   */
  async publishVersion(
    input: PublishVersionInput,
  ): Promise<{ fn: FunctionRecord; version: VersionRecord; created: boolean }> {
    const name = input.functionName;
    return this.#db.transaction().execute(async (trx) => {
      let created = false;
      if (input.mode !== 'update') {
        // A write first: on Postgres a racing creator waits on the key instead of failing, and on
        // SQLite the transaction never has to upgrade from a read lock to a write lock.
        const createdAt = new Date().toISOString();
        const inserted = await trx
          .insertInto('functions')
          .values({ name, latest_version: 0, created_at: createdAt, updated_at: createdAt })
          .onConflict((oc) => oc.column('name').doNothing())
          .executeTakeFirst();
        created = inserted.numInsertedOrUpdatedRows === 1n;
        if (input.mode === 'create' && !created) {
          throw new StratoError('FUNCTION_EXISTS', `function ${name} already exists`);
        }
      }

      // Serializes publishers of one function: each computes max+1 only after the previous commits.
      const fn = await this.#lockFunction(trx, name);
      if (fn === undefined) throw new StratoError('FUNCTION_NOT_FOUND', `function ${name} does not exist`);

      const code = await trx
        .selectFrom('artifacts')
        .select('size')
        .where('sha256', '=', input.codeSha256)
        .executeTakeFirst();
      if (code === undefined) {
        throw new StratoError('ARTIFACT_NOT_FOUND', `code artifact ${input.codeSha256} is not stored`);
      }
      if (input.sourceMapSha256 !== null) {
        const sourceMap = await trx
          .selectFrom('artifacts')
          .select('sha256')
          .where('sha256', '=', input.sourceMapSha256)
          .executeTakeFirst();
        if (sourceMap === undefined) {
          throw new StratoError(
            'ARTIFACT_NOT_FOUND',
            `source map artifact ${input.sourceMapSha256} is not stored`,
          );
        }
      }

      const { max_version } = await trx
        .selectFrom('versions')
        .select((eb) => eb.fn.max<number | null>('version').as('max_version'))
        .where('function_name', '=', name)
        .executeTakeFirstOrThrow();
      const now = new Date().toISOString();
      const versionRow: VersionsTable = {
        function_name: name,
        version: (max_version ?? 0) + 1,
        code_sha256: input.codeSha256,
        code_size: code.size,
        source_map_sha256: input.sourceMapSha256,
        config_json: JSON.stringify(input.config),
        description: input.description,
        created_at: now,
      };
      await trx.insertInto('versions').values(versionRow).execute();
      await trx
        .updateTable('functions')
        .set({ latest_version: versionRow.version, updated_at: now })
        .where('name', '=', name)
        .execute();

      return {
        fn: { name, latestVersion: versionRow.version, createdAt: fn.created_at, updatedAt: now },
        version: toVersionRecord(versionRow),
        created,
      };
    });
  }

  async getFunction(name: string): Promise<FunctionRecord | undefined> {
    const row = await this.#db
      .selectFrom('functions')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row === undefined ? undefined : toFunctionRecord(row);
  }

  async listFunctions(options: {
    limit: number;
    cursor?: string | undefined;
    namespace?: string | undefined;
  }): Promise<Page<FunctionRecord>> {
    const limit = checkLimit(options.limit);
    let query = this.#db
      .selectFrom('functions')
      .selectAll()
      .$if(options.namespace !== undefined, (qb) => whereInNamespace(qb, options.namespace!))
      .orderBy('name', 'asc')
      .limit(limit + 1);
    if (options.cursor !== undefined) {
      const [after] = decodeCursor(options.cursor, isStringKey);
      query = query.where('name', '>', after);
    }
    const rows = await query.execute();
    return toPage(rows, limit, toFunctionRecord, (row) => [row.name]);
  }

  async deleteFunction(name: string): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      // Lock before touching children, in publishVersion's order, so a racing publish lands
      // wholly before or wholly after the delete.
      const fn = await this.#lockFunction(trx, name);
      // Children go even when the function row is gone: it clears invocations recorded after
      // an earlier delete (invocations and logs have no foreign key to functions).
      await trx.deleteFrom('logs').where('function_name', '=', name).execute();
      await trx.deleteFrom('log_usage').where('function_name', '=', name).execute();
      await trx.deleteFrom('invocations').where('function_name', '=', name).execute();
      await usageQueries.deleteUsageOf(trx, name);
      // Aliases before versions: their primary version is a foreign key.
      await aliasQueries.deleteAliasesOf(trx, name);
      // Before the function row: a trigger's function is a foreign key.
      await triggerQueries.deleteTriggersOf(trx, name);
      await secretQueries.deleteSecretsOf(trx, name);
      await trx.deleteFrom('versions').where('function_name', '=', name).execute();
      if (fn === undefined) return false;
      await trx.deleteFrom('functions').where('name', '=', name).execute();
      return true;
    });
  }

  async getVersion(functionName: string, version: number): Promise<VersionRecord | undefined> {
    const row = await this.#db
      .selectFrom('versions')
      .selectAll()
      .where('function_name', '=', functionName)
      .where('version', '=', version)
      .executeTakeFirst();
    return row === undefined ? undefined : toVersionRecord(row);
  }

  async listVersions(
    functionName: string,
    options: { limit: number; cursor?: string | undefined },
  ): Promise<Page<VersionRecord>> {
    const limit = checkLimit(options.limit);
    let query = this.#db
      .selectFrom('versions')
      .selectAll()
      .where('function_name', '=', functionName)
      .orderBy('version', 'desc')
      .limit(limit + 1);
    if (options.cursor !== undefined) {
      const [before] = decodeCursor(options.cursor, isNumberKey);
      query = query.where('version', '<', before);
    }
    const rows = await query.execute();
    return toPage(rows, limit, toVersionRecord, (row) => [row.version]);
  }

  createAlias(input: CreateAliasInput): Promise<AliasRecord> {
    return aliasQueries.createAlias(this.#db, this.kind, input);
  }

  updateAlias(functionName: string, name: string, patch: AliasPatch): Promise<AliasRecord> {
    return aliasQueries.updateAlias(this.#db, this.kind, functionName, name, patch);
  }

  getAlias(functionName: string, name: string): Promise<AliasRecord | undefined> {
    return aliasQueries.getAlias(this.#db, functionName, name);
  }

  listAliases(functionName: string): Promise<AliasRecord[]> {
    return aliasQueries.listAliases(this.#db, functionName);
  }

  deleteAlias(functionName: string, name: string): Promise<boolean> {
    return aliasQueries.deleteAlias(this.#db, functionName, name);
  }

  createTrigger(input: CreateTriggerInput): Promise<TriggerRecord> {
    return triggerQueries.createTrigger(this.#db, this.kind, input);
  }

  getTrigger(id: string): Promise<TriggerRecord | undefined> {
    return triggerQueries.getTrigger(this.#db, id);
  }

  listTriggers(filter: { functionName?: string | undefined }): Promise<TriggerRecord[]> {
    return triggerQueries.listTriggers(this.#db, filter);
  }

  deleteTrigger(id: string): Promise<boolean> {
    return triggerQueries.deleteTrigger(this.#db, id);
  }

  recordTriggerFired(id: string, slot: string): Promise<boolean> {
    return triggerQueries.recordTriggerFired(this.#db, id, slot);
  }
  putSecret(input: {
    functionName: string;
    name: string;
    ciphertext: string;
    now: string;
  }): Promise<{ secret: SecretRecord; created: boolean }> {
    return secretQueries.putSecret(this.#db, this.kind, input);
  }

  listSecrets(functionName: string): Promise<SecretRecord[]> {
    return secretQueries.listSecrets(this.#db, functionName);
  }

  loadSecrets(filter: { functionName?: string | undefined }): Promise<StoredSecret[]> {
    return secretQueries.loadSecrets(this.#db, filter);
  }

  deleteSecret(functionName: string, name: string): Promise<boolean> {
    return secretQueries.deleteSecret(this.#db, functionName, name);
  }
  createApiKey(key: StoredApiKey): Promise<ApiKeyRecord> {
    return apiKeyQueries.createApiKey(this.#db, key);
  }

  findApiKey(tokenSha256: string): Promise<StoredApiKey | undefined> {
    return apiKeyQueries.findApiKey(this.#db, tokenSha256);
  }

  listApiKeys(filter: { namespace?: string | undefined }): Promise<ApiKeyRecord[]> {
    return apiKeyQueries.listApiKeys(this.#db, filter);
  }

  revokeApiKey(id: string, now: string, namespace?: string): Promise<boolean> {
    return apiKeyQueries.revokeApiKey(this.#db, id, now, namespace);
  }

  countApiKeys(): Promise<number> {
    return apiKeyQueries.countApiKeys(this.#db);
  }

  /**
   * Replaces the query-builder write of invocation batches with a dialect's own (on SQLite: prepared
   * statements on a worker thread; building a 1,000-row insert through Kysely costs ~7 µs a row).
   */
  useRecordWriter(writer: RecordWriter): void {
    this.#recordWriter = writer;
  }

  /**
   * Idempotent per invocation id and per (invocation id, seq): re-recording a batch after a failed
   * flush inserts nothing twice (and does not overwrite what is already stored), and the usage rollup
   * counts only the rows this batch inserted.
   */
  async recordInvocations(records: InvocationRecord[], logs: LogLine[]): Promise<void> {
    if (records.length === 0 && logs.length === 0) return;
    if (this.#recordWriter !== undefined) {
      await this.#recordWriter.write(records, logs);
      return;
    }
    const invocationRows = records.map(toInvocationRow);
    const logRows = logs.map(toLogRow);
    await this.#db.transaction().execute(async (trx) => {
      const mark = await usageQueries.rollupMark(trx, this.kind);
      const insertedIds: string[] = [];
      for (const chunk of chunksOf(invocationRows)) {
        const inserted = await trx
          .insertInto('invocations')
          .values(chunk)
          .onConflict((oc) => oc.column('id').doNothing())
          .returning('id')
          .execute();
        for (const row of inserted) insertedIds.push(row.id);
      }
      if (invocationRows.length > 0) await usageQueries.rollUpInserted(trx, this.kind, mark, insertedIds);
      await logQueries.insertLogRows(trx, logRows, chunksOf);
    });
  }

  async getInvocation(id: string): Promise<InvocationRecord | undefined> {
    const row = await this.#db.selectFrom('invocations').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toInvocationRecord(row);
  }

  async listInvocations(query: InvocationQuery): Promise<Page<InvocationRecord>> {
    const limit = checkLimit(query.limit);
    let select = this.#db
      .selectFrom('invocations')
      .selectAll()
      .where('function_name', '=', query.functionName)
      // `id` breaks ties between invocations started in the same millisecond.
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (query.outcome !== undefined) select = select.where('outcome', '=', query.outcome);
    if (query.cold !== undefined) select = select.where('cold', '=', query.cold ? 1 : 0);
    // startedAt is Date.toISOString(), whose text order is time order.
    if (query.since !== undefined)
      select = select.where('started_at', '>=', new Date(query.since).toISOString());
    if (query.until !== undefined)
      select = select.where('started_at', '<', new Date(query.until).toISOString());
    if (query.cursor !== undefined) {
      const [startedAt, id] = decodeCursor(query.cursor, isInvocationKey);
      select = select.where((eb) => eb(eb.refTuple('started_at', 'id'), '<', eb.tuple(startedAt, id)));
    }
    const rows = await select.execute();
    return toPage(rows, limit, toInvocationRecord, (row) => [row.started_at, row.id]);
  }

  async invocationStats(query: InvocationStatsQuery): Promise<InvocationStats> {
    // Only the four columns the buckets need, newest first so a cut keeps the recent end of the window.
    const rows = await this.#db
      .selectFrom('invocations')
      .select(['started_at', 'duration_ms', 'outcome', 'cold'])
      .where('function_name', '=', query.functionName)
      .where('started_at', '>=', new Date(query.since).toISOString())
      .where('started_at', '<', new Date(query.until).toISOString())
      .orderBy('started_at', 'desc')
      .limit(MAX_STATS_RECORDS + 1)
      .execute();
    const truncated = rows.length > MAX_STATS_RECORDS;
    const samples = rows.slice(0, MAX_STATS_RECORDS).map((row) => ({
      startedAt: row.started_at,
      durationMs: row.duration_ms,
      outcome: row.outcome as InvocationOutcome,
      cold: row.cold === 1,
    }));
    return { buckets: bucketInvocations(samples, query), records: samples.length, truncated };
  }

  // async: a bad limit must reject, not throw before there is a promise.
  async listLogs(query: LogQuery): Promise<LogLine[]> {
    return logQueries.listLogs(this.#db, query, checkLimit(query.limit));
  }

  async expireLogs(options: { before: number; limit: number }): Promise<LogUsage> {
    return logQueries.expireLogs(this.#db, { before: options.before, limit: checkLimit(options.limit) });
  }

  async trimLogs(options: { maxBytes: number; limit: number }): Promise<LogUsage> {
    return logQueries.trimLogs(this.#db, { maxBytes: options.maxBytes, limit: checkLimit(options.limit) });
  }

  logUsage(functionName?: string): Promise<LogUsage> {
    return logQueries.logUsage(this.#db, functionName);
  }

  listHourlyUsage(query: UsageQuery): Promise<HourlyUsage[]> {
    return usageQueries.listHourlyUsage(this.#db, query);
  }

  /** Reads the function row, locking it on Postgres until the transaction ends. */
  #lockFunction(
    trx: Transaction<Database>,
    name: string,
  ): Promise<Pick<FunctionsTable, 'created_at'> | undefined> {
    return trx
      .selectFrom('functions')
      .select('created_at')
      .where('name', '=', name)
      .$if(this.kind === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
  }
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new StratoError('VALIDATION_FAILED', `limit must be a positive integer, got ${limit}`);
  }
  return limit;
}

function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
  keyOf: (row: Row) => unknown[],
): Page<Item> {
  // One row more than asked was fetched: its presence is what says a next page exists.
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  const next = rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null;
  return { items: pageRows.map(toItem), next };
}

function encodeCursor(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Cursors come from clients: anything that is not one of ours is a validation error, not a 500. */
function decodeCursor<Key extends unknown[]>(cursor: string, isKey: (value: unknown) => value is Key): Key {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!isKey(value)) throw new StratoError('VALIDATION_FAILED', 'invalid page cursor');
  return value;
}

function isStringKey(value: unknown): value is [string] {
  return Array.isArray(value) && value.length === 1 && typeof value[0] === 'string';
}

function isNumberKey(value: unknown): value is [number] {
  return Array.isArray(value) && value.length === 1 && Number.isInteger(value[0]);
}

function isInvocationKey(value: unknown): value is [string, string] {
  return (
    Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string'
  );
}

/** Splits rows so that one INSERT never binds more than MAX_BIND_PARAMETERS values. */
function* chunksOf<Row extends object>(rows: Row[]): Generator<Row[]> {
  const first = rows[0];
  if (first === undefined) return;
  const rowsPerChunk = Math.max(1, Math.floor(MAX_BIND_PARAMETERS / Object.keys(first).length));
  for (let start = 0; start < rows.length; start += rowsPerChunk) {
    yield rows.slice(start, start + rowsPerChunk);
  }
}

function toFunctionRecord(row: Selectable<FunctionsTable>): FunctionRecord {
  return {
    name: row.name,
    latestVersion: row.latest_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toVersionRecord(row: Selectable<VersionsTable>): VersionRecord {
  return {
    functionName: row.function_name,
    version: row.version,
    codeSha256: row.code_sha256,
    codeSize: row.code_size,
    sourceMapSha256: row.source_map_sha256,
    // Written by publishVersion from a typed FunctionConfig; the store is its only writer.
    config: JSON.parse(row.config_json) as FunctionConfig,
    description: row.description,
    createdAt: row.created_at,
  };
}
