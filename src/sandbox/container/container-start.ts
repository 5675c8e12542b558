import type { ChildProcess } from 'node:child_process';
import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { PreparedImage } from '../../core/container-image.js';
import type { InstanceSpec } from '../../core/sandbox.js';
import { lambdaFunctionArn } from '../../core/lambda-arn.js';
import type { ConfinedExit } from '../process/confined-process.js';
import { OutputCapture } from '../process/output-capture.js';
import {
  disposedWhileStarting,
  failedStart,
  gone,
  untilFirstPoll,
  type StartOutcome,
} from '../process/runtime-start.js';
import { EgressPolicy } from '../egress/egress-policy.js';
import { hasEgress, proxyEnvironment } from '../egress/proxy-environment.js';
import { lambdaEnvironment } from '../runtime-api/lambda-environment.js';
import { RuntimeApiEndpoint } from '../runtime-api/runtime-api-endpoint.js';
import { ContainerCgroup, cgroupParent, type CgroupHost } from './container-cgroup.js';
import { startContainerEgress, type ContainerEgress } from './egress-forwarder.js';
import type { ForwarderPool, NetForwarder } from './net-forwarder.js';
import { buildOciSpec, containerArgs } from './oci-spec.js';
import { lastRuntimeError, type OciRuntime } from './oci-runtime.js';

/** Lambda's task root and runtime dir in a container image (AWS's base images use them). */
export const imageTaskRoot = '/var/task';
export const imageRuntimeDir = '/var/runtime';
const runtimeApiAddress = '127.0.0.1:9001';
/** How long a killed container may take to be gone before its runtime process is killed too. */
const stopGraceMs = 5_000;

/** What every instance of the container tier shares. */
export interface ContainerContext {
  runtime: OciRuntime;
  host: CgroupHost;
  /** `<dataDir>/instances`: one directory per instance (bundle, runtime log). */
  instancesDir: string;
  /** Names this sandbox's cgroups (`/strato-ctr/<key>-<id>`), so a restart finds what it left. */
  cgroupKey: string;
  /** Runtime API forwarders (each in its own network namespace), started ahead of need. */
  forwarders: ForwarderPool;
  logger: Logger;
  logLimitBytes: number;
  tmpSizeBytes: number;
  /** Root file systems (and working dirs) already prepared, by path. */
  checkedRoots: Map<string, Promise<void>>;
  /** Networks the operator opened to functions' egress (server config `egressAllowedNetworks`). */
  egressAllowedNetworks: readonly string[];
}

/** The container's name in the runtime's state dir. */
export function containerName(id: string): string {
  return `strato-${id}`;
}

/**
 * Starts one instance of the container tier: the image made ready on this node (the init phase), then the
 * Runtime API endpoint on a Unix socket, the forwarder's network namespace and the bundle, all at once; then
 * `<runtime> run` of the bundle; then waits for the runtime's first poll. Never rejects: every failure becomes
 * the result of the instance's first invocation.
 */
