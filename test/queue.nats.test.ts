import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import { destroyNatsQueue, openNatsQueue } from '../src/queue/nats-queue-open.js';
import { runQueueContract } from './queue-contract.js';

// JetStream on this machine; each run has stream and bucket names of its own and deletes them.
const servers = '127.0.0.1:4222';
const prefix = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

runQueueContract(
  'nats',
  // Every handle is a new connection to the same stream and buckets: two consumers, or a reconnect.
  () => openNatsQueue({ servers, prefix, ackWaitMs: 1_000 }),
  () => destroyNatsQueue(servers, prefix),
);

describe('NATS queue connection', () => {
  it('reports QUEUE_UNAVAILABLE when NATS cannot be reached', async () => {
    await expect(openNatsQueue({ servers: '127.0.0.1:1', prefix })).rejects.toMatchObject({
      code: 'QUEUE_UNAVAILABLE',
    });
  });

  it('removes a settled message from the work-queue stream, even after its lease was extended', async () => {
    const queue = await openNatsQueue({ servers, prefix });
    const nc = await connect({ servers });
    try {
      const fn = `gone-${randomUUID().slice(0, 8)}`;
      const message = { functionName: fn, qualifier: '1', event: '{}', enqueuedAt: Date.now() };
      const { id } = await queue.enqueue({ ...message, maxAttempts: 2, maxEventAgeMs: 60_000 });
      const [leased] = await queue.lease(fn, 1, 5_000);
      await queue.extendLease(id, leased?.leaseToken ?? '', 5_000);
      await queue.ack(id, leased?.leaseToken ?? '');
      const jsm = await nc.jetstreamManager();
      const subject = `${prefix}.invoke.${fn}`;
      for (let i = 0; i < 100; i++) {
        const info = await jsm.streams.info(`${prefix}_invocations`, { subjects_filter: subject });
        if ((info.state.subjects ?? {})[subject] === undefined) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('the acked message is still in the stream');
    } finally {
      await nc.close();
      await queue.close();
    }
  });

  it('refuses calls after close', async () => {
    const queue = await openNatsQueue({ servers, prefix });
    await queue.close();
    await queue.close();
    await expect(queue.get(randomUUID())).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
  });
});
