import type { Command } from 'commander';
import type { LogLine } from '../core/invocation.js';
import { clientFor, withCommon, type CommonOptions } from './common-options.js';
import { fail, printJson, printTable } from './output.js';

/** invoke, list, get, delete, versions, invocations, logs, ps. */
export function registerFunctionCommands(program: Command): void {
  withCommon(program.command('invoke <name>').description('invoke a function with a JSON event'))
    .option('--data <json>', 'the event (JSON)', '{}')
    .option('--version <qualifier>', 'version number or $LATEST')
    .option('--async', 'queue it (Prefer: respond-async) and print the invocation id')
    .option('--idempotency-key <key>', 'with --async: a repeat with the same key runs once')
    .action(
      async (
        name: string,
        options: CommonOptions & { data: string; version?: string; async?: boolean; idempotencyKey?: string },
      ) => {
        try {
          if (options.async === true) {
            const queued = await clientFor(options).invokeAsync(name, options.data, {
              ...(options.version === undefined ? {} : { version: options.version }),
              ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
            });
            if (options.json) return printJson(queued);
            console.log(queued.invocationId);
            console.error(queued.duplicate ? '(queued before: same idempotency key)' : '(queued)');
            return;
          }
          const response = await clientFor(options).invoke(
            name,
            options.data,
            options.version === undefined ? {} : { version: options.version },
          );
          if (options.json) {
            printJson({
              ...response,
              headers: Object.fromEntries(response.headers),
              body: tryJson(response.body),
            });
          } else {
            console.log(response.body);
            console.error(
              response.invocationId === null
                ? `(${response.status})`
                : `(${response.status}, version ${String(response.version)}, ${response.cold ? 'cold' : 'warm'}, invocation ${response.invocationId})`,
            );
          }
          if (response.status >= 400) process.exit(1);
        } catch (error) {
          fail(error);
        }
      },
    );

  withCommon(program.command('list').alias('ls').description('list functions')).action(
    async (options: CommonOptions) => {
      try {
        const { functions } = await clientFor(options).listFunctions({ limit: 1000 });
        if (options.json) return printJson(functions);
        printTable(functions, ['name', 'latestVersion', 'updatedAt']);
      } catch (error) {
        fail(error);
      }
    },
  );

  withCommon(program.command('get <name>').description('show a function and its latest version')).action(
    async (name: string, options: CommonOptions) => {
      try {
        printJson(await clientFor(options).getFunction(name));
      } catch (error) {
        fail(error);
      }
    },
  );

  withCommon(
    program.command('delete <name>').alias('rm').description('delete a function, its versions and records'),
  ).action(async (name: string, options: CommonOptions) => {
    try {
      await clientFor(options).deleteFunction(name);
      if (options.json) return printJson({ deleted: name });
      console.log(`deleted ${name}`);
    } catch (error) {
      fail(error);
    }
  });

  withCommon(program.command('versions <name>').description('list the versions of a function')).action(
    async (name: string, options: CommonOptions) => {
      try {
        const { versions } = await clientFor(options).listVersions(name, { limit: 1000 });
        if (options.json) return printJson(versions);
        printTable(
          versions.map((v) => ({
            ...v,
            memoryMb: v.config.memoryMb,
            timeoutMs: v.config.timeoutMs,
            code: v.codeSha256.slice(0, 12),
          })),
          ['version', 'code', 'memoryMb', 'timeoutMs', 'createdAt', 'description'],
        );
      } catch (error) {
        fail(error);
      }
    },
  );

  withCommon(program.command('invocations <name>').description('recent invocations of a function'))
    .option('--limit <n>', 'how many', '20')
    .action(async (name: string, options: CommonOptions & { limit: string }) => {
      try {
        const { invocations } = await clientFor(options).listInvocations(name, {
          limit: Number(options.limit),
        });
        if (options.json) return printJson(invocations);
        printTable(
          invocations.map((i) => ({
            ...i,
            durationMs: i.durationMs.toFixed(2),
            initDurationMs: i.initDurationMs.toFixed(2),
          })),
          ['id', 'version', 'startedAt', 'outcome', 'cold', 'durationMs', 'initDurationMs', 'billedMs'],
        );
      } catch (error) {
        fail(error);
      }
    });

  withCommon(program.command('logs <name>').description('function logs (console output per invocation)'))
    .option('--invocation <id>', 'only this invocation')
    .option('--since <time>', 'ISO time, epoch ms, or a duration ago (10m)')
    .option('--until <time>', 'ISO time, epoch ms, or a duration ago')
    .option('--grep <text>', 'only lines containing this text')
    .option('--limit <n>', 'most recent lines to show', '200')
    .option('-f, --follow', 'then keep printing new lines as invocations settle (Ctrl-C stops)')
    .action(
      async (
        name: string,
        options: CommonOptions & {
          invocation?: string;
          since?: string;
          until?: string;
          grep?: string;
          limit: string;
          follow?: boolean;
        },
      ) => {
        try {
          const { logs } = await clientFor(options).logs(name, {
            ...(options.invocation === undefined ? {} : { invocationId: options.invocation }),
            ...(options.since === undefined ? {} : { since: options.since }),
            ...(options.until === undefined ? {} : { until: options.until }),
            ...(options.grep === undefined ? {} : { q: options.grep }),
            limit: Number(options.limit),
          });
          if (options.json && options.follow !== true) return printJson(logs);
          for (const line of logs) console.log(options.json ? JSON.stringify(line) : formatLogLine(line));
          if (options.follow !== true) return;
          // Until Ctrl-C: each invocation's lines as it settles.
          const stop = new AbortController();
          process.once('SIGINT', () => stop.abort());
          for await (const item of clientFor(options).followLogs(name, stop.signal)) {
            if ('line' in item)
              console.log(options.json ? JSON.stringify(item.line) : formatLogLine(item.line));
            else
              console.error(
                `(${item.dropped} lines dropped: this terminal read slower than the function logged)`,
              );
          }
        } catch (error) {
          fail(error);
        }
      },
    );

  withCommon(program.command('ps <name>').description('instances of a function')).action(
    async (name: string, options: CommonOptions) => {
      try {
        const { instances } = await clientFor(options).instances(name);
        if (options.json) return printJson(instances);
        const now = Date.now();
        printTable(
          instances.map((i) => ({
            ...i,
            age: `${Math.round((now - i.createdAt) / 1000)}s`,
            idle: `${Math.round((now - i.lastUsedAt) / 1000)}s`,
            inFlight: `${i.inFlight}/${i.instanceConcurrency}`,
            memory: `${i.memoryMb} MB`,
            provisioned: i.provisioned ? 'yes' : '',
          })),
          [
            'id',
            'version',
            'tier',
            'state',
            'inFlight',
            'age',
            'idle',
            'invocations',
            'memory',
            'provisioned',
          ],
        );
      } catch (error) {
        fail(error);
      }
    },
  );
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function formatLogLine(line: LogLine): string {
  return `${new Date(line.ts).toISOString()} ${line.invocationId.slice(0, 8)} ${line.level.toUpperCase().padEnd(5)} ${line.message}`;
}
