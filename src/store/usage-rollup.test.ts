import { mkdtemp, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InvocationRecord } from '../core/index.js';
import { createMigrationProvider } from './migrations.js';
import { openSqliteStore } from './sqlite-store.js';
import type { KyselyStore } from './kysely-store.js';

function record(startedAt: string, overrides: Partial<InvocationRecord> = {}): InvocationRecord {
  return {
    id: randomUUID(),
    functionName: 'edges',
    version: 1,
    trigger: 'invoke',
    startedAt,
    durationMs: 9.5,
    initDurationMs: 0,
    cold: false,
    outcome: 'success',
    error: null,
    memoryMb: 128,
    billedMs: 10,
    inFlight: 1,
    traceId: null,
    spanId: null,
    logBytes: 0,
    logTruncated: false,
    ...overrides,
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strato-rollup-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A file store writes batches on its worker thread, ':memory:' through Kysely: the two SQLite paths.
const paths: Array<[string, () => Promise<KyselyStore>]> = [
  ['the worker thread (file)', () => openSqliteStore({ file: join(dir, 'strato.db') })],
  ['Kysely (:memory:)', () => openSqliteStore({ file: ':memory:' })],
];

describe.each(paths)('the hourly rollup written by %s', (_label, open) => {
  it('puts an invocation in the hour it started in, up to the last millisecond', async () => {
    const store = await open();
    try {
      await store.recordInvocations(
        [
          record('2030-12-31T22:59:59.999Z', { billedMs: 1 }),
          // Starts in the last hour of the year and runs an hour: still that hour's.
          record('2030-12-31T23:00:00.000Z', { billedMs: 3_600_000 }),
          record('2030-12-31T23:59:59.999Z', { billedMs: 2, inFlight: 2 }),
          record('2031-01-01T00:00:00.000Z', { billedMs: 4 }),
        ],
        [],
      );
      const usage = await store.listHourlyUsage({
        since: '2030-12-31T22:00:00.000Z',
        until: '2031-01-01T01:00:00.000Z',
      });
      expect(usage.map((row) => [row.hourStart, row.requests, row.billedMs, row.peakInFlight])).toEqual([
        ['2030-12-31T22:00:00.000Z', 1, 1, 1],
        ['2030-12-31T23:00:00.000Z', 2, 3_600_002, 2],
        ['2031-01-01T00:00:00.000Z', 1, 4, 1],
      ]);
      // 3,600,002 ms × 128 MB does not fit in 32 bits.
      expect(usage[1]?.mbMs).toBe(460_800_256);
    } finally {
      await store.close();
    }
  });

  it('adds a later batch to the same hour and counts a retried record once', async () => {
    const store = await open();
    try {
      const first = record('2031-01-01T05:10:00.000Z', { inFlight: 4 });
      await store.recordInvocations([first], []);
      await store.recordInvocations([first, record('2031-01-01T05:50:00.000Z', { outcome: 'crashed' })], []);
      await store.recordInvocations([first], []);
      const usage = await store.listHourlyUsage({
        since: '2031-01-01T05:00:00.000Z',
        until: '2031-01-01T06:00:00.000Z',
      });
      expect(usage).toStrictEqual([
        {
          functionName: 'edges',
          hourStart: '2031-01-01T05:00:00.000Z',
          requests: 2,
          billedMs: 20,
          mbMs: 2560,
          errors: 1,
          peakInFlight: 4,
          peakMemoryMb: 512,
        },
      ]);
    } finally {
      await store.close();
    }
  });
});

describe('the 0006_usage_hourly migration', () => {
  it('rolls up the invocations stored before it, each counted as one in flight', async () => {
    const file = join(dir, 'old.db');
    const old = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });
    const migrated = await new Migrator({ db: old, provider: createMigrationProvider('sqlite') }).migrateTo(
      '0003_triggers',
    );
    expect(migrated.error).toBeUndefined();
    const row = {
      function_name: 'legacy',
      version: 1,
      trigger: 'invoke',
      duration_ms: 1,
      init_duration_ms: 0,
      cold: 0,
      outcome: 'success',
      error_json: null,
      memory_mb: 256,
      billed_ms: 7,
      log_bytes: 0,
      log_truncated: 0,
    };
    await old
      .insertInto('invocations' as never)
      .values([
        { ...row, id: 'old-1', started_at: '2029-06-01T08:00:00.000Z' },
        { ...row, id: 'old-2', started_at: '2029-06-01T08:30:00.000Z', outcome: 'error' },
      ] as never)
      .execute();
    await old.destroy();

    const store = await openSqliteStore({ file });
    try {
      expect(await store.getInvocation('old-1')).toMatchObject({ inFlight: 1 });
      expect(
        await store.listHourlyUsage({ since: '2029-06-01T00:00:00.000Z', until: '2029-06-02T00:00:00.000Z' }),
      ).toStrictEqual([
        {
          functionName: 'legacy',
          hourStart: '2029-06-01T08:00:00.000Z',
          requests: 2,
          billedMs: 14,
          mbMs: 3584,
          errors: 1,
          peakInFlight: 1,
          peakMemoryMb: 256,
        },
      ]);
    } finally {
      await store.close();
    }
  });
});
