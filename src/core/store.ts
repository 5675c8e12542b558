import type { AliasRecord, FunctionConfig, FunctionRecord, VersionRecord } from './function.js';
import type { InvocationOutcome, InvocationRecord, LogLine } from './invocation.js';
import type { InvocationStats, InvocationStatsQuery } from './invocation-stats.js';
import type { CreateTriggerInput, TriggerRecord } from './trigger.js';
import type { SecretRecord, StoredSecret } from './secret.js';
import type { ApiKeyRecord, StoredApiKey } from './api-key.js';
import type { HourlyUsage, UsageQuery } from './usage.js';

export interface PublishVersionInput {
  functionName: string;
  codeSha256: string;
  sourceMapSha256: string | null;
  config: FunctionConfig;
  description: string;
  /** 'create' fails with FUNCTION_EXISTS if the function exists; 'update' fails with FUNCTION_NOT_FOUND if it does not; 'upsert' does either. */
  mode: 'create' | 'update' | 'upsert';
}

export interface CreateAliasInput {
  functionName: string;
  name: string;
  functionVersion: number;
  /** See {@link AliasRecord.additionalVersionWeights}; `{}` for none. */
  additionalVersionWeights: Record<string, number>;
  description: string;
}

/** The fields of an alias an update may change; absent fields keep their value. */
export interface AliasPatch {
  functionVersion?: number | undefined;
  /** Replaces the weights as a whole; `{}` removes the split. */
  additionalVersionWeights?: Record<string, number> | undefined;
  description?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; null on the last page. */
  next: string | null;
}

export interface InvocationQuery {
  functionName: string;
  limit: number;
  /** Cursor from a previous page. */
  cursor?: string | undefined;
  /** Only invocations that ended so. */
  outcome?: InvocationOutcome | undefined;
  /** Only cold (true) or only warm (false) invocations. */
  cold?: boolean | undefined;
  /** Epoch ms, inclusive, on `startedAt`. */
  since?: number | undefined;
  /** Epoch ms, exclusive, on `startedAt`. */
  until?: number | undefined;
}

export interface LogQuery {
  functionName: string;
  invocationId?: string | undefined;
  /** Epoch ms, inclusive. */
  since?: number | undefined;
  /** Epoch ms, exclusive. */
  until?: number | undefined;
  /** Case-insensitive substring of the message. */
  text?: string | undefined;
  limit: number;
}

/** Log lines with their message bytes (UTF-8): what is stored, or what one retention batch deleted. */
export interface LogUsage {
  lines: number;
  bytes: number;
}

