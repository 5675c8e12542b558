import type { Command } from 'commander';
import { bundleFunction } from '../build/bundle-function.js';
import { StratoClient } from '../client/strato-client.js';
import { resolveServerUrl } from '../config/cli-config.js';
import { fail, printJson } from './output.js';

interface DeployOptions {
  name?: string;
  memory?: string;
  timeout?: string;
  env: string[];
  concurrency?: string;
  description?: string;
  asyncRetries?: string;
  maxEventAge?: string;
  onSuccess?: string;
  onFailure?: string;
  url?: string;
  json?: boolean;
}

export function registerDeployCommand(program: Command): void {
  program
    .command('deploy <path>')
    .description(
      'bundle a function (file or directory, with its npm dependencies) and deploy it as a new version',
    )
    .option('--name <name>', 'function name (default: the file or directory name)')
    .option('--memory <mb>', 'memory limit in MB (default 128)')
    .option('--timeout <duration>', 'timeout, e.g. 10s (default 10s)')
    .option(
      '--env <K=V>',
      'environment variable (repeatable)',
      (value: string, all: string[]) => [...all, value],
      [],
    )
    .option('--concurrency <n>', 'maximum concurrent instances (default 10)')
    .option('--description <text>', 'what this version is')
    .option('--async-retries <n>', 'retries of a failed async invocation (default 2)')
    .option('--max-event-age <duration>', 'async events older than this are dead-lettered (default 6h)')
    .option(
      '--on-success <destination>',
      'function or http(s) URL for records of successful async invocations',
    )
    .option(
      '--on-failure <destination>',
      'function or http(s) URL for records of dead-lettered async invocations',
    )
    .option('--url <url>', 'Strato server (STRATO_URL)')
    .option('--json', 'print JSON')
    .action(async (target: string, options: DeployOptions) => {
      try {
        const startedAt = performance.now();
        const bundle = await bundleFunction(target);
        for (const warning of bundle.warnings) console.error(`warning: ${warning}`);
        const name = options.name ?? bundle.suggestedName;
        const client = new StratoClient(resolveServerUrl(options.url));
        const response = await client.deploy(name, {
          code: bundle.code,
          sourceMap: bundle.sourceMap,
          ...(options.memory === undefined ? {} : { memoryMb: Number(options.memory) }),
          ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
          ...(options.env.length === 0 ? {} : { env: parseEnv(options.env) }),
          ...(options.concurrency === undefined ? {} : { concurrency: Number(options.concurrency) }),
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.asyncRetries === undefined ? {} : { asyncRetries: Number(options.asyncRetries) }),
          ...(options.maxEventAge === undefined ? {} : { maxEventAge: options.maxEventAge }),
          ...(options.onSuccess === undefined ? {} : { onSuccess: options.onSuccess }),
          ...(options.onFailure === undefined ? {} : { onFailure: options.onFailure }),
        });
        if (options.json) return printJson(response);
        const { version } = response;
        const kb = (bundle.code.length / 1024).toFixed(1);
        console.log(
          `deployed ${name} version ${version.version} (${kb} KB, ${version.config.memoryMb} MB, timeout ${version.config.timeoutMs} ms) in ${Math.round(performance.now() - startedAt)} ms`,
        );
        console.log(
          `invoke: strato invoke ${name} --data '{}'   or   POST ${client.baseUrl}/v1/functions/${name}/invoke`,
        );
      } catch (error) {
        fail(error);
      }
    });
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env expects K=V, got '${pair}'`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}
