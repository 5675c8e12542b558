import { z } from 'zod';
import { MISSED_SLOT_POLICIES } from '../core/trigger.js';

/** Largest payload (as JSON text) a trigger carries; EventBridge caps an event at 256 KB as well. */
export const MAX_TRIGGER_PAYLOAD_BYTES = 256 * 1024;

/**
 * `POST /v1/functions/:name/triggers`. The schedule and zone are only checked for shape here; whether
 * croner can read them is checked by CronSchedule.parse, with its message.
 */
export const createTriggerBodySchema = z.strictObject({
  type: z.literal('cron'),
  schedule: z.string().trim().min(1).max(256),
  timezone: z.string().min(1).max(64).default('UTC'),
  /** Delivered as the event's `detail`. */
  payload: z.json().default({}),
  /** Version number, alias or `$LATEST` (the default). */
  qualifier: z.string().min(1).max(128).optional(),
  missed: z.enum(MISSED_SLOT_POLICIES).default('catch-up-once'),
  enabled: z.boolean().default(true),
});

export type CreateTriggerBody = z.output<typeof createTriggerBodySchema>;

/** Trigger ids as {@link newTriggerId} makes them; anything else is not found without a store read. */
export const triggerIdSchema = z.string().regex(/^trg_[0-9a-f]{32}$/, 'not a trigger id');
