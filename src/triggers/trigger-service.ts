import { randomUUID } from 'node:crypto';
import type { Store } from '../core/store.js';
import { StratoError } from '../core/strato-error.js';
import type { TriggerRecord, TriggerView } from '../core/trigger.js';
import { CronSchedule } from './cron-schedule.js';
import type { CronScheduler } from './cron-scheduler.js';
import { systemClock, type SchedulerClock } from './scheduler-clock.js';
import { MAX_TRIGGER_PAYLOAD_BYTES, type CreateTriggerBody } from './trigger-schemas.js';

/** How many upcoming slots a created (or fetched) trigger reports. */
const NEXT_FIRE_TIMES = 5;

export interface TriggerServiceOptions {
  store: Store;
  scheduler: CronScheduler;
  /**
   * Throws when the function or qualifier cannot be invoked (FUNCTION_NOT_FOUND, VERSION_NOT_FOUND,
   * ALIAS_NOT_FOUND, INVALID_QUALIFIER): a trigger is refused at create, not failing at every slot.
   */
  checkTarget(functionName: string, qualifier: string | undefined): Promise<unknown>;
  /** @default systemClock */
  clock?: SchedulerClock;
}

/** Control-plane operations on triggers; each change reaches this node's scheduler at once. */
export class TriggerService {
  readonly #options: TriggerServiceOptions;
  readonly #clock: SchedulerClock;

  constructor(options: TriggerServiceOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  async create(
    functionName: string,
    body: CreateTriggerBody,
  ): Promise<{ trigger: TriggerView; nextFireTimes: string[] }> {
    const schedule = CronSchedule.parse(body.schedule, body.timezone);
    const payloadJson = JSON.stringify(body.payload);
    if (Buffer.byteLength(payloadJson) > MAX_TRIGGER_PAYLOAD_BYTES) {
      throw new StratoError(
        'PAYLOAD_TOO_LARGE',
        `a trigger's payload is at most ${MAX_TRIGGER_PAYLOAD_BYTES} bytes of JSON`,
      );
    }
    const qualifier = body.qualifier === undefined || body.qualifier === '$LATEST' ? null : body.qualifier;
    await this.#options.checkTarget(functionName, qualifier ?? undefined);
    const record = await this.#options.store.createTrigger({
      id: newTriggerId(),
      type: body.type,
      functionName,
      qualifier,
      schedule: body.schedule,
      timezone: body.timezone,
      payloadJson,
      missed: body.missed,
      enabled: body.enabled,
      createdAt: new Date(this.#clock.now()).toISOString(),
    });
    this.#options.scheduler.add(record);
    return this.#detailed(record, schedule);
  }

  /** FUNCTION_NOT_FOUND for an unknown function (an empty list means it has none). */
  async list(functionName: string): Promise<TriggerView[]> {
    const triggers = await this.#options.store.listTriggers({ functionName });
    if (triggers.length === 0 && (await this.#options.store.getFunction(functionName)) === undefined) {
      throw new StratoError('FUNCTION_NOT_FOUND', `function '${functionName}' does not exist`);
    }
    return triggers.map((trigger) => this.#view(trigger));
  }

  async get(id: string): Promise<{ trigger: TriggerView; nextFireTimes: string[] }> {
    const record = await this.#options.store.getTrigger(id);
    if (record === undefined) throw triggerNotFound(id);
    return this.#detailed(record);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.#options.store.deleteTrigger(id))) throw triggerNotFound(id);
    this.#options.scheduler.remove(id);
  }

  #detailed(
    record: TriggerRecord,
    schedule = scheduleOf(record),
  ): { trigger: TriggerView; nextFireTimes: string[] } {
    const nextFireTimes = (schedule?.nextSlots(this.#clock.now(), NEXT_FIRE_TIMES) ?? []).map(isoTime);
    return { trigger: this.#view(record, schedule), nextFireTimes };
  }

  #view(record: TriggerRecord, schedule = scheduleOf(record)): TriggerView {
    const { payloadJson, ...fields } = record;
    const next = schedule?.nextAfter(this.#clock.now());
    return {
      ...fields,
      payload: JSON.parse(payloadJson) as unknown,
      nextFireAt: next === undefined || !record.enabled ? null : isoTime(next),
    };
  }
}

export function triggerNotFound(id: string): StratoError {
  return new StratoError('TRIGGER_NOT_FOUND', `trigger '${id}' does not exist`);
}

function newTriggerId(): string {
  return `trg_${randomUUID().replaceAll('-', '')}`;
}

/** A stored trigger's schedule; undefined if it no longer parses (a zone gone from the tz database). */
function scheduleOf(record: TriggerRecord): CronSchedule | undefined {
  try {
    return CronSchedule.parse(record.schedule, record.timezone);
  } catch {
    return undefined;
  }
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
