import type { Command } from 'commander';
import { clientFor, withCommon, type CommonOptions } from './common-options.js';
import { fail, printJson, printTable } from './output.js';

/** `strato dlq ls|show|redrive|purge`: a function's failed async invocations. */
export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description("a function's dead-letter queue (failed async invocations)");

  withCommon(dlq.command('ls <function>').description('list dead-lettered invocations, oldest first'))
    .option('--limit <n>', 'at most this many', '100')
    .action(async (name: string, options: CommonOptions & { limit: string }) => {
      try {
        const { invocations } = await clientFor(options).listDeadLetters(name, {
          limit: Number(options.limit),
        });
        if (options.json) return printJson(invocations);
        printTable(
          invocations.map((invocation) => ({
            id: invocation.id,
            attempts: invocation.attempts,
            error: invocation.error === null ? null : `${invocation.error.code}: ${invocation.error.message}`,
            enqueuedAt: new Date(invocation.message.enqueuedAt).toISOString(),
          })),
          ['id', 'attempts', 'error', 'enqueuedAt'],
        );
      } catch (error) {
        fail(error);
      }
    });

  withCommon(
    dlq.command('show <function> <id>').description('one dead-lettered invocation with its attempts'),
  ).action(async (name: string, id: string, options: CommonOptions) => {
    try {
      printJson((await clientFor(options).getDeadLetter(name, id)).invocation);
    } catch (error) {
      fail(error);
    }
  });

  withCommon(dlq.command('redrive <function>').description('queue dead-lettered invocations again'))
    .option('--id <id>', 'only this one (default: all of the function)')
    .action(async (name: string, options: CommonOptions & { id?: string }) => {
      try {
        const result = await clientFor(options).redriveDeadLetters(name, options.id);
        if (options.json) return printJson(result);
        console.log(`redriven: ${result.redriven}`);
      } catch (error) {
        fail(error);
      }
    });

  withCommon(
    dlq.command('purge <function>').description("delete the function's dead-lettered invocations"),
  ).action(async (name: string, options: CommonOptions) => {
    try {
      const result = await clientFor(options).purgeDeadLetters(name);
      if (options.json) return printJson(result);
      console.log(`purged: ${result.purged}`);
    } catch (error) {
      fail(error);
    }
  });
}
