import { createHash } from 'node:crypto';
import type { TriggerRecord } from '../core/trigger.js';

/**
 * The event a cron trigger delivers: the shape of an EventBridge "Scheduled Event", which is what a
 * Lambda handler written for a schedule expects. `detail` is the trigger's payload.
 */
export interface ScheduledEvent {
  version: '0';
  id: string;
  'detail-type': 'Scheduled Event';
  source: 'strato.cron';
  /** The scheduled slot (not the moment it ran), like EventBridge: `2024-01-10T08:00:00Z`. */
  time: string;
  resources: string[];
  detail: unknown;
}

/**
 * The queue's idempotency key of one slot of one trigger: two nodes, or a restart between enqueueing a
 * slot and recording it, hand the queue the same key, and the slot runs once.
 */
export function slotIdempotencyKey(triggerId: string, slotMs: number): string {
  return `cron:${triggerId}:${new Date(slotMs).toISOString()}`;
}

/** The event of one slot, as JSON text. The same slot always gives the same text, `id` included. */
export function scheduledEventJson(trigger: TriggerRecord, slotMs: number): string {
  const event: ScheduledEvent = {
    version: '0',
    id: uuidFrom(slotIdempotencyKey(trigger.id, slotMs)),
    'detail-type': 'Scheduled Event',
    source: 'strato.cron',
    // EventBridge writes whole seconds; cron slots are whole seconds.
    time: new Date(slotMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    resources: [trigger.id],
    detail: JSON.parse(trigger.payloadJson) as unknown,
  };
  return JSON.stringify(event);
}

/** A UUID-shaped (version 5 style) digest: stable per slot, so a re-sent slot is recognisably the same. */
function uuidFrom(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  const variant = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
