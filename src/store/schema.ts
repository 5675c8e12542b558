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

export interface Database {
  functions: FunctionsTable;
  versions: VersionsTable;
  artifacts: ArtifactsTable;
  invocations: InvocationsTable;
  logs: LogsTable;
  aliases: AliasesTable;
  triggers: TriggersTable;
}
