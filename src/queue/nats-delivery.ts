import { randomUUID } from 'node:crypto';
import { endAttempt, type NatsRecord } from './nats-queue-record.js';
import { LEASE_EXPIRED_ERROR } from './queue-errors.js';

/** What to do with a message JetStream delivered, given its record. */
export type DeliveryDecision =
  /** Already settled (a copy whose ack was lost): drop it. */
  | { kind: 'discard' }
  /** Dead-lettered, but its delivery was never acked: make sure the dead bucket holds it, then ack. */
  | { kind: 'file-dead' }
  /** Delayed, or leased and the lease still holds: deliver again in `delayMs`. */
  | { kind: 'later'; delayMs: number; leased: boolean }
  /** The lease lapsed on the last allowed attempt: dead-letter it instead of running it again. */
  | { kind: 'expire'; next: NatsRecord }
  | { kind: 'lease'; next: NatsRecord };

/**
 * Decides a delivery (pure: the caller applies the decision by compare-and-set on the record). The
 * same rules as the SQLite backend's lease query: queued and visible, or running with a lapsed lease.
 */
export function decideDelivery(
  record: NatsRecord,
  now: number,
  leaseMs: number,
  ackSubject: string | null,
): DeliveryDecision {
  switch (record.status) {
    case 'succeeded':
    case 'failed':
      return { kind: 'discard' };
    case 'dead':
      return { kind: 'file-dead' };
    case 'queued':
    case 'running':
      break;
  }
  if (record.visibleAt > now) {
    return { kind: 'later', delayMs: record.visibleAt - now, leased: record.status === 'running' };
  }
  const lapsed = record.status === 'running';
  if (lapsed && record.attempts >= record.message.maxAttempts) {
    return {
      kind: 'expire',
      next: {
        ...record,
        status: 'dead',
        error: LEASE_EXPIRED_ERROR,
        history: endAttempt(record, now, LEASE_EXPIRED_ERROR),
        leaseToken: null,
        updatedAt: now,
      },
    };
  }
  return {
    kind: 'lease',
    next: {
      ...record,
      status: 'running',
      attempts: record.attempts + 1,
      deliveries: record.deliveries + 1,
      history: [
        ...(lapsed ? endAttempt(record, now, LEASE_EXPIRED_ERROR) : record.history),
        { delivery: record.deliveries + 1, startedAt: now, endedAt: null, counted: true, error: null },
      ],
      visibleAt: now + leaseMs,
      leaseToken: randomUUID(),
      ackSubject,
      updatedAt: now,
    },
  };
}