export async function startContainer(
  id: string,
  spec: InstanceSpec,
  context: ContainerContext,
  disposed: AbortSignal,
): Promise<StartOutcome> {
  const name = containerName(id);
  const instanceDir = join(context.instancesDir, id);
  const logFile = join(instanceDir, 'runtime.log');
  const cgroup = new ContainerCgroup(context.host, `${cgroupParent}/${context.cgroupKey}-${id}`);
  const memoryBytes = spec.config.memoryMb * 1024 * 1024;
  let endpoint: RuntimeApiEndpoint | undefined;
  let forwarder: NetForwarder | undefined;
  let egress: ContainerEgress | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<ConfinedExit> | undefined;
  let runtimeError: string | undefined;
  const capture = new OutputCapture(context.logLimitBytes);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (
        child !== undefined &&
        exited !== undefined &&
        child.exitCode === null &&
        child.signalCode === null
      ) {
        await context.runtime.kill(name);
        if ((await settledWithin(exited, stopGraceMs)) === 'late') child.kill('SIGKILL');
      }
      await exited;
      // A runtime killed before it could clean up leaves the container in its state dir.
      if (child !== undefined && (await context.runtime.knows(name))) await context.runtime.forceDelete(name);
      await Promise.all([forwarder?.stop(), egress?.stop()]);
      await endpoint?.close();
      await cgroup
        .remove()
        .catch((error: unknown) =>
          context.logger.warn({ err: error, instanceId: id }, 'container cgroup removal failed'),
        );
      await rm(instanceDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    if (spec.prepareImage === undefined) {
      return await failedStart(undefined, {
        outcome: 'crashed',
        error: {
          type: 'Image.Missing',
          message: `${spec.functionName} has no container image: the container tier runs only image functions`,
          stack: undefined,
        },
        durationMs: 0,
        initDurationMs: 0,
      });
    }
    const startedAt = performance.now();
    // Taken now, so one started on demand gets ready while the image does.
    forwarder = context.forwarders.take();
    let image: PreparedImage;
    try {
      image = await spec.prepareImage();
    } catch (error) {
      return await failedStart(
        { capture, stop },
        {
          outcome: 'crashed',
          error: { type: imageErrorType(error), message: (error as Error).message, stack: undefined },
          durationMs: 0,
          initDurationMs: performance.now() - startedAt,
        },
      );
    }
    if (disposed.aborted) return await failedStart({ capture, stop }, disposedWhileStarting());
    const preparedAt = performance.now();
    const handler = spec.handler ?? image.config.cmd[0];
    const egressPatterns = spec.config.egress;
    const lambdaEnv = {
      ...lambdaEnvironment({
        functionName: spec.functionName,
        version: spec.version,
        memoryMb: spec.config.memoryMb,
        taskRoot: imageTaskRoot,
        runtimeDir: imageRuntimeDir,
        runtimeApi: runtimeApiAddress,
        ...(handler === undefined ? {} : { handler }),
      }),
      // The platform's, like Lambda's own variables: neither the image nor the function can redirect them.
      ...(hasEgress(egressPatterns) ? proxyEnvironment() : {}),
    };
    if (containerArgs(image.config) === undefined) {
      // Lambda's own words for an image with nothing to run.
      return await failedStart(
        { capture, stop },
        {
          outcome: 'error',
          phase: 'init',
          error: {
            type: 'Runtime.InvalidEntrypoint',
            message: 'the image has neither an ENTRYPOINT nor a CMD: there is nothing to run',
            stack: undefined,
          },
          durationMs: 0,
          initDurationMs: 0,
        },
      );
    }
    await mkdir(instanceDir, { recursive: true, mode: 0o700 });
    const socketPath = forwarder.socketPath;
    const built = buildOciSpec({
      rootfsDir: image.rootfsDir,
      image: image.config,
      lambdaEnv,
      functionEnv: spec.config.env,
      memoryBytes,
      tmpSizeBytes: context.tmpSizeBytes,
      cgroupsPath: cgroup.containerPath,
      netnsPath: forwarder.netnsPath,
      cgroupNamespace: context.host.cgroupNamespace,
    });
    if (built.kind === 'invalid') throw new Error(built.error.message);
    // Independent steps, at once; all settle before a failure is handled, so nothing started is left behind.
    const took = (step: Promise<unknown>) => step.then(() => performance.now() - preparedAt);
    const setup = await Promise.allSettled([
      took(
        RuntimeApiEndpoint.start({
          functionArn: lambdaFunctionArn({
            functionName: spec.functionName,
            qualifier: String(spec.version),
          }),
          listen: { path: socketPath, advertisedAddress: runtimeApiAddress },
        }).then((listening) => (endpoint = listening)),
      ),
      took(writeFile(join(instanceDir, 'config.json'), JSON.stringify(built.spec))),
      took(prepareRootfs(image.rootfsDir, image.config.workingDir, context.checkedRoots)),
      took(
        forwarder.ready().then(async () => {
          // The proxy's forwarder enters the namespace the Runtime API forwarder made, so after it.
          if (!hasEgress(egressPatterns) || forwarder === undefined) return;
          egress = await startContainerEgress(
            forwarder.netnsPath,
            forwarder.socketPath.replace(/\.sock$/, '-egress.sock'),
            new EgressPolicy(egressPatterns, context.egressAllowedNetworks),
            (refusal) =>
              context.logger.info({ functionName: spec.functionName, ...refusal }, 'egress refused'),
          );
        }),
      ),
    ]);
    for (const step of setup) if (step.status === 'rejected') throw step.reason;
    const started = endpoint;
    if (started === undefined) throw new Error('the runtime API endpoint did not start');
    const [endpointMs, bundleMs, , forwarderMs] = setup.map((step) =>
      step.status === 'fulfilled' ? step.value : 0,
    );
    if (disposed.aborted) return await failedStart({ capture, stop }, disposedWhileStarting());
    const spawnedAt = performance.now();
    const running = context.runtime.spawnRun(instanceDir, name, logFile);
    child = running;
    running.stdout?.on('data', (chunk: Buffer) => capture.write('info', chunk));
    running.stderr?.on('data', (chunk: Buffer) => capture.write('error', chunk));
    exited = new Promise<ConfinedExit>((resolve) => {
      let settled = false;
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        // A spawn failure may report both 'error' and 'exit'.
        if (settled) return;
        settled = true;
        void (async () => {
          runtimeError = await lastRuntimeError(logFile);
          // Read before the parent goes: the runtime already removed the container's own cgroup.
          const evidence = await cgroup.memoryEvidence();
          await cgroup.remove().catch(() => undefined);
          const killed = code === 137 || signal === 'SIGKILL';
          // v1 counts OOM kills only in the (deleted) leaf; a SIGKILLed init at the limit was the OOM killer.
          const atLimit = evidence.peakBytes >= memoryBytes - 1024 * 1024;
          resolve({ code, signal, oomKilled: evidence.oomKills > 0 || (killed && atLimit) });
        })().catch(() => resolve({ code, signal, oomKilled: false }));
      };
      running.once('exit', onExit);
      running.once('error', () => onExit(null, null));
    });
    const outcome = await untilFirstPoll(
      {
        endpoint: started,
        process: { exited, stdout: running.stdout!, stderr: running.stderr! },
        capture,
        stop,
      },
      spec.config.timeoutMs,
      disposed,
      spawnedAt,
      () =>
        // The phases of a cold start, for bench/container-cold.ts and for tuning.
        context.logger.debug(
          {
            functionName: spec.functionName,
            runtime: context.runtime.info.name,
            imageMs: preparedAt - startedAt,
            setupMs: spawnedAt - preparedAt,
            endpointMs,
            bundleMs,
            forwarderMs,
            firstPollMs: performance.now() - spawnedAt,
          },
          'container instance started',
        ),
    );
    const ready =
      outcome.kind === 'ready'
        ? { ...outcome, runtime: { ...outcome.runtime, oomKills: () => cgroup.oomKillsSoFar() } }
        : outcome;
    return withRuntimeError(ready, runtimeError);
  } catch (error) {
    context.logger.error(
      { err: error, functionName: spec.functionName },
      'container instance failed to start',
    );
    return await failedStart(
      { capture, stop },
      gone(`the instance could not start: ${(error as Error).message}`),
    );
  } finally {
    // Started or failed: now the pool may use the CPU to get the next cold start a forwarder.
    context.forwarders.refill();
  }
}

