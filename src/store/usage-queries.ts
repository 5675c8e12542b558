import { CompiledQuery, sql } from 'kysely';
import { whereInNamespace } from './namespace-filter.js';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { HourlyUsage, UsageQuery } from '../core/index.js';
import type { StoreDialect } from './migrations.js';
import type { Database, UsageHourlyTable } from './schema.js';
import { usageRollupSql } from './usage-rollup.js';

/** The hourly usage rollup's queries (src/store/usage-rollup.ts holds the statement that fills it). */

export async function listHourlyUsage(db: Kysely<Database>, query: UsageQuery): Promise<HourlyUsage[]> {
  const rows = await db
    .selectFrom('usage_hourly')
    .selectAll()
    .where('hour_start', '>=', query.since)
    .where('hour_start', '<', query.until)
    .$if(query.functionName !== undefined, (qb) => qb.where('function_name', '=', query.functionName!))
    .$if(query.namespace !== undefined, (qb) => whereInNamespace(qb, query.namespace!, 'function_name'))
    .orderBy('hour_start', 'asc')
    .orderBy('function_name', 'asc')
    .execute();
  return rows.map(toHourlyUsage);
}

export async function deleteUsageOf(trx: Transaction<Database>, functionName: string): Promise<void> {
  await trx.deleteFrom('usage_hourly').where('function_name', '=', functionName).execute();
}

/**
 * What a batch must remember before inserting its invocations so that the rollup counts only the rows
 * it inserted: on SQLite the current highest rowid (nothing for Postgres, whose inserts return ids).
 */
export async function rollupMark(trx: Transaction<Database>, dialect: StoreDialect): Promise<number> {
  if (dialect === 'postgres') return 0;
  const { rows } = await sql<{
    max_rowid: number;
  }>`select coalesce(max(rowid), 0) as max_rowid from invocations`.execute(trx);
  return rows[0]?.max_rowid ?? 0;
}

/** Adds the batch's inserted invocations (after `mark` on SQLite, `insertedIds` on Postgres) to the rollup. */
export async function rollUpInserted(
  trx: Transaction<Database>,
  dialect: StoreDialect,
  mark: number,
  insertedIds: string[],
): Promise<void> {
  if (dialect === 'postgres') {
    if (insertedIds.length === 0) return;
    await trx.executeQuery(CompiledQuery.raw(usageRollupSql(dialect, 'inserted-ids'), [insertedIds]));
    return;
  }
  await trx.executeQuery(CompiledQuery.raw(usageRollupSql(dialect, 'inserted-after-rowid'), [mark]));
}

function toHourlyUsage(row: Selectable<UsageHourlyTable>): HourlyUsage {
  return {
    functionName: row.function_name,
    hourStart: row.hour_start,
    // bigint columns: strings from pg. Exact up to 2^53 (mb_ms: ~2.4 million 15-minute 4 GB runs an hour).
    requests: Number(row.requests),
    billedMs: Number(row.billed_ms),
    mbMs: Number(row.mb_ms),
    errors: Number(row.errors),
    peakInFlight: row.peak_in_flight,
    peakMemoryMb: Number(row.peak_memory_mb),
  };
}
