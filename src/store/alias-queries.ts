import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AliasRecord } from '../core/function.js';
import type { AliasPatch, CreateAliasInput } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type { StoreDialect } from './migrations.js';
import type { AliasesTable, Database } from './schema.js';

/**
 * The alias queries of {@link KyselyStore}, apart so the store class stays one screenful per concern.
 * Each takes the store's Kysely instance (or, for {@link deleteAliasesOf}, the caller's transaction).
 *
 * Writes take a share lock on the function row on Postgres: alias changes of one function do not wait
 * for each other, but they do wait for (and are waited on by) `deleteFunction` and `publishVersion`,
 * which lock it for update, so an alias never points at versions a concurrent delete has removed.
 * SQLite needs no lock: its write transactions are serialized (`BEGIN IMMEDIATE`).
 */

/** Version numbers as they appear in weights keys: what a qualifier accepts as a version. */
const VERSION_KEY_PATTERN = /^[1-9]\d{0,9}$/;

/** Creates an alias; see `Store.createAlias` for the error codes. */
export async function createAlias(
  db: Kysely<Database>,
  kind: StoreDialect,
  input: CreateAliasInput,
): Promise<AliasRecord> {
  const extraVersions = checkTarget(input.functionVersion, input.additionalVersionWeights);
  return db.transaction().execute(async (trx) => {
    await lockFunction(trx, kind, input.functionName);
    await requireVersions(trx, input.functionName, [input.functionVersion, ...extraVersions]);
    const now = new Date().toISOString();
    const row: AliasesTable = {
      function_name: input.functionName,
      name: input.name,
      function_version: input.functionVersion,
      weights_json: JSON.stringify(input.additionalVersionWeights),
      description: input.description,
      created_at: now,
      updated_at: now,
    };
    // Insert-or-nothing rather than read-then-insert: two racing creators cannot both pass a read.
    const inserted = await trx
      .insertInto('aliases')
      .values(row)
      .onConflict((oc) => oc.columns(['function_name', 'name']).doNothing())
      .executeTakeFirst();
    if (inserted.numInsertedOrUpdatedRows !== 1n) {
      throw new StratoError(
        'ALIAS_EXISTS',
        `function '${input.functionName}' already has an alias '${input.name}'`,
      );
    }
    return toAliasRecord(row);
  });
}

/** Applies a partial update; see `Store.updateAlias` for the error codes. */
export function updateAlias(
  db: Kysely<Database>,
  kind: StoreDialect,
  functionName: string,
  name: string,
  patch: AliasPatch,
): Promise<AliasRecord> {
  return db.transaction().execute(async (trx) => {
    await lockFunction(trx, kind, functionName);
    // Locked for update: two patches of one alias merge one after the other, not over each other.
    const current = await trx
      .selectFrom('aliases')
      .selectAll()
      .where('function_name', '=', functionName)
      .where('name', '=', name)
      .$if(kind === 'postgres', (qb) => qb.forUpdate())
      .executeTakeFirst();
    if (current === undefined) throw aliasNotFound(functionName, name);

    const functionVersion = patch.functionVersion ?? current.function_version;
    const weights = patch.additionalVersionWeights ?? parseWeights(current.weights_json);
    const extraVersions = checkTarget(functionVersion, weights);
    await requireVersions(trx, functionName, [functionVersion, ...extraVersions]);
    const row: AliasesTable = {
      ...current,
      function_version: functionVersion,
      weights_json: JSON.stringify(weights),
      description: patch.description ?? current.description,
      updated_at: new Date().toISOString(),
    };
    await trx
      .updateTable('aliases')
      .set({
        function_version: row.function_version,
        weights_json: row.weights_json,
        description: row.description,
        updated_at: row.updated_at,
      })
      .where('function_name', '=', functionName)
      .where('name', '=', name)
      .execute();
    return toAliasRecord(row);
  });
}

export async function getAlias(
  db: Kysely<Database>,
  functionName: string,
  name: string,
): Promise<AliasRecord | undefined> {
  const row = await db
    .selectFrom('aliases')
    .selectAll()
    .where('function_name', '=', functionName)
    .where('name', '=', name)
    .executeTakeFirst();
  return row === undefined ? undefined : toAliasRecord(row);
}

