import { sql } from 'kysely';
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { LogLine, LogQuery, LogUsage } from '../core/index.js';
import { toLogLine } from './invocation-rows.js';
import type { Database, LogsTable } from './schema.js';

/** The character that escapes `%`, `_` and itself in LIKE patterns (SQLite has no default one). */
const LIKE_ESCAPE = '!';

/** What changed in one function's totals: lines and bytes added (or, negated, deleted). */
type UsageDelta = Map<string, LogUsage>;

/**
 * Inserts log rows (skipping those already stored) and adds the inserted ones to their functions'
 * totals, in the caller's transaction: the totals never disagree with the table.
 */
export async function insertLogRows(
  trx: Transaction<Database>,
  rows: Insertable<LogsTable>[],
  chunks: (rows: Insertable<LogsTable>[]) => Iterable<Insertable<LogsTable>[]>,
): Promise<void> {
  const added: UsageDelta = new Map();
  for (const chunk of chunks(rows)) {
    const inserted = await trx
      .insertInto('logs')
      .values(chunk)
      .onConflict((oc) => oc.columns(['invocation_id', 'seq']).doNothing())
      .returning(['function_name', 'bytes'])
      .execute();
    addUsage(added, inserted, 1);
  }
  for (const [functionName, usage] of added) {
    await trx
      .insertInto('log_usage')
      .values({ function_name: functionName, lines: usage.lines, bytes: usage.bytes })
      .onConflict((oc) =>
        oc.column('function_name').doUpdateSet({
          lines: sql`log_usage.lines + excluded.lines`,
          bytes: sql`log_usage.bytes + excluded.bytes`,
        }),
      )
      .execute();
  }
}

export async function expireLogs(
  db: Kysely<Database>,
  options: { before: number; limit: number },
): Promise<LogUsage> {
  return db.transaction().execute(async (trx) => {
    const oldest = await trx
      .selectFrom('logs')
      .select(['invocation_id', 'seq'])
      .where('ts', '<', options.before)
      .orderBy('ts')
      .limit(options.limit)
      .execute();
    return deleteLines(trx, oldest);
  });
}

export async function trimLogs(
  db: Kysely<Database>,
  options: { maxBytes: number; limit: number },
): Promise<LogUsage> {
  return db.transaction().execute(async (trx) => {
    const excess = (await logUsage(trx)).bytes - options.maxBytes;
    if (excess <= 0) return { lines: 0, bytes: 0 };
    const oldest = await trx
      .selectFrom('logs')
      .select(['invocation_id', 'seq', 'bytes'])
      // `ts` alone, so that the ts index is walked: a tie-breaker column makes SQLite sort the whole table.
      .orderBy('ts')
      .limit(options.limit)
      .execute();
    // Exactly the oldest lines that bring the total under the cap, not a whole batch more.
    const doomed: Array<{ invocation_id: string; seq: number }> = [];
    let freed = 0;
    for (const row of oldest) {
      if (freed >= excess) break;
      doomed.push(row);
      freed += row.bytes;
    }
    return deleteLines(trx, doomed);
  });
}

export async function logUsage(db: Kysely<Database>, functionName?: string): Promise<LogUsage> {
  const row = await db
    .selectFrom('log_usage')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number | string>('lines'), eb.lit(0)).as('lines'),
      eb.fn.coalesce(eb.fn.sum<number | string>('bytes'), eb.lit(0)).as('bytes'),
    ])
    .$if(functionName !== undefined, (qb) => qb.where('function_name', '=', functionName ?? ''))
    .executeTakeFirstOrThrow();
  // Postgres sums bigints as numeric, which pg returns as a string.
  return { lines: Number(row.lines), bytes: Number(row.bytes) };
}

export async function listLogs(db: Kysely<Database>, query: LogQuery, limit: number): Promise<LogLine[]> {
  let select = db
    .selectFrom('logs')
    .select(['invocation_id', 'function_name', 'seq', 'ts', 'level', 'message'])
    .where('function_name', '=', query.functionName);
  if (query.invocationId !== undefined) select = select.where('invocation_id', '=', query.invocationId);
  if (query.since !== undefined) select = select.where('ts', '>=', query.since);
  if (query.until !== undefined) select = select.where('ts', '<', query.until);
  if (query.text !== undefined && query.text !== '') {
    const pattern = `%${escapeLike(query.text)}%`;
    // lower() on both sides rather than ILIKE (Postgres only); ESCAPE has no builder method.
    select = select.where(
      sql<boolean>`lower(${sql.ref('message')}) like lower(${pattern}) escape ${sql.lit(LIKE_ESCAPE)}`,
    );
  }
  // Newest first to keep the newest `limit` lines, then flipped. One invocation's lines follow
  // `seq`, its own order, even if the sandbox clock stepped back.
  select =
    query.invocationId !== undefined
      ? select.orderBy('seq', 'desc')
      : select.orderBy('ts', 'desc').orderBy('invocation_id', 'desc').orderBy('seq', 'desc');
  const rows = await select.limit(limit).execute();
  return rows.reverse().map(toLogLine);
}

function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (char) => `${LIKE_ESCAPE}${char}`);
}

function addUsage(
  totals: UsageDelta,
  rows: Array<{ function_name: string; bytes: number }>,
  sign: 1 | -1,
): void {
  for (const row of rows) {
    const usage = totals.get(row.function_name) ?? { lines: 0, bytes: 0 };
    usage.lines += sign;
    usage.bytes += sign * row.bytes;
    totals.set(row.function_name, usage);
  }
}

/**
 * Deletes lines by key and takes them off their functions' totals; answers what was deleted. Only rows this
 * statement deleted count (RETURNING), so two nodes sweeping one Postgres store never subtract twice.
 */
async function deleteLines(
  trx: Transaction<Database>,
  keys: Array<{ invocation_id: string; seq: number }>,
): Promise<LogUsage> {
  if (keys.length === 0) return { lines: 0, bytes: 0 };
  const deleted = await trx
    .deleteFrom('logs')
    .where((eb) =>
      eb(
        eb.refTuple('invocation_id', 'seq'),
        'in',
        keys.map((key) => eb.tuple(key.invocation_id, key.seq)),
      ),
    )
    .returning(['function_name', 'bytes'])
    .execute();
  const removed: UsageDelta = new Map();
  addUsage(removed, deleted, -1);
  const total = { lines: 0, bytes: 0 };
  for (const [functionName, usage] of removed) {
    await trx
      .updateTable('log_usage')
      .set({
        lines: sql`lines + ${usage.lines}`,
        bytes: sql`bytes + ${usage.bytes}`,
      })
      .where('function_name', '=', functionName)
      .execute();
    total.lines -= usage.lines;
    total.bytes -= usage.bytes;
  }
  return total;
}
