import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StratoError } from '../../core/strato-error.js';
import { RuntimeApiEndpoint } from '../runtime-api/runtime-api-endpoint.js';
import { InstanceCgroup } from './cgroup.js';
import { runInNamespaces, type ConfinedExit, type ConfinedProcess } from './confined-process.js';
import { detectConfinement } from './host-capabilities.js';
import { OutputCapture } from './output-capture.js';
import {
  buildAssignmentScript,
  buildPoolScript,
  poolReadyMarker,
  type Assignment,
  type PooledRuntime,
} from './pool-script.js';
import { runtimeApiAddress, runtimeDirInside, socketName } from './runtime-forwarder.js';
import { nodeClientBind } from './runtime-command.js';

export const sandboxUid = 65534;
const maxPids = 64;
// Before assignment the sandbox holds sh, socat and at most an idle Node (~45 MB); the function's own limit
// replaces this one when it is assigned.
const waitingMemoryBytes = 256 * 1024 * 1024;
const readyTimeoutMs = 10_000;

/** What every pooled sandbox of the tier shares. */
export interface PoolContext {
  dataDir: string;
  /** Host paths no function may see (the tier's data dir, the server's whole data dir, the image cache). */
  hiddenPaths: readonly string[];
  instancesDir: string;
  /** The code cache root (`<dataDir>/code`): held open inside, since the data dir is hidden. */
  codeRoot: string;
  tmpSizeBytes: number;
  logLimitBytes: number;
}

/**
 * One sandbox confined ahead of its function: namespaces, cgroup, read-only root, /tmp, hidden data dir,
 * socket dir, loopback, rlimits, the forwarder listening on 127.0.0.1:9001, and for Node the runtime client
 * already started (unprivileged) and waiting. Used once: {@link assign} makes it one function's instance.
 */
export class PooledSandbox {
  private assigned = false;

  private constructor(
    readonly runtime: PooledRuntime,
    readonly endpoint: RuntimeApiEndpoint,
    readonly process: ConfinedProcess,
    readonly capture: OutputCapture,
    readonly instanceDir: string,
    private readonly cgroup: InstanceCgroup,
  ) {}

  /** Confines a sandbox and resolves once it waits for its assignment; rejects (having cleaned up) otherwise. */
  static async prepare(id: string, runtime: PooledRuntime, context: PoolContext): Promise<PooledSandbox> {
    const support = await detectConfinement();
    if (!support.ok || support.ipTool === undefined) {
      throw new StratoError('INTERNAL', 'this host cannot confine a pooled sandbox');
    }
    const instanceDir = join(context.instancesDir, id);
    let endpoint: RuntimeApiEndpoint | undefined;
    let cgroup: InstanceCgroup | undefined;
    let child: ConfinedProcess | undefined;
    try {
      // Private to the sandbox's uid: no other instance's runtime can reach this socket.
      await mkdir(instanceDir, { recursive: true, mode: 0o700 });
      await chown(instanceDir, sandboxUid, sandboxUid);
      const socketPath = join(instanceDir, socketName);
      endpoint = await RuntimeApiEndpoint.start({
        listen: { path: socketPath, advertisedAddress: runtimeApiAddress },
      });
      await chown(socketPath, sandboxUid, sandboxUid);
      await chmod(socketPath, 0o600);
      cgroup = await InstanceCgroup.create(support.layout, `strato-${id}`, {
        memoryBytes: waitingMemoryBytes,
        maxPids,
        cpuShare: 1,
      });
      const script = buildPoolScript(
        {
          cgroupProcsFiles: cgroup.procsFiles,
          tmpSizeBytes: context.tmpSizeBytes,
          maxOpenFiles: 1024,
          maxFileSizeBytes: context.tmpSizeBytes,
          uid: sandboxUid,
          gid: sandboxUid,
          ipTool: support.ipTool,
          binds: [
            { source: instanceDir, target: runtimeDirInside, readonly: true },
            ...(runtime.kind === 'node' ? [nodeClientBind] : []),
          ],
          hidePaths: context.hiddenPaths,
          heldDir: context.codeRoot,
        },
        `${runtimeDirInside}/${socketName}`,
        runtime,
      );
      child = await runInNamespaces(script, cgroup);
      // A sandbox that died before its assignment was written makes that write fail; its exit reports it.
      child.stdin.on('error', () => undefined);
      const capture = new OutputCapture(context.logLimitBytes);
      const ready = await untilReady(child, capture);
      if (ready !== 'ready') {
        const logs = capture.take().lines.map((line) => line.message);
        throw new StratoError(
          'INTERNAL',
          `a pooled sandbox did not get ready (${ready}): ${logs.join(' | ')}`,
        );
      }
      return new PooledSandbox(runtime, endpoint, child, capture, instanceDir, cgroup);
    } catch (error) {
      child?.kill();
      await child?.exited.catch(() => undefined);
      if (child === undefined) await cgroup?.remove().catch(() => undefined);
      await endpoint?.close();
      await rm(instanceDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Resolves when the sandbox has ended (its cgroup removed). */
  get exited(): Promise<ConfinedExit> {
    return this.process.exited;
  }

  /**
   * Makes the sandbox one function's instance: its limits on the cgroup, its ARN on the endpoint, its code
   * at the task root and its runtime started with exactly `assignment.env`. Output from before this (the
   * tier's own, never a function's) is dropped.
   */
  async assign(functionArn: string, memoryBytes: number, assignment: Assignment): Promise<void> {
    if (this.assigned) throw new StratoError('INTERNAL', 'a pooled sandbox is used once');
    this.assigned = true;
    await this.cgroup.applyLimits({ memoryBytes, maxPids, cpuShare: 1 });
    this.endpoint.setFunctionArn(functionArn);
    this.capture.take();
    this.process.stdin.end(buildAssignmentScript(this.runtime.kind, assignment));
  }

  /** Kills the sandbox, closes its endpoint and removes its directory. */
  async stop(): Promise<void> {
    this.process.kill();
    await this.process.exited.catch(() => undefined);
    await this.endpoint.close();
    await rm(this.instanceDir, { recursive: true, force: true });
  }
}

/** Feeds the sandbox's output to `capture` once the ready marker has gone by; stderr from the start. */
async function untilReady(
  child: ConfinedProcess,
  capture: OutputCapture,
): Promise<'ready' | 'exited' | 'timeout'> {
  child.stderr.on('data', (chunk: Buffer) => capture.write('error', chunk));
  let seen = '';
  let markReady!: () => void;
  const marked = new Promise<'ready'>((resolve) => (markReady = () => resolve('ready')));
  const onData = (chunk: Buffer) => {
    seen += chunk.toString('utf8');
    const at = seen.indexOf(`${poolReadyMarker}\n`);
    if (at === -1) return;
    child.stdout.off('data', onData);
    const rest = seen.slice(at + poolReadyMarker.length + 1);
    if (rest !== '') capture.write('info', Buffer.from(rest));
    child.stdout.on('data', (more: Buffer) => capture.write('info', more));
    markReady();
  };
  child.stdout.on('data', onData);
  const timeout = new AbortController();
  try {
    return await Promise.race([
      marked,
      child.exited.then(() => 'exited' as const),
      sleep(readyTimeoutMs, 'timeout' as const, { signal: timeout.signal }),
    ]);
  } finally {
    timeout.abort();
  }
}