/** A function's aliases by name. */
export async function listAliases(db: Kysely<Database>, functionName: string): Promise<AliasRecord[]> {
  const rows = await db
    .selectFrom('aliases')
    .selectAll()
    .where('function_name', '=', functionName)
    .orderBy('name', 'asc')
    .execute();
  return rows.map(toAliasRecord);
}

/** Returns false when there was no such alias. */
export async function deleteAlias(
  db: Kysely<Database>,
  functionName: string,
  name: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom('aliases')
    .where('function_name', '=', functionName)
    .where('name', '=', name)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Deletes every alias of a function, inside `deleteFunction`'s transaction (before its versions). */
export async function deleteAliasesOf(trx: Transaction<Database>, functionName: string): Promise<void> {
  await trx.deleteFrom('aliases').where('function_name', '=', functionName).execute();
}

/**
 * Checks what the schema cannot: the weights' keys, their range and sum, and that the primary version
 * is not also an additional one. Returns the additional version numbers. The HTTP API checks the same
 * (and Lambda's one-extra-version limit) with zod; this keeps every other caller of the store honest.
 */
function checkTarget(functionVersion: number, weights: Record<string, number>): number[] {
  if (!Number.isInteger(functionVersion) || functionVersion < 1) {
    throw invalid(`functionVersion must be a positive integer, got ${functionVersion}`);
  }
  let total = 0;
  const versions: number[] = [];
  for (const [key, weight] of Object.entries(weights)) {
    if (!VERSION_KEY_PATTERN.test(key)) throw invalid(`'${key}' is not a version number`);
    if (!Number.isFinite(weight) || weight < 0 || weight > 1) {
      throw invalid(`the weight of version ${key} must be between 0 and 1, got ${weight}`);
    }
    const version = Number(key);
    if (version === functionVersion) {
      throw invalid(`version ${key} is the alias's functionVersion; it cannot also be an additional version`);
    }
    total += weight;
    versions.push(version);
  }
  // A little slack for float sums such as 0.1 + 0.2 + 0.7.
  if (total > 1 + 1e-9) throw invalid(`the additional version weights add up to ${total}, more than 1`);
  return versions;
}

/** Reads the function row, share-locking it on Postgres (see the file comment); FUNCTION_NOT_FOUND if absent. */
export async function lockFunction(
  trx: Transaction<Database>,
  kind: StoreDialect,
  functionName: string,
): Promise<void> {
  const fn = await trx
    .selectFrom('functions')
    .select('name')
    .where('name', '=', functionName)
    .$if(kind === 'postgres', (qb) => qb.forShare())
    .executeTakeFirst();
  if (fn === undefined) {
    throw new StratoError('FUNCTION_NOT_FOUND', `function '${functionName}' does not exist`);
  }
}

async function requireVersions(
  trx: Transaction<Database>,
  functionName: string,
  versions: number[],
): Promise<void> {
  const rows = await trx
    .selectFrom('versions')
    .select('version')
    .where('function_name', '=', functionName)
    .where('version', 'in', versions)
    .execute();
  const found = new Set(rows.map((row) => row.version));
  const missing = versions.find((version) => !found.has(version));
  if (missing !== undefined) {
    throw new StratoError('VERSION_NOT_FOUND', `function '${functionName}' has no version ${missing}`);
  }
}

function parseWeights(json: string): Record<string, number> {
  // Written by this file from a checked Record<string, number>; the store is its only writer.
  return JSON.parse(json) as Record<string, number>;
}

function toAliasRecord(row: Selectable<AliasesTable>): AliasRecord {
  return {
    functionName: row.function_name,
    name: row.name,
    functionVersion: row.function_version,
    additionalVersionWeights: parseWeights(row.weights_json),
    description: row.description,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function aliasNotFound(functionName: string, name: string): StratoError {
  return new StratoError('ALIAS_NOT_FOUND', `function '${functionName}' has no alias '${name}'`);
}

function invalid(message: string): StratoError {
  return new StratoError('VALIDATION_FAILED', message);
}