/**
 * Durable platform state. One contract (test/store-contract.ts) is run against every backend:
 * SQLite for a single node, Postgres for a cluster. Methods throw StratoError with a stable code
 * for conditions a caller can act on (FUNCTION_NOT_FOUND, FUNCTION_EXISTS, ...).
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';

  /** Brings the schema up to date. Safe to call on every start and concurrently from several nodes. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Stores a content-addressed blob; storing the same hash twice is a no-op. */
  putArtifact(sha256: string, bytes: Uint8Array): Promise<void>;
  getArtifact(sha256: string): Promise<Uint8Array | undefined>;

  /**
   * Creates the next immutable version and moves `$LATEST` to it, atomically. The code (and source
   * map) artifacts must be stored first: the version's `codeSize` is read from them (ARTIFACT_NOT_FOUND).
   */
  publishVersion(
    input: PublishVersionInput,
  ): Promise<{ fn: FunctionRecord; version: VersionRecord; created: boolean }>;
  getFunction(name: string): Promise<FunctionRecord | undefined>;
  /** With `namespace`, only that namespace's functions (src/core/namespace.ts). */
  listFunctions(options: {
    limit: number;
    cursor?: string | undefined;
    namespace?: string | undefined;
  }): Promise<Page<FunctionRecord>>;
  /**
   * Deletes the function, its versions, aliases, triggers, secrets, invocation records, logs and usage
   * rollup. Returns false if it did not exist.
   */
  deleteFunction(name: string): Promise<boolean>;
  getVersion(functionName: string, version: number): Promise<VersionRecord | undefined>;
  /** Newest first. */
  listVersions(
    functionName: string,
    options: { limit: number; cursor?: string | undefined },
  ): Promise<Page<VersionRecord>>;

  /**
   * Creates an alias of an existing function. Throws ALIAS_EXISTS, FUNCTION_NOT_FOUND, VERSION_NOT_FOUND
   * (when `functionVersion` or an additional version is not published), or VALIDATION_FAILED (weights
   * outside [0, 1] or summing past 1, a key that is not a version number, or the primary version as
   * an additional one).
   */
  createAlias(input: CreateAliasInput): Promise<AliasRecord>;
  /**
   * Applies `patch` to an alias; the result is checked as {@link Store.createAlias} checks a new one.
   * Throws FUNCTION_NOT_FOUND, ALIAS_NOT_FOUND, VERSION_NOT_FOUND or VALIDATION_FAILED.
   */
  updateAlias(functionName: string, name: string, patch: AliasPatch): Promise<AliasRecord>;
  getAlias(functionName: string, name: string): Promise<AliasRecord | undefined>;
  /** By name; a function has few aliases, so the list is not paged. */
  listAliases(functionName: string): Promise<AliasRecord[]>;
  /** Returns false if the alias did not exist. */
  deleteAlias(functionName: string, name: string): Promise<boolean>;

  /**
   * Records finished invocations and their log lines in one transaction, adding the newly stored ones
   * to the hourly usage rollup in that same transaction. Rows already stored are skipped (and not
   * counted again), so a batch can be retried after a failed write. `startedAt` must be
   * `Date.toISOString()`.
   */
  recordInvocations(records: InvocationRecord[], logs: LogLine[]): Promise<void>;
  getInvocation(id: string): Promise<InvocationRecord | undefined>;
  /** Newest first; the filters narrow it before paging. */
  listInvocations(query: InvocationQuery): Promise<Page<InvocationRecord>>;
  /** Requests, errors, cold starts and p50/p99 duration per time bucket, from the invocation records. */
  invocationStats(query: InvocationStatsQuery): Promise<InvocationStats>;
  /** Oldest first within the query's window; the newest `limit` lines when more match. */
  listLogs(query: LogQuery): Promise<LogLine[]>;
  /** The hourly usage rollup of the hours in the window, by hour then function name. */
  listHourlyUsage(query: UsageQuery): Promise<HourlyUsage[]>;
  /**
   * Deletes at most `limit` lines with `ts < before` (epoch ms), oldest first, over all functions, in one
   * short transaction; call it again while it deletes `limit` lines.
   */
  expireLogs(options: { before: number; limit: number }): Promise<LogUsage>;
  /**
   * Deletes the oldest lines of the whole store, at most `limit` of them, until their message bytes total
   * at most `maxBytes`; one short transaction, to be called again while it deletes `limit` lines.
   */
  trimLogs(options: { maxBytes: number; limit: number }): Promise<LogUsage>;
  /** Lines and message bytes stored, for one function or all of them; read from running totals. */
  logUsage(functionName?: string): Promise<LogUsage>;

  /** Creates a trigger of an existing function (FUNCTION_NOT_FOUND); `id` must be new. */
  createTrigger(input: CreateTriggerInput): Promise<TriggerRecord>;
  getTrigger(id: string): Promise<TriggerRecord | undefined>;
  /** One function's triggers, or every trigger when no function is given; oldest first. */
  listTriggers(filter: { functionName?: string | undefined }): Promise<TriggerRecord[]>;
  /** Returns false if the trigger did not exist. Triggers also go with their function. */
  deleteTrigger(id: string): Promise<boolean>;
  /**
   * Moves `lastFiredSlot` forward to `slot` (ISO time), never back, so nodes racing on one slot agree.
   * Returns false if the trigger is gone or already at or past `slot`.
   */
  recordTriggerFired(id: string, slot: string): Promise<boolean>;

  /**
   * Creates or replaces a secret of an existing function (FUNCTION_NOT_FOUND); `createdAt` is kept on a
   * replace. Secrets also go with their function.
   */
  putSecret(input: {
    functionName: string;
    name: string;
    ciphertext: string;
    now: string;
  }): Promise<{ secret: SecretRecord; created: boolean }>;
  /** One function's secrets without their values, by name. */
  listSecrets(functionName: string): Promise<SecretRecord[]>;
  /** Every stored secret with its ciphertext, or one function's (for the node's decrypted cache). */
  loadSecrets(filter: { functionName?: string | undefined }): Promise<StoredSecret[]>;
  /** Returns false if the secret did not exist. */
  deleteSecret(functionName: string, name: string): Promise<boolean>;

  /** Stores a new API key (its token only as a hash); `id` and the hash must be new. */
  createApiKey(key: StoredApiKey): Promise<ApiKeyRecord>;
  /** The key whose token hashes to this, revoked or not. */
  findApiKey(tokenSha256: string): Promise<StoredApiKey | undefined>;
  /** Keys of a namespace (or all), oldest first, revoked ones included. */
  listApiKeys(filter: { namespace?: string | undefined }): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked; false if there is no such key or it already was. */
  /** With `namespace`, only a key of that namespace. False when there is no such valid key. */
  revokeApiKey(id: string, now: string, namespace?: string): Promise<boolean>;
  /** How many keys exist, revoked ones included (first start: none). */
  countApiKeys(): Promise<number>;
}
