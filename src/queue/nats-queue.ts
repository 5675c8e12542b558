import {
  AckPolicy,
  headers,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type KV,
  type NatsConnection,
} from 'nats';
import type {
  AckOutcome,
  EnqueueOptions,
  InvocationQueue,
  LeasedInvocation,
  QueueDepth,
  QueueErrorInfo,
  QueueMessage,
  QueuedInvocation,
  RetryOptions,
} from '../core/invocation-queue.js';
import { isStratoError, StratoError } from '../core/strato-error.js';
import { newInvocationId } from './invocation-id.js';
import { decideDelivery } from './nats-delivery.js';
import { claimIdempotencyKey } from './nats-idempotency.js';
import {
  decodeRecord,
  encodeRecord,
  endAttempt,
  newRecord,
  toQueuedInvocation,
  type NatsRecord,
} from './nats-queue-record.js';
import { leaseError, notFound } from './queue-errors.js';
import { checkQueueMessage, parseStored, queueMessageSchema } from './queue-schemas.js';

const ID_HEADER = 'Strato-Invocation-Id';
const VISIBLE_AT_HEADER = 'Strato-Visible-At';
const CAS_ATTEMPTS = 8;
const decoder = new TextDecoder();

export interface NatsQueueParts {
  prefix: string;
  stream: string;
  dedupWaitMs: number;
  ackWaitMs: number;
  status: KV;
  dead: KV;
  idempotency: KV;
}

/**
 * The cluster queue on NATS JetStream. A work-queue stream holds the messages, one durable pull
 * consumer per function delivers them, and a KV bucket holds each invocation's record (status, lease,
 * history), changed only by compare-and-set on its revision: that is what makes a lease exclusive and
 * a stale lease token powerless, whatever the stream redelivers.
 *
 * Leases are per message, not the consumer's AckWait (one value per consumer, while a lease length is
 * chosen per call and extended by any amount): a claimed message is nak'ed with a delay equal to its
 * lease, so JetStream delivers it again exactly when the lease expires, unless it is acked first. An
 * extension naks it again with the new delay (`msg.working()` could only restart a full AckWait).
 */
