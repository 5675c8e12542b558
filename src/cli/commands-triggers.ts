import type { Command } from 'commander';
import type { TriggerResponse } from '../client/strato-client.js';
import { StratoError } from '../core/strato-error.js';
import { MISSED_SLOT_POLICIES, type MissedSlotPolicy } from '../core/trigger.js';
import { clientFor, withCommon, type CommonOptions } from './common-options.js';
import { fail, printJson, printTable } from './output.js';

interface CronOptions extends CommonOptions {
  tz?: string;
  payload?: string;
  qualifier?: string;
  missed?: string;
}

/** `strato trigger cron|ls|rm`: cron schedules that invoke a function through the async queue. */
export function registerTriggerCommands(program: Command): void {
  const trigger = program.command('trigger').description('invoke functions on a schedule (cron triggers)');

  withCommon(
    trigger
      .command('cron <name> <schedule>')
      .description('invoke a function on a cron schedule (5 fields, or 6 with seconds first)'),
  )
    .option('--tz <zone>', 'IANA time zone the schedule is read in (default UTC)')
    .option('--payload <json>', "the event's detail (JSON)")
    .option('--qualifier <qualifier>', 'version number or alias to invoke (default $LATEST)')
    .option('--missed <policy>', 'slots missed while Strato was down: catch-up-once (default) or skip')
    .action(async (name: string, schedule: string, options: CronOptions) => {
      try {
        const created = await clientFor(options).createCronTrigger(name, {
          schedule,
          ...(options.tz === undefined ? {} : { timezone: options.tz }),
          ...(options.payload === undefined ? {} : { payload: parsePayload(options.payload) }),
          ...(options.qualifier === undefined ? {} : { qualifier: options.qualifier }),
          ...(options.missed === undefined ? {} : { missed: parseMissed(options.missed) }),
        });
        if (options.json) return printJson(created);
        printCreated(created);
      } catch (error) {
        fail(error);
      }
    });

  withCommon(trigger.command('list <name>').alias('ls').description("list a function's triggers")).action(
    async (name: string, options: CommonOptions) => {
      try {
        const { triggers } = await clientFor(options).listTriggers(name);
        if (options.json) return printJson(triggers);
        printTable(
          triggers.map((t) => ({ ...t, qualifier: t.qualifier ?? '$LATEST' })),
          ['id', 'schedule', 'timezone', 'qualifier', 'missed', 'nextFireAt', 'lastFiredSlot'],
        );
      } catch (error) {
        fail(error);
      }
    },
  );

  withCommon(trigger.command('delete <id>').alias('rm').description('delete a trigger')).action(
    async (id: string, options: CommonOptions) => {
      try {
        await clientFor(options).deleteTrigger(id);
        if (options.json) return printJson({ deleted: id });
        console.log(`deleted ${id}`);
      } catch (error) {
        fail(error);
      }
    },
  );
}

function printCreated({ trigger, nextFireTimes }: TriggerResponse): void {
  console.log(
    `created ${trigger.id}: ${trigger.functionName}@${trigger.qualifier ?? '$LATEST'} on '${trigger.schedule}' (${trigger.timezone}, missed: ${trigger.missed})`,
  );
  for (const time of nextFireTimes) console.log(`  next: ${time}`);
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new StratoError('INVALID_JSON', `--payload is not JSON: ${(error as Error).message}`);
  }
}

function parseMissed(value: string): MissedSlotPolicy {
  const policy = MISSED_SLOT_POLICIES.find((candidate) => candidate === value);
  if (policy === undefined) {
    throw new StratoError('VALIDATION_FAILED', `--missed must be ${MISSED_SLOT_POLICIES.join(' or ')}`);
  }
  return policy;
}
