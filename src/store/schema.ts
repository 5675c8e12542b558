import type { ColumnType } from 'kysely';

/**
 * Kysely's view of the tables, shared by SQLite and Postgres. Column names are snake_case as in
 * SQL; src/store/kysely-store.ts maps rows to the camelCase records of src/core.
 *
 * Dates are ISO-8601 text (what the core types carry), so they round-trip byte for byte on both
 * dialects. Booleans are integers 0/1 because SQLite has no boolean type.
 */

/** A 64-bit integer: pg returns int8 as a string (it may not fit a JS number); better-sqlite3 a number. */
export type Int8 = ColumnType<number | string, number, number>;

export interface FunctionsTable {
  name: string;
  latest_version: number;
  created_at: string;
  updated_at: string;
}

export interface VersionsTable {
  function_name: string;
  version: number;
  code_sha256: string;
  code_size: number;
  source_map_sha256: string | null;
  /** FunctionConfig as JSON: it is read whole, never queried by field. */
  config_json: string;
  description: string;
  created_at: string;
}

export interface ArtifactsTable {
  sha256: string;
  /** Both drivers return a Buffer (blob / bytea). */
  bytes: Uint8Array;
  size: number;
  created_at: string;
}

export interface InvocationsTable {
  id: string;
  function_name: string;
  version: number;
  trigger: string;
  started_at: string;
  duration_ms: number;
  init_duration_ms: number;
  cold: number;
  outcome: string;
  /** FunctionErrorInfo as JSON; null on success. */
  error_json: string | null;
  memory_mb: number;
  billed_ms: number;
  /** Added by 0006_usage_hourly with default 1 for the records before it. */
  in_flight: ColumnType<number, number | undefined, number>;
  log_bytes: number;
  log_truncated: number;
  /** Added by 0005_trace_ids: null for records written before it. */
  trace_id: string | null;
  span_id: string | null;
}

export interface LogsTable {
  invocation_id: string;
  function_name: string;
  seq: number;
  /** Epoch ms: past 2^31, hence bigint. */
  ts: Int8;
  level: string;
  message: string;
  /** UTF-8 bytes of `message`: what the size retention counts (written with the row, never recomputed). */
  bytes: number;
}

/**
 * Running totals of the logs table per function, updated in the transaction that inserts or deletes the
 * lines, so the size retention reads the store's total from a few rows instead of summing every line.
 */
export interface LogUsageTable {
  function_name: string;
  lines: Int8;
  bytes: Int8;
}

export interface AliasesTable {
  function_name: string;
  name: string;
  function_version: number;
  /** AliasRecord.additionalVersionWeights as JSON: read whole, never queried by version. */
  weights_json: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface TriggersTable {
  id: string;
  type: string;
  function_name: string;
  qualifier: string | null;
  schedule: string;
  timezone: string;
  payload_json: string;
  missed: string;
  enabled: number;
  created_at: string;
  /** ISO time of the slot last enqueued; compared as text (toISOString is fixed-width). */
  last_fired_slot: string | null;
}

export interface SecretsTable {
  function_name: string;
  name: string;
  /** AES-256-GCM ciphertext with its IV and tag (src/secrets/secret-cipher.ts); never the value. */
  ciphertext: string;
  created_at: string;
  updated_at: string;
}

export interface ApiKeysTable {
  id: string;
  namespace: string;
  /** JSON array of scopes. */
  scopes_json: string;
  /** SHA-256 of the token, hex; the token itself is never stored. */
  token_sha256: string;
  description: string;
  created_at: string;
  revoked_at: string | null;
  /** JSON RateLimitPolicy, or null for no limit. */
  rate_limit_json: string | null;
}

/** The hourly usage rollup (src/store/usage-rollup.ts); sums are bigint (pg returns them as strings). */
export interface UsageHourlyTable {
  function_name: string;
  /** ISO time of the UTC hour's start; compared as text (toISOString is fixed-width). */
  hour_start: string;
  requests: Int8;
  billed_ms: Int8;
  /** Σ billed_ms × memory_mb: exact, where GB-seconds would be a float. */
  mb_ms: Int8;
  errors: Int8;
  peak_in_flight: number;
  peak_memory_mb: Int8;
}

export interface Database {
  functions: FunctionsTable;
  versions: VersionsTable;
  artifacts: ArtifactsTable;
  invocations: InvocationsTable;
  logs: LogsTable;
  log_usage: LogUsageTable;
  aliases: AliasesTable;
  triggers: TriggersTable;
  secrets: SecretsTable;
  api_keys: ApiKeysTable;
  usage_hourly: UsageHourlyTable;
}
