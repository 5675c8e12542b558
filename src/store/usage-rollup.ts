import type { StoreDialect } from './migrations.js';

/**
 * Which invocation rows a rollup statement adds to `usage_hourly`. A batch adds only the rows it
 * actually inserted (a retried batch's rows are skipped by the insert, and must not be counted twice):
 * - `inserted-after-rowid`: SQLite rows with a rowid above the one bound as `?`, read before the
 *   batch's inserts in the same write transaction (SQLite gives new rows rowids above the current max);
 * - `inserted-ids`: Postgres rows whose id is in the array bound as `$1` (the inserts' `returning id`);
 * - `all`: every stored invocation (the migration's backfill).
 */
export type RollupSource = 'inserted-after-rowid' | 'inserted-ids' | 'all';

/** The hour an invocation started in, as ISO text: `2026-01-01T13` + `:00:00.000Z`. */
const HOUR_START = `substr(started_at, 1, 13) || ':00:00.000Z'`;

const FILTERS: Record<RollupSource, string> = {
  'inserted-after-rowid': 'rowid > ?',
  'inserted-ids': 'id = any($1)',
  all: '1 = 1',
};

/**
 * One statement that sums invocation rows per function and start hour and upsert-increments them
 * into `usage_hourly`: counts and sums add up, peaks take the larger. The same text serves the
 * Kysely path and the SQLite worker thread's prepared statement, so both stores roll up alike.
 * Sums are taken in bigint: 900,000 billed ms × 4,096 MB overflows a 32-bit integer.
 */
export function usageRollupSql(dialect: StoreDialect, source: RollupSource): string {
  const larger = dialect === 'postgres' ? 'greatest' : 'max';
  return `insert into usage_hourly
  (function_name, hour_start, requests, billed_ms, mb_ms, errors, peak_in_flight, peak_memory_mb)
select function_name, ${HOUR_START}, count(*), sum(billed_ms), sum(cast(billed_ms as bigint) * memory_mb),
  sum(case when outcome = 'success' then 0 else 1 end), max(in_flight), max(cast(in_flight as bigint) * memory_mb)
from invocations
where ${FILTERS[source]}
group by function_name, substr(started_at, 1, 13)
on conflict (function_name, hour_start) do update set
  requests = usage_hourly.requests + excluded.requests,
  billed_ms = usage_hourly.billed_ms + excluded.billed_ms,
  mb_ms = usage_hourly.mb_ms + excluded.mb_ms,
  errors = usage_hourly.errors + excluded.errors,
  peak_in_flight = ${larger}(usage_hourly.peak_in_flight, excluded.peak_in_flight),
  peak_memory_mb = ${larger}(usage_hourly.peak_memory_mb, excluded.peak_memory_mb)`;
}
