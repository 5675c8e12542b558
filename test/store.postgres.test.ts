import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../src/store/index.js';
import { runStoreContract } from './store-contract.js';

const connectionString = process.env.STRATO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema of this run's own, so parallel runs against one database never see each other. */
function randomSchema(): string {
  return `strato_test_${randomBytes(6).toString('hex')}`;
}

async function withClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await withClient((client) => client.query(`drop schema if exists "${schema}" cascade`));
}

async function tablesIn(schema: string): Promise<string[]> {
  return withClient(async (client) => {
    const { rows } = await client.query<{ table_name: string }>(
      'select table_name from information_schema.tables where table_schema = $1 order by table_name',
      [schema],
    );
    return rows.map((row) => row.table_name);
  });
}

const contractSchema = randomSchema();
runStoreContract(
  'postgres',
  () => openPostgresStore({ connectionString, schema: contractSchema }),
  () => dropSchema(contractSchema),
);

describe('Postgres store', () => {
  it('lets two nodes start at once on a fresh schema', async () => {
    const schema = randomSchema();
    try {
      const stores = await Promise.all([
        openPostgresStore({ connectionString, schema, poolSize: 2 }),
        openPostgresStore({ connectionString, schema, poolSize: 2 }),
      ]);
      try {
        const [a, b] = stores;
        await a.putArtifact('c0de', new Uint8Array([1, 2, 3]));
        const published = await a.publishVersion({
          functionName: 'shared',
          codeSha256: 'c0de',
          sourceMapSha256: null,
          config: { memoryMb: 128, timeoutMs: 1000, env: {}, concurrency: 1 },
          description: '',
          mode: 'create',
        });
        expect(await b.getFunction('shared')).toStrictEqual(published.fn);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
      expect(await tablesIn(schema)).toEqual([
        'aliases',
        'api_keys',
        'artifacts',
        'functions',
        'invocations',
        'kysely_migration',
        'kysely_migration_lock',
        'log_usage',
        'logs',
        'secrets',
        'triggers',
        'usage_hourly',
        'versions',
      ]);
    } finally {
      await dropSchema(schema);
    }
  });

  it("migrates into the connection's current schema when none is given", async () => {
    const schema = randomSchema();
    try {
      await withClient((client) => client.query(`create schema "${schema}"`));
      const url = new URL(connectionString);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const store = await openPostgresStore({ connectionString: url.toString() });
      await store.close();
      expect(await tablesIn(schema)).toContain('kysely_migration');
      expect(await tablesIn(schema)).toContain('functions');
    } finally {
      await dropSchema(schema);
    }
  });

  it('refuses a schema name that would need quoting', async () => {
    await expect(openPostgresStore({ connectionString, schema: 'Robert"); drop' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
