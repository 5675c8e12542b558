import type { Kysely, Selectable, Transaction } from 'kysely';
import type { SecretRecord, StoredSecret } from '../core/secret.js';
import { lockFunction } from './alias-queries.js';
import type { StoreDialect } from './migrations.js';
import type { Database, SecretsTable } from './schema.js';

/**
 * The secret queries of {@link KyselyStore}. Only ciphertext reaches the store; a write takes a share lock
 * on the function row on Postgres (as alias writes do), so a secret never outlives a concurrent delete.
 */

export async function putSecret(
  db: Kysely<Database>,
  kind: StoreDialect,
  input: { functionName: string; name: string; ciphertext: string; now: string },
): Promise<{ secret: SecretRecord; created: boolean }> {
  return db.transaction().execute(async (trx) => {
    await lockFunction(trx, kind, input.functionName);
    const existing = await trx
      .selectFrom('secrets')
      .select('created_at')
      .where('function_name', '=', input.functionName)
      .where('name', '=', input.name)
      .executeTakeFirst();
    const row: SecretsTable = {
      function_name: input.functionName,
      name: input.name,
      ciphertext: input.ciphertext,
      created_at: existing?.created_at ?? input.now,
      updated_at: input.now,
    };
    // An upsert, so two writers of one new secret do not fail on the key: the last one wins.
    await trx
      .insertInto('secrets')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['function_name', 'name'])
          .doUpdateSet({ ciphertext: row.ciphertext, updated_at: row.updated_at }),
      )
      .execute();
    return { secret: toSecretRecord(row), created: existing === undefined };
  });
}

export async function listSecrets(db: Kysely<Database>, functionName: string): Promise<SecretRecord[]> {
  const rows = await db
    .selectFrom('secrets')
    .select(['function_name', 'name', 'created_at', 'updated_at'])
    .where('function_name', '=', functionName)
    .orderBy('name')
    .execute();
  return rows.map(toSecretRecord);
}

export async function loadSecrets(
  db: Kysely<Database>,
  filter: { functionName?: string | undefined },
): Promise<StoredSecret[]> {
  const rows = await db
    .selectFrom('secrets')
    .selectAll()
    .$if(filter.functionName !== undefined, (qb) => qb.where('function_name', '=', filter.functionName!))
    .orderBy('function_name')
    .orderBy('name')
    .execute();
  return rows.map((row) => ({ ...toSecretRecord(row), ciphertext: row.ciphertext }));
}

export async function deleteSecret(
  db: Kysely<Database>,
  functionName: string,
  name: string,
): Promise<boolean> {
  const deleted = await db
    .deleteFrom('secrets')
    .where('function_name', '=', functionName)
    .where('name', '=', name)
    .executeTakeFirst();
  return deleted.numDeletedRows > 0n;
}

export async function deleteSecretsOf(trx: Transaction<Database>, functionName: string): Promise<void> {
  await trx.deleteFrom('secrets').where('function_name', '=', functionName).execute();
}

function toSecretRecord(
  row: Pick<Selectable<SecretsTable>, 'function_name' | 'name' | 'created_at' | 'updated_at'>,
): SecretRecord {
  return {
    functionName: row.function_name,
    name: row.name,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