/**
 * A container that exited before its first poll because the runtime could not start it (no such entrypoint,
 * a cwd that is not a directory, ...) is reported with the runtime's own words rather than as an exit status.
 */
function withRuntimeError(outcome: StartOutcome, runtimeError: string | undefined): StartOutcome {
  if (outcome.kind !== 'failed' || runtimeError === undefined) return outcome;
  const result = outcome.result;
  if (result.outcome !== 'crashed' || result.error.type !== 'Runtime.ExitError') return outcome;
  const entrypoint = /exec|executable|no such file|not found|permission denied/i.test(runtimeError);
  return {
    kind: 'failed',
    result: {
      ...result,
      error: {
        type: entrypoint ? 'Runtime.InvalidEntrypoint' : 'Runtime.ContainerStartFailed',
        message: `the container did not start: ${runtimeError}`,
        stack: undefined,
      },
    },
  };
}

/**
 * What the runtime would otherwise write into the shared rootfs during some instance's start, done once per
 * image and working dir, here: the mount points of /proc, /dev, /sys and /tmp (a `FROM scratch` image of one
 * static binary has none) and the working dir (both runtimes create a missing cwd inside the rootfs, as Docker
 * does). /tmp is made 1777: runc gives its tmpfs the mode of the directory it covers, so an image's 0755 /tmp
 * would be unwritable for uid 65534 (the directory is never visible, a tmpfs always covers it). Only where
 * nothing exists is anything created (lstat, component by component): a symlink in the image is the runtime's to
 * resolve inside the container, never ours to follow on the host.
 */
async function prepareRootfs(
  rootfsDir: string,
  workingDir: string,
  checked: Map<string, Promise<void>>,
): Promise<void> {
  const key = `${rootfsDir}\0${workingDir}`;
  let check = checked.get(key);
  if (check === undefined) {
    check = (async () => {
      for (const [name, mode] of [
        ['proc', 0o555],
        ['dev', 0o755],
        ['sys', 0o555],
        ['tmp', 0o1777],
      ] as const) {
        const path = join(rootfsDir, name);
        const found = await lstatOrUndefined(path);
        if (found === undefined) await makeDir(path, mode);
        else if (name === 'tmp' && found.isDirectory() && (found.mode & 0o7777) !== mode)
          await chmod(path, mode);
      }
      let path = rootfsDir;
      for (const component of workingDir.split('/').filter((part) => part !== '' && part !== '.')) {
        if (component === '..') return;
        path = join(path, component);
        const found = await lstatOrUndefined(path);
        if (found === undefined) await makeDir(path, 0o755);
        else if (!found.isDirectory()) return;
      }
    })();
    checked.set(key, check);
    check.catch(() => checked.delete(key));
  }
  await check;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  return await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

/** mkdir with exactly `mode` (not masked by the umask); one made meanwhile by another start is fine. */
async function makeDir(path: string, mode: number): Promise<void> {
  try {
    await mkdir(path, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return;
  }
  await chmod(path, mode);
}

/** `Image.PullFailed` for a StratoError `IMAGE_PULL_FAILED`; `Image.PrepareFailed` for anything without a code. */
function imageErrorType(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[A-Z_]+$/.test(code)) return 'Image.PrepareFailed';
  const words = code
    .split('_')
    .filter((word) => word !== 'IMAGE' && word !== '')
    .map((word) => word.charAt(0) + word.slice(1).toLowerCase());
  return words.length === 0 ? 'Image.PrepareFailed' : `Image.${words.join('')}`;
}

async function settledWithin(promise: Promise<unknown>, ms: number): Promise<'settled' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  return await Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
