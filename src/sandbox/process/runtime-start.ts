import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { FunctionErrorInfo } from '../../core/invocation.js';
import type { InstanceSpec, InvokeResult } from '../../core/sandbox.js';
import type { NodeRuntimesConfig } from '../../config/node-runtimes.js';
import { EgressPolicy } from '../egress/egress-policy.js';
import { hasEgress, proxyEnvironment } from '../egress/proxy-environment.js';
import { lambdaEnvironment } from '../runtime-api/lambda-environment.js';
import type { RuntimeApiEndpoint } from '../runtime-api/runtime-api-endpoint.js';
import type { CodeCache } from './code-cache.js';
import type { ConfinedExit } from './confined-process.js';
import type { OutputCapture } from './output-capture.js';
import { runtimeCommand } from './runtime-command.js';
import { runtimeApiAddress, taskRoot } from './runtime-forwarder.js';
import {
  launchFresh,
  launchPooled,
  poolKeyOf,
  type InstanceEgress,
  type LaunchedRuntime,
} from './runtime-launch.js';
import type { SandboxPool } from './sandbox-pool.js';

/** What every instance of the tier shares. */
export interface RuntimeContext {
  dataDir: string;
  /** Host paths no function may see (the tier's data dir, the server's whole data dir, the image cache). */
  hiddenPaths: readonly string[];
  instancesDir: string;
  codeCache: CodeCache;
  logger: Logger;
  logLimitBytes: number;
  tmpSizeBytes: number;
  /** Node binary per Lambda Node.js runtime (server config `nodeRuntimes`). */
  nodeRuntimes: NodeRuntimesConfig;
  /** Pre-confined sandboxes; absent when the pool is off (`processPoolSize` 0). */
  pool?: SandboxPool;
  /** Networks the operator opened to functions' egress (server config `egressAllowedNetworks`). */
  egressAllowedNetworks: readonly string[];
}

/** A runtime that has polled for its first invocation. */
export interface RunningRuntime {
  endpoint: RuntimeApiEndpoint;
  exited: Promise<ConfinedExit>;
  capture: OutputCapture;
  /** Spawn to first poll, in ms. */
  initDurationMs: number;
  /** Lets output already written reach the capture; after an exit, waits for the pipes to close. */
  drainOutput(exited: boolean): Promise<void>;
  /** Kills the process group, closes the endpoint and removes the instance's directory. */
  stop(): Promise<void>;
  /**
   * OOM kills counted in the instance so far, where the tier can tell: a rise during an invocation means the
   * kernel killed one of the function's processes for memory even though the runtime survived.
   */
  oomKills?: () => Promise<number>;
}

export type StartOutcome =
  { kind: 'ready'; runtime: RunningRuntime } | { kind: 'failed'; result: InvokeResult };

/** An invocation result before its logs are attached. */
export type ResultWithoutLogs = InvokeResult extends infer R
  ? R extends InvokeResult
    ? Omit<R, 'logs' | 'logBytes' | 'logTruncated'>
    : never
  : never;

type InitRace =
  | { kind: 'polled' }
  | { kind: 'init-error'; error: FunctionErrorInfo }
  | { kind: 'exit'; exit: ConfinedExit }
  | { kind: 'timeout' }
  | { kind: 'disposed' };

/**
 * Starts one instance's runtime: code extracted (once per node), then a sandbox from the pool assigned to the
 * function when one fits (runtime-launch.ts's poolKeyOf), else one confined the ordinary way; then waits for
 * the runtime's first poll. Never rejects: every failure becomes the result of the instance's first invocation.
 */
