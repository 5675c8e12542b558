import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { bundleFunction } from '../build/bundle-function.js';
import type { StratoClient } from '../client/strato-client.js';
import { type DeployCode, type ImageProgressView } from '../client/strato-client.js';
import { registryPasswordFromEnv } from '../config/cli-config.js';
import { clientFor } from './common-options.js';
import { fail, printJson } from './output.js';

interface DeployOptions {
  name?: string;
  memory?: string;
  timeout?: string;
  env: string[];
  concurrency?: string;
  instanceConcurrency?: string;
  description?: string;
  asyncRetries?: string;
  maxEventAge?: string;
  onSuccess?: string;
  onFailure?: string;
  url?: string;
  json?: boolean;
  image?: string;
  imageArchive?: string;
  registryUsername?: string;
}

/** The code to deploy and what the summary line says about it. */
interface PreparedCode {
  name: string;
  code: DeployCode;
  what: string;
}

export function registerDeployCommand(program: Command): void {
  program
    .command('deploy [path]')
    .description(
      'deploy a new version: a function bundled from <path> (file or directory, with its npm dependencies), ' +
        'a container image from a registry (--image), or an image tarball (--image-archive)',
    )
    .option('--name <name>', 'function name (default: the file or directory name, or the image repository)')
    .option('--image <reference>', 'container image, e.g. 127.0.0.1:5000/team/fn:tag (pinned to its digest)')
    .option('--image-archive <file>', 'container image from a `docker save` or OCI-layout tarball')
    .option(
      '--registry-username <user>',
      'registry user for this pull; the password comes from STRATO_REGISTRY_PASSWORD',
    )
    .option('--memory <mb>', 'memory limit in MB (default 128)')
    .option('--timeout <duration>', 'timeout, e.g. 10s (default 10s)')
    .option(
      '--env <K=V>',
      'environment variable (repeatable)',
      (value: string, all: string[]) => [...all, value],
      [],
    )
    .option('--concurrency <n>', 'maximum concurrent invocations (default 10)')
    .option(
      '--instance-concurrency <n>',
      'requests one instance serves at once, 1-1000 (isolate fetch handlers only; default 1)',
    )
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
    .action(async (target: string | undefined, options: DeployOptions) => {
      try {
        const startedAt = performance.now();
        const client = clientFor(options);
        const { name, code, what } = await prepareCode(client, target, options);
        const response = await client.deploy(name, {
          ...code,
          ...(options.memory === undefined ? {} : { memoryMb: Number(options.memory) }),
          ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
          ...(options.env.length === 0 ? {} : { env: parseEnv(options.env) }),
          ...(options.concurrency === undefined ? {} : { concurrency: Number(options.concurrency) }),
          ...(options.instanceConcurrency === undefined
            ? {}
            : { instanceConcurrency: Number(options.instanceConcurrency) }),
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.asyncRetries === undefined ? {} : { asyncRetries: Number(options.asyncRetries) }),
          ...(options.maxEventAge === undefined ? {} : { maxEventAge: options.maxEventAge }),
          ...(options.onSuccess === undefined ? {} : { onSuccess: options.onSuccess }),
          ...(options.onFailure === undefined ? {} : { onFailure: options.onFailure }),
        });
        if (options.json) return printJson(response);
        const { version } = response;
        console.log(
          `deployed ${name} version ${version.version} (${what}, ${version.config.memoryMb} MB, timeout ${version.config.timeoutMs} ms) in ${Math.round(performance.now() - startedAt)} ms`,
        );
        console.log(
          `invoke: strato invoke ${name} --data '{}'   or   POST ${client.baseUrl}/v1/functions/${name}/invoke`,
        );
      } catch (error) {
        fail(error);
      }
    });
}

/** Bundles the path, or pulls / uploads the image first (printing progress), so the deploy only pins it. */
async function prepareCode(
  client: StratoClient,
  target: string | undefined,
  options: DeployOptions,
): Promise<PreparedCode> {
  const sources = [target, options.image, options.imageArchive].filter((source) => source !== undefined);
  if (sources.length !== 1) {
    throw new Error('give exactly one of <path>, --image <reference> or --image-archive <file>');
  }
  if (options.image !== undefined) {
    const registryAuth = registryAuthOf(options);
    const image = await client.pullImage(options.image, {
      ...(registryAuth === undefined ? {} : { registryAuth }),
      onProgress: (event) => {
        if (!options.json) console.error(progressLine(event));
      },
    });
    const repository = options.image.split('@')[0]!.split('/').pop()!.split(':')[0]!;
    return {
      name: options.name ?? repository,
      code: { image: image.imageId },
      what: `${image.reference}@${image.manifestDigest.slice(0, 19)}, ${image.layers} layers`,
    };
  }
  if (options.imageArchive !== undefined) {
    if (options.name === undefined) throw new Error('--image-archive needs --name');
    const stream = Readable.toWeb(createReadStream(options.imageArchive)) as ReadableStream<Uint8Array>;
    const image = await client.importImageArchive(stream);
    return {
      name: options.name,
      code: { image: image.imageId },
      what: `archive ${image.manifestDigest.slice(0, 19)}, ${image.layers} layers`,
    };
  }
  const bundle = await bundleFunction(target!);
  for (const warning of bundle.warnings) console.error(`warning: ${warning}`);
  return {
    name: options.name ?? bundle.suggestedName,
    code: { code: bundle.code, sourceMap: bundle.sourceMap },
    what: `${(bundle.code.length / 1024).toFixed(1)} KB`,
  };
}

function registryAuthOf(options: DeployOptions): { username: string; password: string } | undefined {
  if (options.registryUsername === undefined) return undefined;
  // Never on the command line, where every user of the machine can read it.
  const password = registryPasswordFromEnv();
  if (password === undefined) {
    throw new Error('--registry-username needs the password in STRATO_REGISTRY_PASSWORD');
  }
  return { username: options.registryUsername, password };
}

function progressLine(event: ImageProgressView): string {
  switch (event.kind) {
    case 'resolved':
      return `resolved ${event.manifestDigest} (${event.layers} layers, ${(event.bytes / 1024 / 1024).toFixed(1)} MB)`;
    case 'layer':
      return `  layer ${event.digest.slice(7, 19)} ${event.state} (${(event.size / 1024).toFixed(0)} KB)`;
    case 'done':
      return `pulled ${event.manifestDigest}`;
  }
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
