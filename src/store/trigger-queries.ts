import type { Kysely, Selectable, Transaction } from 'kysely';
import type { CreateTriggerInput, MissedSlotPolicy, TriggerRecord, TriggerType } from '../core/trigger.js';
import { lockFunction } from './alias-queries.js';
import type { StoreDialect } from './migrations.js';
import type { Database, TriggersTable } from './schema.js';

/**
 * The trigger queries of {@link KyselyStore}, apart so the store class stays one screenful per concern.
 *
 * A create takes a share lock on the function row on Postgres (as alias writes do), so a trigger never
 * outlives a concurrent `deleteFunction`, which locks it for update; the foreign key backs this up.
 */

export async function createTrigger(
  db: Kysely<Database>,
  kind: StoreDialect,
  input: CreateTriggerInput,
): Promise<TriggerRecord> {
  const row: TriggersTable = {
    id: input.id,
    type: input.type,
    function_name: input.functionName,
    qualifier: input.qualifier,
    schedule: input.schedule,
    timezone: input.timezone,
    payload_json: input.payloadJson,
    missed: input.missed,
    enabled: input.enabled ? 1 : 0,
    created_at: input.createdAt,
    last_fired_slot: null,
  };
  await db.transaction().execute(async (trx) => {
    await lockFunction(trx, kind, input.functionName);
    await trx.insertInto('triggers').values(row).execute();
  });
  return toTriggerRecord(row);
}

export async function getTrigger(db: Kysely<Database>, id: string): Promise<TriggerRecord | undefined> {
  const row = await db.selectFrom('triggers').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toTriggerRecord(row);
}

export async function listTriggers(
  db: Kysely<Database>,
  filter: { functionName?: string | undefined },
): Promise<TriggerRecord[]> {
  const rows = await db
    .selectFrom('triggers')
    .selectAll()
    .$if(filter.functionName !== undefined, (qb) => qb.where('function_name', '=', filter.functionName!))
    // `id` breaks ties between triggers created in the same millisecond.
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toTriggerRecord);
}

export async function deleteTrigger(db: Kysely<Database>, id: string): Promise<boolean> {
  const deleted = await db.deleteFrom('triggers').where('id', '=', id).executeTakeFirst();
  return deleted.numDeletedRows > 0n;
}

/** Deletes a function's triggers inside the caller's transaction (`deleteFunction`). */
export async function deleteTriggersOf(trx: Transaction<Database>, functionName: string): Promise<void> {
  await trx.deleteFrom('triggers').where('function_name', '=', functionName).execute();
}

/**
 * One conditional update, so two nodes recording the same or different slots at once never move the
 * mark backwards: ISO times from `toISOString` are fixed-width, so text order is time order.
 */
export async function recordTriggerFired(db: Kysely<Database>, id: string, slot: string): Promise<boolean> {
  const updated = await db
    .updateTable('triggers')
    .set({ last_fired_slot: slot })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_fired_slot', 'is', null), eb('last_fired_slot', '<', slot)]))
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

function toTriggerRecord(row: Selectable<TriggersTable>): TriggerRecord {
  return {
    id: row.id,
    // Written by createTrigger from checked values; the store is the only writer.
    type: row.type as TriggerType,
    functionName: row.function_name,
    qualifier: row.qualifier,
    schedule: row.schedule,
    timezone: row.timezone,
    payloadJson: row.payload_json,
    missed: row.missed as MissedSlotPolicy,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    lastFiredSlot: row.last_fired_slot,
  };
}