export class NatsQueue implements InvocationQueue {
  readonly kind = 'nats';
  private readonly consumers = new Set<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly parts: NatsQueueParts,
  ) {}

  enqueue(message: QueueMessage, options: EnqueueOptions = {}): Promise<{ id: string; duplicate: boolean }> {
    return this.guard(async () => {
      const checked = checkQueueMessage(message);
      const now = Date.now();
      const id = newInvocationId(now);
      if (options.idempotencyKey !== undefined) {
        const first = await claimIdempotencyKey(this.parts.idempotency, {
          functionName: checked.functionName,
          key: options.idempotencyKey,
          id,
          waitMs: this.parts.dedupWaitMs,
          // The first enqueue of a key publishes, then records: its record proves the message durable.
          isDurable: async (firstId) => (await this.readRecord(firstId)) !== undefined,
        });
        if (first !== id) return { id: first, duplicate: true };
      }
      const visibleAt = now + Math.max(0, options.delayMs ?? 0);
      await this.publish(id, checked, { visibleAt });
      const record = newRecord(id, checked, now, visibleAt);
      // A failed create is no failed enqueue: the message is durable once published. Either a
      // consumer fetched it and created the record first (that record is the truth), or the record
      // is missing and the first delivery rebuilds it from the message.
      await this.parts.status.create(id, encodeRecord(record)).catch(() => undefined);
      return { id, duplicate: false };
    });
  }

  lease(functionName: string | undefined, max: number, leaseMs: number): Promise<LeasedInvocation[]> {
    return this.guard(async () => {
      if (max <= 0) return [];
      const functions = functionName === undefined ? await this.functionsWithMessages() : [functionName];
      const leased: LeasedInvocation[] = [];
      for (const fn of functions) {
        if (leased.length >= max) break;
        await this.ensureConsumer(fn);
        const batch = this.js.fetch(this.parts.stream, fn, { batch: max - leased.length, no_wait: true });
        const messages: JsMsg[] = [];
        for await (const msg of batch) messages.push(msg);
        for (const msg of messages) {
          const claimed = await this.claim(msg, leaseMs);
          if (claimed !== undefined) leased.push(claimed);
        }
      }
      return leased;
    });
  }

  extendLease(id: string, leaseToken: string, ms: number): Promise<number> {
    return this.guard(async () => {
      const until = Date.now() + ms;
      const { before } = await this.mutateLeased(id, leaseToken, (record) => ({
        ...record,
        visibleAt: until,
      }));
      this.nakLater(before.ackSubject, ms);
      await this.nc.flush();
      return until;
    });
  }

  ack(id: string, leaseToken: string, outcome: AckOutcome = { status: 'succeeded' }): Promise<void> {
    return this.guard(async () => {
      const now = Date.now();
      const error = outcome.status === 'failed' ? outcome.error : null;
      const { before } = await this.mutateLeased(id, leaseToken, (record) => ({
        ...record,
        status: outcome.status,
        result: outcome.status === 'succeeded' ? (outcome.result ?? null) : null,
        error,
        history: endAttempt(record, now, error),
        leaseToken: null,
      }));
      await this.settleDelivery(before.ackSubject, '+ACK');
    });
  }

  retry(id: string, leaseToken: string, options: RetryOptions): Promise<void> {
    return this.guard(async () => {
      const now = Date.now();
      const delayMs = Math.max(0, options.delayMs);
      const { before } = await this.mutateLeased(id, leaseToken, (record) => ({
        ...record,
        status: 'queued',
        visibleAt: now + delayMs,
        attempts: record.attempts - (options.countsAsAttempt ? 0 : 1),
        history: endAttempt(record, now, options.error, options.countsAsAttempt),
        leaseToken: null,
      }));
      this.nakLater(before.ackSubject, delayMs);
      await this.nc.flush();
    });
  }

  deadLetter(id: string, leaseToken: string, error: QueueErrorInfo): Promise<void> {
    return this.guard(async () => {
      const now = Date.now();
      const { before, after } = await this.mutateLeased(id, leaseToken, (record) => ({
        ...record,
        status: 'dead',
        error,
        history: endAttempt(record, now, error),
        leaseToken: null,
      }));
      // The record says dead first: a crash before the next two steps is repaired when the message
      // comes back (claim() files a dead record it meets into the dead bucket).
      await this.parts.dead.put(this.deadKey(after), encodeRecord(after));
      await this.settleDelivery(before.ackSubject, '+ACK');
    });
  }

  get(id: string): Promise<QueuedInvocation | undefined> {
    return this.guard(async () => {
      const found = await this.readRecord(id);
      return found === undefined ? undefined : toQueuedInvocation(found.record);
    });
  }

  listDead(
    functionName: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<{ items: QueuedInvocation[]; next: string | null }> {
    return this.guard(async () => {
      const limit = Math.max(1, page.limit);
      // Ids are time-ordered, so key order is dead-letter order by enqueue time.
      const keys = (await this.deadKeys(functionName))
        .filter((key) => key.slice(functionName.length + 1) > (page.cursor ?? ''))
        .sort();
      const items: QueuedInvocation[] = [];
      for (const key of keys.slice(0, limit)) {
        const entry = await this.parts.dead.get(key);
        if (entry?.operation === 'PUT') items.push(toQueuedInvocation(decodeRecord(entry.value)));
      }
      return { items, next: keys.length > limit ? (items.at(-1)?.id ?? null) : null };
    });
  }

  getDead(id: string): Promise<QueuedInvocation | undefined> {
    return this.guard(async () => {
      const found = await this.findDead(id);
      return found === undefined ? undefined : toQueuedInvocation(found);
    });
  }

  redrive(target: { id: string } | { functionName: string }): Promise<number> {
    return this.guard(async () => {
      const records: NatsRecord[] = [];
      if ('id' in target) {
        const found = await this.findDead(target.id);
        if (found === undefined) throw notFound(target.id, 'dead-lettered invocation');
        records.push(found);
      } else {
        for (const key of await this.deadKeys(target.functionName)) {
          const entry = await this.parts.dead.get(key);
          if (entry?.operation === 'PUT') records.push(decodeRecord(entry.value));
        }
      }
      for (const record of records) {
        const now = Date.now();
        // Publish before the record says queued and before the dead entry goes: a crash in between
        // leaves a duplicate, never a loss.
        await this.publish(record.id, record.message, { visibleAt: now, msgID: `${record.id}.${now}` });
        await this.parts.status.put(
          record.id,
          encodeRecord({
            ...record,
            status: 'queued',
            attempts: 0,
            error: null,
            visibleAt: now,
            updatedAt: now,
            leaseToken: null,
            ackSubject: null,
          }),
        );
        await this.parts.dead.purge(this.deadKey(record));
      }
      return records.length;
    });
  }

  purgeDead(functionName: string): Promise<number> {
    return this.guard(async () => {
      const keys = await this.deadKeys(functionName);
      for (const key of keys) {
        await this.parts.status.purge(key.slice(functionName.length + 1));
        await this.parts.dead.purge(key);
      }
      return keys.length;
    });
  }

  /**
   * Counts by reading every record: fine for tests and small queues, linear in the records kept.
   * Metrics at scale should come from counters maintained on state changes instead.
   */
  depth(functionName?: string): Promise<QueueDepth> {
    return this.guard(async () => {
      const now = Date.now();
      const depth: QueueDepth = { ready: 0, delayed: 0, running: 0, dead: 0, oldestReadyAgeMs: null };
      const keys: string[] = [];
      for await (const key of await this.parts.status.keys()) keys.push(key);
      const entries = await Promise.all(keys.map((key) => this.parts.status.get(key)));
      for (const entry of entries) {
        if (entry?.operation !== 'PUT') continue;
        const record = decodeRecord(entry.value);
        if (functionName !== undefined && record.message.functionName !== functionName) continue;
        const visible = record.visibleAt <= now;
        if ((record.status === 'queued' || record.status === 'running') && visible) {
          depth.ready++;
          const age = now - record.message.enqueuedAt;
          depth.oldestReadyAgeMs = Math.max(depth.oldestReadyAgeMs ?? 0, age);
        } else if (record.status === 'queued') depth.delayed++;
        else if (record.status === 'running') depth.running++;
      }
      depth.dead = (await this.deadKeys(functionName)).length;
      return depth;
    });
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }

  /**
   * Turns a delivery into a lease when the record allows it: compare-and-set from queued (or from an
   * expired lease) to running. Any other delivery is put back where it belongs.
   */
  private async claim(msg: JsMsg, leaseMs: number): Promise<LeasedInvocation | undefined> {
    const id = msg.headers?.get(ID_HEADER) ?? '';
    let message: QueueMessage;
    try {
      message = parseStored(queueMessageSchema, decoder.decode(msg.data), 'queue message');
    } catch {
      // Not ours or corrupt: nothing can ever run it.
      msg.term('malformed queue message');
      return undefined;
    }
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const now = Date.now();
      const found = await this.readRecord(id);
      // No record: its enqueue died between publish and record, or the record aged out while queued.
      const record = found?.record ?? newRecord(id, message, now, headerVisibleAt(msg) ?? now);
      const decision = decideDelivery(record, now, leaseMs, replySubject(msg));
      switch (decision.kind) {
        case 'discard':
          msg.term('already settled');
          return undefined;
        case 'file-dead':
          await this.parts.dead.put(this.deadKey(record), encodeRecord(record));
          msg.ack();
          return undefined;
        case 'later':
          msg.nak(decision.delayMs);
          // The holder settles through the newest delivery's ack subject.
          if (decision.leased && found !== undefined) {
            await this.cas(id, found.revision, { ...record, ackSubject: replySubject(msg) });
          }
          return undefined;
        case 'expire':
          if (!(await this.cas(id, found?.revision, decision.next))) continue;
          await this.parts.dead.put(this.deadKey(decision.next), encodeRecord(decision.next));
          msg.ack();
          return undefined;
        case 'lease': {
          const { next } = decision;
          if (!(await this.cas(id, found?.revision, next))) continue;
          // The lease is this delay: JetStream brings the message back when it expires, unless acked.
          msg.nak(leaseMs);
          return {
            id,
            leaseToken: next.leaseToken ?? '',
            leaseExpiresAt: next.visibleAt,
            attempt: next.attempts,
            delivery: next.deliveries,
            message: record.message,
          };
        }
      }
    }
    // Contended beyond reason: leave it to come back after AckWait rather than guess.
    return undefined;
  }

  /** Applies `change` while `leaseToken` is the current, unexpired lease; retries lost compare-and-sets. */
  private async mutateLeased(
    id: string,
    leaseToken: string,
    change: (record: NatsRecord) => NatsRecord,
  ): Promise<{ before: NatsRecord; after: NatsRecord }> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const found = await this.readRecord(id);
      if (found === undefined) throw notFound(id);
      const now = Date.now();
      const { record } = found;
      if (record.status !== 'running' || record.leaseToken !== leaseToken || record.visibleAt <= now) {
        throw leaseError(id);
      }
      const after = { ...change(record), updatedAt: now };
      if (await this.cas(id, found.revision, after)) return { before: record, after };
    }
    throw new StratoError('QUEUE_UNAVAILABLE', `invocation ${id} is changing too often to update`);
  }

  private async readRecord(id: string): Promise<{ record: NatsRecord; revision: number } | undefined> {
    if (!/^[A-Za-z0-9-]+$/.test(id)) return undefined;
    const entry = await this.parts.status.get(id);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return { record: decodeRecord(entry.value), revision: entry.revision };
  }

  /** Writes `record` if the entry is still at `revision` (or, without one, does not exist yet). */
  private async cas(id: string, revision: number | undefined, record: NatsRecord): Promise<boolean> {
    try {
      if (revision === undefined) await this.parts.status.create(id, encodeRecord(record));
      else await this.parts.status.update(id, encodeRecord(record), revision);
      return true;
    } catch {
      return false;
    }
  }

  private async publish(
    id: string,
    message: QueueMessage,
    options: { visibleAt: number; msgID?: string },
  ): Promise<void> {
    const hdrs = headers();
    hdrs.set(ID_HEADER, id);
    // Read only when the record is missing (a consumer fetched it before its enqueue recorded it).
    hdrs.set(VISIBLE_AT_HEADER, String(options.visibleAt));
    await this.js.publish(`${this.parts.prefix}.invoke.${message.functionName}`, JSON.stringify(message), {
      headers: hdrs,
      msgID: options.msgID ?? id,
    });
  }

  private async ensureConsumer(functionName: string): Promise<void> {
    if (this.consumers.has(functionName)) return;
    const settings = {
      ack_wait: nanos(this.parts.ackWaitMs),
      max_deliver: -1,
      // Leased and delayed messages are all "ack pending": the default 1000 would stall a backlog.
      max_ack_pending: -1,
    };
    try {
      await this.jsm.consumers.add(this.parts.stream, {
        durable_name: functionName,
        filter_subject: `${this.parts.prefix}.invoke.${functionName}`,
        ack_policy: AckPolicy.Explicit,
        ...settings,
      });
    } catch {
      // It exists with other settings (ackWaitMs changed): bring it in line.
      await this.jsm.consumers.update(this.parts.stream, functionName, settings);
    }
    this.consumers.add(functionName);
  }

  private async functionsWithMessages(): Promise<string[]> {
    const prefix = `${this.parts.prefix}.invoke.`;
    const info = await this.jsm.streams.info(this.parts.stream, { subjects_filter: `${prefix}*` });
    return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
  }

  private deadKey(record: NatsRecord): string {
    return `${record.message.functionName}.${record.id}`;
  }

  private async deadKeys(functionName: string | undefined): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of await this.parts.dead.keys(`${functionName ?? '*'}.*`)) keys.push(key);
    return keys;
  }

  private async findDead(id: string): Promise<NatsRecord | undefined> {
    if (!/^[A-Za-z0-9-]+$/.test(id)) return undefined;
    let key: string | undefined;
    for await (const found of await this.parts.dead.keys(`*.${id}`)) key = found;
    if (key === undefined) return undefined;
    const entry = await this.parts.dead.get(key);
    return entry?.operation === 'PUT' ? decodeRecord(entry.value) : undefined;
  }

  /** Delivers again after `ms` (JetStream keeps the message pending, so the holder can still ack it). */
  private nakLater(ackSubject: string | null, ms: number): void {
    if (ackSubject === null) return;
    this.nc.publish(ackSubject, `-NAK ${JSON.stringify({ delay: nanos(Math.max(0, ms)) })}`);
  }

  private async settleDelivery(ackSubject: string | null, verb: '+ACK'): Promise<void> {
    if (ackSubject !== null) this.nc.publish(ackSubject, verb);
    await this.nc.flush();
  }

  /** Backend failures become QUEUE_UNAVAILABLE; our own coded errors pass through. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.nc.isClosed()) throw new StratoError('QUEUE_UNAVAILABLE', 'the queue is closed');
    try {
      return await work();
    } catch (cause) {
      if (isStratoError(cause)) throw cause;
      throw new StratoError('QUEUE_UNAVAILABLE', 'the JetStream queue failed', { cause });
    }
  }
}

/**
 * The delivery's ack subject. nats.js 2.x keeps it on every JsMsg (`reply`) but leaves it out of the
 * JsMsg type; the queue needs it so that a process other than the fetching one can settle the lease.
 */
function replySubject(msg: JsMsg): string | null {
  const reply: unknown = (msg as unknown as { reply?: unknown }).reply;
  return typeof reply === 'string' && reply !== '' ? reply : null;
}

function headerVisibleAt(msg: JsMsg): number | undefined {
  const value = Number(msg.headers?.get(VISIBLE_AT_HEADER));
  return Number.isFinite(value) && value > 0 ? value : undefined;
}
