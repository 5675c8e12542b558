/**
 * Triggers: what makes Strato invoke a function without a caller. The only kind so far is `cron`, a
 * schedule whose slots are delivered through the durable async queue (src/triggers/).
 */

/**
 * What happens to slots that passed while no node was running the schedule (Strato was down):
 * `catch-up-once` delivers one invocation for the most recent missed slot, `skip` delivers none.
 * Never one per missed slot: a schedule is a heartbeat, not a backlog.
 */
export type MissedSlotPolicy = 'catch-up-once' | 'skip';

export const MISSED_SLOT_POLICIES = ['catch-up-once', 'skip'] as const satisfies readonly MissedSlotPolicy[];

export type TriggerType = 'cron';

/** A trigger as the store keeps it. */
export interface TriggerRecord {
  id: string;
  type: TriggerType;
  functionName: string;
  /** Version number or alias to invoke; null: `$LATEST`. */
  qualifier: string | null;
  /** The cron expression (5, 6 or 7 fields as croner reads them; seconds first when 6 or 7). */
  schedule: string;
  /** IANA time zone the schedule is read in. */
  timezone: string;
  /** The event's `detail`, as JSON text. */
  payloadJson: string;
  missed: MissedSlotPolicy;
  enabled: boolean;
  createdAt: string;
  /** The scheduled slot (ISO time) last handed to the queue; null before the first one. */
  lastFiredSlot: string | null;
}

export type CreateTriggerInput = Omit<TriggerRecord, 'lastFiredSlot'>;

/** A trigger as the API shows it: the payload as JSON, and when it fires next. */
export interface TriggerView extends Omit<TriggerRecord, 'payloadJson'> {
  payload: unknown;
  /** The next slot after now (ISO time); null when the schedule has no future slot. */
  nextFireAt: string | null;
}
