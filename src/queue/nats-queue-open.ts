import { connect, nanos, RetentionPolicy, StorageType, type KV, type NatsConnection } from 'nats';
import { isStratoError, StratoError } from '../core/strato-error.js';
import { NatsQueue } from './nats-queue.js';

export interface NatsQueueOptions {
  servers: string | string[];
  /** Prefix of the stream, bucket and subject names: one per deployment (and per test run). @default 'strato' */
  prefix?: string;
  /** How long succeeded and failed records stay pollable. @default 86_400_000 (24 h) */
  retentionMs?: number;
  /**
   * How long an idempotency key maps to its first id. Keep it <= retentionMs: a duplicate is answered
   * once the first's record is seen, and a pruned record makes the key be taken over. @default retentionMs
   */
  dedupWindowMs?: number;
  /**
   * The consumers' AckWait: how soon a message comes back when a process fetched it and died before
   * recording its lease. Leases themselves are per message (see {@link NatsQueue}). @default 5000
   */
  ackWaitMs?: number;
  /** How long a duplicate enqueue waits for the first enqueue of its key to become durable. @default 2000 */
  dedupWaitMs?: number;
}

/** Connects, and creates (or updates) the stream and buckets; see {@link NatsQueue}. */
export async function openNatsQueue(options: NatsQueueOptions): Promise<NatsQueue> {
  const prefix = options.prefix ?? 'strato';
  const retentionMs = options.retentionMs ?? 86_400_000;
  const dedupWindowMs = options.dedupWindowMs ?? retentionMs;
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: options.servers, name: `strato-queue-${prefix}` });
  } catch (cause) {
    throw new StratoError('QUEUE_UNAVAILABLE', `cannot reach NATS at ${String(options.servers)}`, { cause });
  }
  try {
    const jsm = await nc.jetstreamManager();
    const stream = `${prefix}_invocations`;
    const config = {
      name: stream,
      subjects: [`${prefix}.invoke.*`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      // Enqueues retried after a lost PubAck carry the same msgID: stored once.
      duplicate_window: nanos(120_000),
    };
    const exists = await jsm.streams.info(stream).then(
      () => true,
      () => false,
    );
    if (exists) await jsm.streams.update(stream, config);
    else await jsm.streams.add(config);
    const js = nc.jetstream();
    const bucket = (name: string, ttl: number): Promise<KV> =>
      js.views.kv(`${prefix}_${name}`, { history: 1, storage: StorageType.File, ttl });
    return new NatsQueue(nc, js, jsm, {
      prefix,
      stream,
      dedupWaitMs: options.dedupWaitMs ?? 2_000,
      ackWaitMs: options.ackWaitMs ?? 5_000,
      // Records are rewritten on every state change, so the age only runs out on settled ones.
      status: await bucket('status', retentionMs),
      dead: await bucket('dead', 0),
      idempotency: await bucket('idempotency', dedupWindowMs),
    });
  } catch (cause) {
    await nc.close();
    throw isStratoError(cause)
      ? cause
      : new StratoError('QUEUE_UNAVAILABLE', 'cannot set up the JetStream queue', { cause });
  }
}

/** Deletes a queue's stream and buckets (tests; uninstall). */
export async function destroyNatsQueue(servers: string | string[], prefix: string): Promise<void> {
  const nc = await connect({ servers });
  try {
    const jsm = await nc.jetstreamManager();
    for (const name of [
      `${prefix}_invocations`,
      ...['status', 'dead', 'idempotency'].map((b) => `KV_${prefix}_${b}`),
    ]) {
      await jsm.streams.delete(name).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}
