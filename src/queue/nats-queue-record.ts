import { z } from 'zod';
import type { QueueErrorInfo, QueueMessage, QueuedInvocation } from '../core/invocation-queue.js';
import {
  parseStored,
  queueErrorInfoSchema,
  queueHistorySchema,
  queueMessageSchema,
} from './queue-schemas.js';

/**
 * The state of one invocation in the NATS backend's status bucket (key: its id). The stream only
 * carries the message; the record says who holds it: `leaseToken` and, for a running message,
 * `visibleAt` as the lease expiry. `ackSubject` is the reply subject of the message's latest delivery,
 * so any process can settle a lease another process's fetch produced.
 */
export const natsRecordSchema = z.strictObject({
  id: z.string(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'dead']),
  message: queueMessageSchema,
  attempts: z.number().int(),
  deliveries: z.number().int(),
  history: queueHistorySchema,
  result: z.string().nullable(),
  error: queueErrorInfoSchema.nullable(),
  updatedAt: z.number(),
  visibleAt: z.number(),
  leaseToken: z.string().nullable(),
  ackSubject: z.string().nullable(),
});
export type NatsRecord = z.infer<typeof natsRecordSchema>;

export function newRecord(id: string, message: QueueMessage, now: number, visibleAt: number): NatsRecord {
  return {
    id,
    status: 'queued',
    message,
    attempts: 0,
    deliveries: 0,
    history: [],
    result: null,
    error: null,
    updatedAt: now,
    visibleAt,
    leaseToken: null,
    ackSubject: null,
  };
}

/** Closes the latest attempt of the history with an end time and error (and whether it counted). */
export function endAttempt(
  record: NatsRecord,
  now: number,
  error: QueueErrorInfo | null,
  counted?: boolean,
): NatsRecord['history'] {
  const history = record.history.slice();
  const last = history.at(-1);
  if (last !== undefined) {
    history[history.length - 1] = { ...last, endedAt: now, error, counted: counted ?? last.counted };
  }
  return history;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeRecord(record: NatsRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

export function decodeRecord(bytes: Uint8Array): NatsRecord {
  return parseStored(natsRecordSchema, decoder.decode(bytes), 'queue record');
}

export function toQueuedInvocation(record: NatsRecord): QueuedInvocation {
  const { leaseToken: _token, ackSubject: _subject, ...invocation } = record;
  return invocation;
}
