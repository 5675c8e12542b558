import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { openSqliteStore } from '../src/store/index.js';
import { createMigrationProvider } from '../src/store/migrations.js';
import { runStoreContract } from './store-contract.js';

let contractDir: string | undefined;

runStoreContract(
  'sqlite',
  async () => {
    contractDir = await mkdtemp(join(tmpdir(), 'strato-store-'));
    // A directory that does not exist yet: opening must create it.
    return openSqliteStore({ file: join(contractDir, 'data', 'strato.db') });
  },
  async () => {
    if (contractDir !== undefined) await rm(contractDir, { recursive: true, force: true });
  },
);

describe('SQLite store file', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strato-store-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its data across close and reopen', async () => {
    const file = join(dir, 'strato.db');
    const code = new TextEncoder().encode('export default () => 1;');
    const first = await openSqliteStore({ file });
    await first.putArtifact('c0de', code);
    const published = await first.publishVersion({
      functionName: 'persisted',
      codeSha256: 'c0de',
      sourceMapSha256: null,
      config: { memoryMb: 128, timeoutMs: 1000, env: { A: 'b' }, concurrency: 1 },
      description: 'kept',
      mode: 'create',
    });
    await first.close();
    // Closing twice is harmless (shutdown paths do it).
    await first.close();

    const second = await openSqliteStore({ file });
    try {
      expect(await second.getFunction('persisted')).toStrictEqual(published.fn);
      expect(await second.getVersion('persisted', 1)).toStrictEqual(published.version);
      expect([...((await second.getArtifact('c0de')) ?? [])]).toEqual([...code]);
      expect((await second.publishVersion({ ...published.version, mode: 'update' })).version.version).toBe(2);
    } finally {
      await second.close();
    }
  });

  it('leaves the file in WAL mode with foreign keys enforced', async () => {
    const file = join(dir, 'strato.db');
    const store = await openSqliteStore({ file });
    await store.close();
    const raw = new SqliteDatabase(file);
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      // A version of a function that does not exist is refused by the schema itself.
      raw.pragma('foreign_keys = ON');
      expect(() =>
        raw
          .prepare(
            `insert into versions (function_name, version, code_sha256, code_size, config_json, description, created_at)
             values ('ghost', 1, 'x', 1, '{}', '', '')`,
          )
          .run(),
      ).toThrow(/FOREIGN KEY/);
    } finally {
      raw.close();
    }
  });

  it('0004_logs_retention counts the lines stored before it, in UTF-8 bytes', async () => {
    const file = join(dir, 'strato.db');
    const raw = new SqliteDatabase(file);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
    const migrator = new Migrator({ db, provider: createMigrationProvider('sqlite') });
    expect((await migrator.migrateTo('0003_triggers')).error).toBeUndefined();
    const insert = raw.prepare(
      `insert into logs (invocation_id, function_name, seq, ts, level, message) values (?, ?, ?, ?, 'info', ?)`,
    );
    insert.run('i1', 'old-fn', 0, 1, 'héllo');
    insert.run('i1', 'old-fn', 1, 2, 'ok');
    insert.run('i2', 'other-fn', 0, 3, '日本');
    await db.destroy();

    const store = await openSqliteStore({ file });
    try {
      expect(await store.logUsage('old-fn')).toEqual({ lines: 2, bytes: 8 });
      expect(await store.logUsage()).toEqual({ lines: 3, bytes: 14 });
      expect(await store.trimLogs({ maxBytes: 7, limit: 10 })).toEqual({ lines: 2, bytes: 8 });
      expect((await store.listLogs({ functionName: 'other-fn', limit: 10 })).map((l) => l.message)).toEqual([
        '日本',
      ]);
    } finally {
      await store.close();
    }
  });

  it("opens ':memory:' stores that share nothing", async () => {
    const a = await openSqliteStore({ file: ':memory:' });
    const b = await openSqliteStore({ file: ':memory:' });
    try {
      await a.putArtifact('only-in-a', new Uint8Array([1]));
      expect(a.kind).toBe('sqlite');
      expect(await a.getArtifact('only-in-a')).toBeDefined();
      expect(await b.getArtifact('only-in-a')).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
