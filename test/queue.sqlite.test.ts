import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteQueue } from '../src/queue/sqlite-queue.js';
import { runQueueContract } from './queue-contract.js';

let contractDir: string | undefined;

runQueueContract(
  'sqlite',
  async () => {
    // Every handle opens the same file: two handles are two consumers, a new one is a restart.
    contractDir ??= await mkdtemp(join(tmpdir(), 'strato-queue-'));
    return openSqliteQueue({ file: join(contractDir, 'data', 'queue.db') });
  },
  async () => {
    if (contractDir !== undefined) await rm(contractDir, { recursive: true, force: true });
  },
);

const message = {
  functionName: 'pruned',
  qualifier: '$LATEST',
  event: '{}',
  enqueuedAt: 1,
  maxAttempts: 1,
  maxEventAgeMs: 1000,
};

describe('SQLite queue file', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strato-queue-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is in WAL mode', async () => {
    const file = join(dir, 'queue.db');
    await openSqliteQueue({ file }).close();
    const raw = new SqliteDatabase(file);
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('prunes finished records past the retention, never queued or dead ones', async () => {
    const queue = openSqliteQueue({ file: join(dir, 'queue.db'), retentionMs: 1_000 });
    try {
      const done = await queue.enqueue(message, { idempotencyKey: 'k' });
      const dead = await queue.enqueue(message);
      const waiting = await queue.enqueue(message);
      for (const id of [done.id, dead.id]) {
        const [leased] = await queue.lease('pruned', 1, 5_000);
        expect(leased?.id).toBe(id);
        if (id === done.id) await queue.ack(id, leased?.leaseToken ?? '');
        else await queue.deadLetter(id, leased?.leaseToken ?? '', { code: 'E', message: 'e' });
      }
      queue.prune(Date.now() + 2_000);
      expect(await queue.get(done.id)).toBeUndefined();
      expect((await queue.get(dead.id))?.status).toBe('dead');
      expect((await queue.get(waiting.id))?.status).toBe('queued');
      // The key went with the window: the same key enqueues anew.
      expect((await queue.enqueue(message, { idempotencyKey: 'k' })).duplicate).toBe(false);
    } finally {
      await queue.close();
    }
  });

  it('commits enqueues still waiting for their group commit when closed', async () => {
    const file = join(dir, 'queue.db');
    const queue = openSqliteQueue({ file });
    const pending = [queue.enqueue(message), queue.enqueue(message, { idempotencyKey: 'once' })];
    pending.push(queue.enqueue(message, { idempotencyKey: 'once' }));
    await queue.close();
    const [plain, keyed, again] = await Promise.all(pending);
    expect(again).toEqual({ id: keyed?.id, duplicate: true });
    const reopened = openSqliteQueue({ file });
    try {
      expect((await reopened.get(plain?.id ?? ''))?.status).toBe('queued');
      expect((await reopened.get(keyed?.id ?? ''))?.status).toBe('queued');
      expect((await reopened.depth('pruned')).ready).toBe(2);
    } finally {
      await reopened.close();
    }
  });

  it('refuses calls after close with QUEUE_UNAVAILABLE', async () => {
    const queue = openSqliteQueue({ file: join(dir, 'queue.db') });
    await queue.close();
    await queue.close();
    await expect(queue.enqueue(message)).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
  });
});
