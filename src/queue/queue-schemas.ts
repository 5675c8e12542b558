import { z } from 'zod';
import { QUALIFIED_FUNCTION_NAME_PATTERN } from '../core/namespace.js';
import type { QueueAttempt, QueueErrorInfo, QueueMessage } from '../core/invocation-queue.js';
import { StratoError } from '../core/strato-error.js';

/*
 * What a backend reads back (a row, a stream message, a KV entry) crossed a trust boundary: another
 * process or version may have written it. Parse it here once; inside, values are typed.
 */

export const queueMessageSchema = z.strictObject({
  // The name becomes a NATS subject token and a KV key: the platform's name rule keeps both safe.
  functionName: z.string().regex(QUALIFIED_FUNCTION_NAME_PATTERN),
  qualifier: z.string().min(1),
  event: z.string(),
  enqueuedAt: z.number().int().nonnegative(),
  maxAttempts: z.number().int().min(1),
  maxEventAgeMs: z.number().int().nonnegative(),
  callbackUrl: z.string().optional(),
  traceparent: z.string().optional(),
  tracestate: z.string().optional(),
  destinations: z
    .strictObject({ onSuccess: z.string().optional(), onFailure: z.string().optional() })
    .optional(),
}) satisfies z.ZodType<QueueMessage>;

export const queueErrorInfoSchema = z.strictObject({
  code: z.string(),
  message: z.string(),
}) satisfies z.ZodType<QueueErrorInfo>;

export const queueAttemptSchema = z.strictObject({
  delivery: z.number().int().min(1),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  counted: z.boolean(),
  error: queueErrorInfoSchema.nullable(),
}) satisfies z.ZodType<QueueAttempt>;

export const queueHistorySchema = z.array(queueAttemptSchema);

/** Parses stored JSON with a schema; a record that does not parse is our corruption, not the caller's. */
export function parseStored<T>(schema: z.ZodType<T>, json: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (cause) {
    throw new StratoError('INTERNAL', `stored ${what} is not JSON`, { cause });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new StratoError('INTERNAL', `stored ${what} is malformed: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** Checks a message on the way in, so a bad one fails the enqueue instead of every later read. */
export function checkQueueMessage(message: QueueMessage): QueueMessage {
  const parsed = queueMessageSchema.safeParse(message);
  if (!parsed.success) {
    throw new StratoError('VALIDATION_FAILED', `invalid queue message: ${parsed.error.message}`);
  }
  return parsed.data;
}