export async function startRuntime(
  id: string,
  spec: InstanceSpec,
  context: RuntimeContext,
  disposed: AbortSignal,
): Promise<StartOutcome> {
  let launched: LaunchedRuntime | undefined;
  try {
    if (spec.loadArtifact === undefined) throw new Error(`${spec.functionName} has no deployment zip`);
    const startedAt = performance.now();
    const codeDir = await context.codeCache.ensure(spec.codeSha256, spec.loadArtifact);
    const command = await runtimeCommand(spec, codeDir, context.nodeRuntimes);
    if (command.kind === 'invalid') {
      return await failedStart(undefined, {
        outcome: 'error',
        phase: 'init',
        error: command.error,
        durationMs: 0,
        initDurationMs: 0,
      });
    }
    if (disposed.aborted) return await failedStart(undefined, disposedWhileStarting());
    const lambdaEnv = lambdaEnvironment({
      functionName: spec.functionName,
      version: spec.version,
      memoryMb: spec.config.memoryMb,
      taskRoot,
      runtimeApi: runtimeApiAddress,
      ...(spec.handler === undefined ? {} : { handler: spec.handler }),
      ...(command.runtimeDir === undefined ? {} : { runtimeDir: command.runtimeDir }),
      // Lambda leaves AWS_EXECUTION_ENV unset for OS-only runtimes.
      ...(spec.runtime === undefined || spec.runtime.startsWith('provided') ? {} : { runtime: spec.runtime }),
      // Debian generates only C.UTF-8; en_US.UTF-8 would make glibc fall back to C.
      lang: 'C.UTF-8',
    });
    const egress = instanceEgress(spec, context);
    // The proxy's variables are the platform's, like Lambda's own: a function cannot point them elsewhere.
    const env = functionEnvironment(
      egress === undefined ? lambdaEnv : { ...lambdaEnv, ...proxyEnvironment() },
      { ...command.defaultEnv, ...spec.config.env },
    );
    const spawnedAt = performance.now();
    // A pooled sandbox's forwarders were started before its function was known: egress starts fresh.
    const poolKey = egress === undefined ? poolKeyOf(spec, command) : undefined;
    const taken = poolKey === undefined ? undefined : context.pool?.take(poolKey);
    const pooled = taken === undefined ? undefined : await launchPooled(taken, spec, command, env);
    launched =
      pooled ??
      (await launchFresh(
        id,
        spec,
        command,
        env,
        { codeDir, instancesDir: context.instancesDir, hiddenPaths: context.hiddenPaths },
        { tmpSizeBytes: context.tmpSizeBytes, logLimitBytes: context.logLimitBytes },
        egress,
      ));
    const launchedAt = performance.now();
    return await untilFirstPoll(launched, spec.config.timeoutMs, disposed, spawnedAt, () =>
      // The phases of a cold start, for bench/process-phases.ts and for tuning.
      context.logger.debug(
        {
          functionName: spec.functionName,
          pooled: pooled !== undefined,
          codeMs: spawnedAt - startedAt,
          launchMs: launchedAt - spawnedAt,
          firstPollMs: performance.now() - launchedAt,
        },
        'process instance started',
      ),
    );
  } catch (error) {
    context.logger.error({ err: error, functionName: spec.functionName }, 'process instance failed to start');
    return await failedStart(launched, gone(`the instance could not start: ${(error as Error).message}`));
  }
}

/** The instance's egress when its function allows some host; undefined: loopback only, no proxy. */
function instanceEgress(spec: InstanceSpec, context: RuntimeContext): InstanceEgress | undefined {
  if (!hasEgress(spec.config.egress)) return undefined;
  return {
    policy: new EgressPolicy(spec.config.egress, context.egressAllowedNetworks),
    onRefused: (refusal) =>
      context.logger.info({ functionName: spec.functionName, ...refusal }, 'egress refused'),
  };
}

/** What {@link untilFirstPoll} needs of a started runtime, whichever tier started it. */
export interface StartedRuntime {
  endpoint: RuntimeApiEndpoint;
  process: {
    exited: Promise<ConfinedExit>;
    stdout: Readable;
    stderr: Readable;
    oomKills?: (() => Promise<number>) | undefined;
  };
  capture: OutputCapture;
  /** Kills the runtime, closes the endpoint and removes what the instance created. */
  stop: () => Promise<void>;
}

/**
 * Waits for a started runtime's first poll (its init phase, bounded by the function's timeout) and makes the
 * outcome: ready, or the failed first invocation (init error, exit, timeout, disposal) with the runtime stopped
 * and its output attached. `spawnedAt` (performance.now()) starts the init duration; `onPolled` runs once ready.
 * Never rejects.
 */
