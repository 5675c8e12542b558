import type { Kysely, Selectable } from 'kysely';
import { API_KEY_SCOPES, type ApiKeyRecord, type ApiKeyScope, type StoredApiKey } from '../core/api-key.js';
import type { RateLimitPolicy } from '../core/function.js';
import type { Database, ApiKeysTable } from './schema.js';

/** The API key queries of {@link KyselyStore}: tokens arrive and leave only as SHA-256 hashes. */

export async function createApiKey(db: Kysely<Database>, key: StoredApiKey): Promise<ApiKeyRecord> {
  const row: ApiKeysTable = {
    id: key.id,
    namespace: key.namespace,
    scopes_json: JSON.stringify(key.scopes),
    token_sha256: key.tokenSha256,
    description: key.description,
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
    rate_limit_json: key.rateLimit === null ? null : JSON.stringify(key.rateLimit),
  };
  await db.insertInto('api_keys').values(row).execute();
  return toRecord(row);
}

export async function findApiKey(
  db: Kysely<Database>,
  tokenSha256: string,
): Promise<StoredApiKey | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .selectAll()
    .where('token_sha256', '=', tokenSha256)
    .executeTakeFirst();
  return row === undefined ? undefined : { ...toRecord(row), tokenSha256: row.token_sha256 };
}

export async function listApiKeys(
  db: Kysely<Database>,
  filter: { namespace?: string | undefined },
): Promise<ApiKeyRecord[]> {
  const rows = await db
    .selectFrom('api_keys')
    .selectAll()
    .$if(filter.namespace !== undefined, (qb) => qb.where('namespace', '=', filter.namespace!))
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toRecord);
}

export async function revokeApiKey(
  db: Kysely<Database>,
  id: string,
  now: string,
  namespace?: string,
): Promise<boolean> {
  const updated = await db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .$if(namespace !== undefined, (qb) => qb.where('namespace', '=', namespace!))
    .executeTakeFirst();
  return updated.numUpdatedRows > 0n;
}

export async function countApiKeys(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

function toRecord(row: Selectable<ApiKeysTable>): ApiKeyRecord {
  const scopes = (JSON.parse(row.scopes_json) as unknown[]).filter((scope): scope is ApiKeyScope =>
    (API_KEY_SCOPES as readonly unknown[]).includes(scope),
  );
  return {
    id: row.id,
    namespace: row.namespace,
    scopes,
    description: row.description,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    rateLimit: row.rate_limit_json === null ? null : (JSON.parse(row.rate_limit_json) as RateLimitPolicy),
  };
}
