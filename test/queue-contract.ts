import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { InvocationQueue, LeasedInvocation, QueueMessage } from '../src/core/invocation-queue.js';
import { expectCode } from './helpers/expect-code.js';

/** A name no other test (or parallel run) uses. */
function uniqueName(label: string): string {
  return `${label}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

function message(functionName: string, overrides: Partial<QueueMessage> = {}): QueueMessage {
  return {
    functionName,
    qualifier: '$LATEST',
    event: JSON.stringify({ n: Math.random() }),
    enqueuedAt: Date.now(),
    maxAttempts: 3,
    maxEventAgeMs: 3_600_000,
    ...overrides,
  };
}

/** Polls `probe` until it returns something other than undefined (backends redeliver on their own clock). */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** Leases one message of `fn`, waiting for it to become visible. */
function leaseOne(queue: InvocationQueue, fn: string, leaseMs: number): Promise<LeasedInvocation> {
  return eventually(async () => (await queue.lease(fn, 1, leaseMs))[0]);
}

/**
 * The behaviour every {@link InvocationQueue} backend must have. `open` may be called any number of
 * times: every handle it returns is a separate connection to the same queue (this is how two
 * consumers and a restart are simulated). Every test uses function names of its own.
 */
export function runQueueContract(
  name: string,
  open: () => Promise<InvocationQueue>,
  cleanup?: () => Promise<void>,
): void {
  describe(`InvocationQueue contract: ${name}`, () => {
    const handles: InvocationQueue[] = [];
    async function connect(): Promise<InvocationQueue> {
      const handle = await open();
      handles.push(handle);
      return handle;
    }

    afterAll(async () => {
      for (const handle of handles) await handle.close();
      await cleanup?.();
    });

    it('enqueues, leases and acks, keeping the result for polling', async () => {
      const queue = await connect();
      const fn = uniqueName('basic');
      const sent = message(fn, { callbackUrl: 'http://127.0.0.1:1/cb', traceparent: '00-abc-def-01' });
      const { id, duplicate } = await queue.enqueue(sent);
      expect(duplicate).toBe(false);
      expect((await queue.get(id))?.status).toBe('queued');

      const [leased, ...rest] = await queue.lease(fn, 10, 5_000);
      expect(rest).toEqual([]);
      expect(leased).toMatchObject({ id, attempt: 1, delivery: 1, message: sent });
      expect(leased?.leaseExpiresAt).toBeGreaterThan(Date.now());
      expect((await queue.get(id))?.status).toBe('running');
      expect(await queue.lease(fn, 10, 5_000)).toEqual([]);

      await queue.ack(id, leased?.leaseToken ?? '', { status: 'succeeded', result: '"done"' });
      const record = await queue.get(id);
      expect(record).toMatchObject({ id, status: 'succeeded', result: '"done"', attempts: 1, message: sent });
      expect(record?.history).toHaveLength(1);
      expect(record?.history[0]?.endedAt).not.toBeNull();
      expect(await queue.lease(fn, 10, 5_000)).toEqual([]);
      expect(await queue.get(randomUUID())).toBeUndefined();
    });

    it('refuses a malformed message', async () => {
      const queue = await connect();
      await expectCode(queue.enqueue(message(uniqueName('bad'), { maxAttempts: 0 })), 'VALIDATION_FAILED');
    });

    it('never leases a message to two consumers while its lease holds', async () => {
      const [a, b] = [await connect(), await connect()];
      const fn = uniqueName('exclusive');
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) ids.add((await a.enqueue(message(fn))).id);

      const seen: string[] = [];
      async function consume(queue: InvocationQueue): Promise<void> {
        for (let idle = 0; idle < 10;) {
          const batch = await queue.lease(fn, 3, 10_000);
          if (batch.length === 0) idle++;
          seen.push(...batch.map((m) => m.id));
          await sleep(1);
        }
      }
      await Promise.all([consume(a), consume(b)]);
      expect(seen.length).toBe(20);
      expect(new Set(seen)).toEqual(ids);
    });

    it('delivers again with attempt + 1 once a lease expires', async () => {
      const queue = await connect();
      const fn = uniqueName('expiry');
      const { id } = await queue.enqueue(message(fn));
      const first = await leaseOne(queue, fn, 150);
      const second = await leaseOne(queue, fn, 5_000);
      expect(second).toMatchObject({ id, attempt: 2, delivery: 2 });
      expect(second.leaseToken).not.toBe(first.leaseToken);
      const record = await queue.get(id);
      expect(record).toMatchObject({ status: 'running', attempts: 2, deliveries: 2 });
      expect(record?.history[0]?.error?.code).toBe('LEASE_EXPIRED');
      await queue.ack(id, second.leaseToken);
    });

    it('keeps an extended lease from being delivered again', async () => {
      const [a, b] = [await connect(), await connect()];
      const fn = uniqueName('extend');
      const { id } = await a.enqueue(message(fn));
      const leased = await leaseOne(a, fn, 400);
      for (let i = 0; i < 6; i++) {
        await sleep(150);
        expect(await a.extendLease(id, leased.leaseToken, 400)).toBeGreaterThan(Date.now());
        expect(await b.lease(fn, 10, 5_000)).toEqual([]);
      }
      await a.ack(id, leased.leaseToken);
      expect((await b.get(id))?.status).toBe('succeeded');
    });

    it('rejects a stale lease token with LEASE_LOST and an unknown id with INVOCATION_NOT_FOUND', async () => {
      const [a, b] = [await connect(), await connect()];
      const fn = uniqueName('stale');
      const { id } = await a.enqueue(message(fn));
      const first = await leaseOne(a, fn, 150);
      await sleep(250);
      // Expired even though nobody took it over yet: the consumer must not believe it still owns it.
      await expectCode(a.ack(id, first.leaseToken), 'LEASE_LOST');
      const second = await leaseOne(b, fn, 5_000);
      await expectCode(a.ack(id, first.leaseToken), 'LEASE_LOST');
      await expectCode(a.extendLease(id, first.leaseToken, 1_000), 'LEASE_LOST');
      await expectCode(
        a.retry(id, first.leaseToken, {
          delayMs: 0,
          countsAsAttempt: true,
          error: { code: 'X', message: 'x' },
        }),
        'LEASE_LOST',
      );
      await expectCode(a.deadLetter(id, first.leaseToken, { code: 'X', message: 'x' }), 'LEASE_LOST');
      await expectCode(a.ack(id, 'not-a-token'), 'LEASE_LOST');
      await expectCode(a.ack(randomUUID(), second.leaseToken), 'INVOCATION_NOT_FOUND');
      await b.ack(id, second.leaseToken);
      await expectCode(b.ack(id, second.leaseToken), 'LEASE_LOST');
      expect((await a.get(id))?.status).toBe('succeeded');
    });

    it('hides a retried message until its delay has passed', async () => {
      const queue = await connect();
      const fn = uniqueName('retry');
      const { id } = await queue.enqueue(message(fn));
      const first = await leaseOne(queue, fn, 5_000);
      const retriedAt = Date.now();
      await queue.retry(id, first.leaseToken, {
        delayMs: 500,
        countsAsAttempt: true,
        error: { code: 'FUNCTION_ERROR', message: 'boom' },
      });
      expect((await queue.get(id))?.status).toBe('queued');
      expect(await queue.lease(fn, 10, 5_000)).toEqual([]);
      expect((await queue.depth(fn)).delayed).toBe(1);
      const second = await leaseOne(queue, fn, 5_000);
      expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(480);
      expect(second).toMatchObject({ id, attempt: 2, delivery: 2 });
      const record = await queue.get(id);
      expect(record?.history[0]).toMatchObject({ counted: true, error: { code: 'FUNCTION_ERROR' } });
      await queue.ack(id, second.leaseToken);
    });

    it('gives the attempt back when a retry does not count', async () => {
      const queue = await connect();
      const fn = uniqueName('throttled');
      const { id } = await queue.enqueue(message(fn, { maxAttempts: 1 }));
      const first = await leaseOne(queue, fn, 5_000);
      await queue.retry(id, first.leaseToken, {
        delayMs: 0,
        countsAsAttempt: false,
        error: { code: 'TOO_MANY_REQUESTS', message: 'throttled' },
      });
      const second = await leaseOne(queue, fn, 5_000);
      expect(second).toMatchObject({ id, attempt: 1, delivery: 2 });
      const record = await queue.get(id);
      expect(record).toMatchObject({ attempts: 1, deliveries: 2 });
      expect(record?.history[0]).toMatchObject({ counted: false, error: { code: 'TOO_MANY_REQUESTS' } });
      await queue.ack(id, second.leaseToken, { status: 'failed', error: { code: 'E', message: 'no' } });
      expect(await queue.get(id)).toMatchObject({ status: 'failed', error: { code: 'E', message: 'no' } });
    });

    it('dead-letters a message whose lease expired on its last attempt', async () => {
      const queue = await connect();
      const fn = uniqueName('poison');
      const { id } = await queue.enqueue(message(fn, { maxAttempts: 1 }));
      await leaseOne(queue, fn, 100);
      const dead = await eventually(async () => {
        expect(await queue.lease(fn, 10, 5_000)).toEqual([]);
        return queue.getDead(id);
      });
      expect(dead).toMatchObject({ id, status: 'dead', error: { code: 'LEASE_EXPIRED' } });
    });

    it('lists, gets, redrives and purges dead letters', async () => {
      const queue = await connect();
      const fn = uniqueName('dlq');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await queue.enqueue(message(fn))).id);
      for (let i = 0; i < 3; i++) {
        const leased = await leaseOne(queue, fn, 5_000);
        await queue.deadLetter(leased.id, leased.leaseToken, { code: 'FUNCTION_ERROR', message: `no ${i}` });
      }
      expect((await queue.depth(fn)).dead).toBe(3);
      expect((await queue.get(ids[0] ?? ''))?.status).toBe('dead');

      const first = await queue.listDead(fn, { limit: 2 });
      expect(first.items).toHaveLength(2);
      expect(first.next).not.toBeNull();
      const second = await queue.listDead(fn, { limit: 2, cursor: first.next ?? undefined });
      expect(second.next).toBeNull();
      expect([...first.items, ...second.items].map((d) => d.id).sort()).toEqual([...ids].sort());
      expect(first.items[0]).toMatchObject({
        status: 'dead',
        error: { code: 'FUNCTION_ERROR' },
        attempts: 1,
      });
      expect((await queue.listDead(uniqueName('other'), { limit: 10 })).items).toEqual([]);

      const one = ids[0] ?? '';
      expect(await queue.getDead(one)).toMatchObject({ id: one, status: 'dead' });
      expect(await queue.redrive({ id: one })).toBe(1);
      expect(await queue.getDead(one)).toBeUndefined();
      expect((await queue.get(one))?.status).toBe('queued');
      const redriven = await leaseOne(queue, fn, 5_000);
      expect(redriven).toMatchObject({ id: one, attempt: 1 });
      await queue.ack(one, redriven.leaseToken);
      await expectCode(queue.redrive({ id: one }), 'INVOCATION_NOT_FOUND');

      expect(await queue.redrive({ functionName: fn })).toBe(2);
      for (let i = 0; i < 2; i++) {
        const leased = await leaseOne(queue, fn, 5_000);
        expect(leased.attempt).toBe(1);
        await queue.deadLetter(leased.id, leased.leaseToken, { code: 'FUNCTION_ERROR', message: 'again' });
      }
      expect(await queue.purgeDead(fn)).toBe(2);
      expect((await queue.listDead(fn, { limit: 10 })).items).toEqual([]);
      expect(await queue.getDead(ids[1] ?? '')).toBeUndefined();
      expect((await queue.depth(fn)).dead).toBe(0);
    });

    it('deduplicates an idempotency key per function', async () => {
      const queue = await connect();
      const [fn, otherFn] = [uniqueName('idem'), uniqueName('idem')];
      const first = await queue.enqueue(message(fn), { idempotencyKey: 'order-42' });
      const again = await queue.enqueue(message(fn, { event: '"different"' }), {
        idempotencyKey: 'order-42',
      });
      expect(again).toEqual({ id: first.id, duplicate: true });
      const elsewhere = await queue.enqueue(message(otherFn), { idempotencyKey: 'order-42' });
      expect(elsewhere.duplicate).toBe(false);
      expect(elsewhere.id).not.toBe(first.id);
      const leased = await queue.lease(fn, 10, 5_000);
      expect(leased.map((m) => m.id)).toEqual([first.id]);
      // Still a duplicate once the first has completed: the key outlives the message's run.
      await queue.ack(first.id, leased[0]?.leaseToken ?? '');
      expect(await queue.enqueue(message(fn), { idempotencyKey: 'order-42' })).toEqual({
        id: first.id,
        duplicate: true,
      });
    });

    it('keeps one message for one key under concurrent enqueues from two handles', async () => {
      const [a, b] = [await connect(), await connect()];
      const fn = uniqueName('idem-race');
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? a : b).enqueue(message(fn), { idempotencyKey: 'k' }),
        ),
      );
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      const leased = await a.lease(fn, 10, 5_000);
      expect(leased.map((m) => m.id)).toEqual([results[0]?.id]);
    });

    it('delays a message enqueued with delayMs', async () => {
      const queue = await connect();
      const fn = uniqueName('delay');
      const enqueuedAt = Date.now();
      const { id } = await queue.enqueue(message(fn), { delayMs: 400 });
      expect(await queue.lease(fn, 10, 5_000)).toEqual([]);
      expect(await queue.depth(fn)).toMatchObject({ ready: 0, delayed: 1 });
      const leased = await leaseOne(queue, fn, 5_000);
      expect(leased.id).toBe(id);
      expect(Date.now() - enqueuedAt).toBeGreaterThanOrEqual(380);
      await queue.ack(id, leased.leaseToken);
    });

    it('reports depth and the age of the oldest ready message', async () => {
      const queue = await connect();
      const fn = uniqueName('depth');
      await queue.enqueue(message(fn, { enqueuedAt: Date.now() - 5_000 }));
      await queue.enqueue(message(fn));
      await queue.enqueue(message(fn));
      const depth = await eventually(async () => {
        const d = await queue.depth(fn);
        return d.ready === 3 ? d : undefined;
      });
      expect(depth).toMatchObject({ ready: 3, delayed: 0, running: 0, dead: 0 });
      expect(depth.oldestReadyAgeMs).toBeGreaterThanOrEqual(5_000);
      const leased = await queue.lease(fn, 1, 5_000);
      expect(leased).toHaveLength(1);
      expect(await queue.depth(fn)).toMatchObject({ ready: 2, running: 1 });
      expect((await queue.depth()).ready).toBeGreaterThanOrEqual(2);
      expect((await queue.depth(uniqueName('none'))).oldestReadyAgeMs).toBeNull();
    });

    it('leases across functions when no function is named', async () => {
      const queue = await connect();
      const [fn1, fn2] = [uniqueName('any'), uniqueName('any')];
      const a = await queue.enqueue(message(fn1));
      const b = await queue.enqueue(message(fn2));
      const seen = new Set<string>();
      await eventually(async () => {
        for (const m of await queue.lease(undefined, 100, 5_000)) seen.add(m.id);
        return seen.has(a.id) && seen.has(b.id) ? true : undefined;
      });
    });

    it('walks a message through queued, running, queued, running, succeeded', async () => {
      const queue = await connect();
      const fn = uniqueName('status');
      const { id } = await queue.enqueue(message(fn));
      const states = [(await queue.get(id))?.status];
      const first = await leaseOne(queue, fn, 5_000);
      states.push((await queue.get(id))?.status);
      await queue.retry(id, first.leaseToken, {
        delayMs: 0,
        countsAsAttempt: true,
        error: { code: 'E', message: 'e' },
      });
      states.push((await queue.get(id))?.status);
      const second = await leaseOne(queue, fn, 5_000);
      states.push((await queue.get(id))?.status);
      await queue.ack(id, second.leaseToken, { status: 'succeeded', result: 'ok' });
      states.push((await queue.get(id))?.status);
      expect(states).toEqual(['queued', 'running', 'queued', 'running', 'succeeded']);
      const record = await queue.get(id);
      expect(record).toMatchObject({ attempts: 2, deliveries: 2, result: 'ok', error: null });
      expect(record?.history.map((h) => h.error?.code ?? null)).toEqual(['E', null]);
    });

    it('keeps queued and leased messages across a closed handle', async () => {
      const before = await open();
      const fn = uniqueName('durable');
      const leasedBefore = await before.enqueue(message(fn));
      const stillQueued = await before.enqueue(message(fn));
      const leased = await leaseOne(before, fn, 5_000);
      expect(leased.id).toBe(leasedBefore.id);
      await before.extendLease(leased.id, leased.leaseToken, 300);
      await before.close();

      const after = await connect();
      expect((await after.get(leasedBefore.id))?.status).toBe('running');
      expect((await after.get(stillQueued.id))?.status).toBe('queued');
      const next = await leaseOne(after, fn, 5_000);
      expect(next.id).toBe(stillQueued.id);
      // The lease taken before the restart still holds, then lapses and the message comes back.
      const back = await leaseOne(after, fn, 5_000);
      expect(back).toMatchObject({ id: leasedBefore.id, attempt: 2 });
      await after.ack(back.id, back.leaseToken);
      await after.ack(next.id, next.leaseToken);
    });
  });
}