export async function untilFirstPoll(
  started: StartedRuntime,
  timeoutMs: number,
  disposed: AbortSignal,
  spawnedAt: number,
  onPolled: () => void = () => undefined,
): Promise<StartOutcome> {
  const { endpoint, process: running, capture, stop } = started;
  const init = await raceInit(endpoint, running.exited, timeoutMs, disposed);
  const initDurationMs = performance.now() - spawnedAt;
  const streamsClosed = Promise.all([closed(running.stdout), closed(running.stderr)]);
  const drainOutput = async (exited: boolean) => {
    // Output written before the runtime answered may still sit in the pipe behind the socket's event.
    await nextTurn();
    if (exited) await Promise.race([streamsClosed, sleep(200)]);
  };
  switch (init.kind) {
    case 'polled':
      onPolled();
      return {
        kind: 'ready',
        runtime: {
          endpoint,
          exited: running.exited,
          capture,
          initDurationMs,
          drainOutput,
          stop,
          ...(running.oomKills === undefined ? {} : { oomKills: running.oomKills }),
        },
      };
    case 'init-error':
      await drainOutput(false);
      return await failedStart(started, {
        outcome: 'error',
        phase: 'init',
        error: init.error,
        durationMs: 0,
        initDurationMs,
      });
    case 'exit':
      await drainOutput(true);
      return await failedStart(started, {
        ...exitFailure(init.exit, 'before it polled for an invocation'),
        durationMs: 0,
        initDurationMs,
      });
    case 'disposed':
      return await failedStart(started, disposedWhileStarting());
    case 'timeout':
      return await failedStart(started, {
        outcome: 'timeout',
        error: {
          type: 'Timeout',
          message: `the runtime did not poll for an invocation within ${timeoutMs} ms`,
          stack: undefined,
        },
        durationMs: 0,
        initDurationMs,
      });
  }
}

/** A start that failed: stops what was started and attaches its output to the first invocation's result. */
export async function failedStart(
  started: Pick<StartedRuntime, 'capture' | 'stop'> | undefined,
  result: ResultWithoutLogs,
): Promise<StartOutcome> {
  await started?.stop();
  const logs = started?.capture.take() ?? { lines: [], bytes: 0, truncated: false };
  const withLogs: InvokeResult = {
    ...result,
    logs: logs.lines,
    logBytes: logs.bytes,
    logTruncated: logs.truncated,
  };
  return { kind: 'failed', result: withLogs };
}

async function raceInit(
  endpoint: RuntimeApiEndpoint,
  exited: Promise<ConfinedExit>,
  timeoutMs: number,
  disposed: AbortSignal,
): Promise<InitRace> {
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  if (disposed.aborted) return { kind: 'disposed' };
  try {
    return await Promise.race<InitRace>([
      // An init error or close also rejects this; those are reported by the other branches.
      endpoint.waitForFirstPoll().then(
        () => ({ kind: 'polled' }) as const,
        () => new Promise<never>(() => undefined),
      ),
      new Promise<InitRace>((resolve) => {
        unsubscribe = endpoint.onInitError((error) => resolve({ kind: 'init-error', error }));
      }),
      exited.then((exit) => ({ kind: 'exit', exit }) as const),
      new Promise<InitRace>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
      }),
      // Disposing must not wait for a runtime that may never poll.
      new Promise<InitRace>((resolve) => {
        onAbort = () => resolve({ kind: 'disposed' });
        disposed.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    unsubscribe?.();
    if (onAbort !== undefined) disposed.removeEventListener('abort', onAbort);
  }
}

/** The first invocation's result when the instance was disposed before its runtime polled. */
export function disposedWhileStarting(): ResultWithoutLogs {
  return gone('the instance was disposed while it started');
}

/** The first invocation's result when the instance could not start at all (`SandboxCrashed`). */
export function gone(message: string): ResultWithoutLogs {
  return {
    outcome: 'crashed',
    error: { type: 'SandboxCrashed', message, stack: undefined },
    durationMs: 0,
    initDurationMs: 0,
  };
}

/** Outcome of a runtime that exited on its own: the cgroup tells an OOM kill from any other exit. */
export function exitFailure(
  exit: ConfinedExit,
  when: string,
): { outcome: 'out_of_memory' | 'crashed'; error: FunctionErrorInfo } {
  if (exit.oomKilled) {
    return {
      outcome: 'out_of_memory',
      error: { type: 'OutOfMemory', message: 'the function exceeded its memory limit', stack: undefined },
    };
  }
  const status = exit.signal === null ? `exit status ${String(exit.code)}` : `signal ${exit.signal}`;
  return {
    outcome: 'crashed',
    error: { type: 'Runtime.ExitError', message: `the runtime exited ${when} (${status})`, stack: undefined },
  };
}

/** As on Lambda, a function may set PATH, LANG, TZ and LD_LIBRARY_PATH; every other Lambda variable is reserved. */
const overridable = new Set(['PATH', 'LANG', 'TZ', 'LD_LIBRARY_PATH']);

function functionEnvironment(
  lambdaEnv: Record<string, string>,
  functionEnv: Record<string, string>,
): Record<string, string> {
  const env = { ...lambdaEnv, ...functionEnv };
  for (const [name, value] of Object.entries(lambdaEnv)) if (!overridable.has(name)) env[name] = value;
  return env;
}

async function closed(stream: Readable): Promise<void> {
  if (stream.closed) return;
  await once(stream, 'close').catch(() => undefined);
}
