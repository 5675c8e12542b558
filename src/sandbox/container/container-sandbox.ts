import { createHash } from 'node:crypto';
import { access, constants, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { InstanceSpec, Sandbox, SandboxInstance } from '../../core/sandbox.js';
import { StratoError } from '../../core/strato-error.js';
import { RuntimeInstance } from '../process/process-instance.js';
import { socatPath } from '../process/runtime-forwarder.js';
import { detectCgroupHost, removeStaleCgroups } from './container-cgroup.js';
import { startContainer, type ContainerContext } from './container-start.js';
import { MountNamespaceHolder } from './mount-namespace.js';
import { ForwarderPool } from './net-forwarder.js';
import { detectOciRuntime, OciRuntime, type OciRuntimeInfo, type OciRuntimeName } from './oci-runtime.js';

export interface ContainerSandboxOptions {
  /**
   * Node-local directory of the tier: the runtime's state (`state/`), one directory per instance
   * (`instances/<id>`: bundle, runtime log, Runtime API socket) and the runtime trial (`scratch/`).
   */
  dataDir: string;
  logger: Logger;
  /** stdout/stderr kept per invocation. */
  logLimitBytes: number;
  /** Size of each instance's private /tmp. @default 512 MiB (Lambda's default ephemeral storage) */
  tmpSizeBytes?: number;
  /** Use this runtime or none (tests, the bench). @default crun where it works, else runc */
  runtime?: OciRuntimeName;
  /** Runtime API forwarders kept started ahead of need (each ~20 ms of a cold start otherwise). @default 2 */
  forwarderPoolSize?: number;
  /**
   * Private networks (CIDRs) functions' egress proxies may reach when a function's `egress` pattern names a
   * host there. @default none
   */
  egressAllowedNetworks?: readonly string[];
}

const ipCandidates = ['/usr/sbin/ip', '/usr/bin/ip'];
/** Enters the forwarder's network namespace for an egress proxy's forwarder. */
const nsenterPath = '/usr/bin/nsenter';
const unsharePath = '/usr/bin/unshare';

/**
 * The container tier: container-image functions (an OCI image's root file system, assembled by the image
 * layer cache and handed over through `InstanceSpec.prepareImage`) run by a real OCI runtime, crun or runc,
 * one container per instance, each speaking the AWS Lambda Runtime API on 127.0.0.1:9001 exactly as on
 * Lambda, so an image built for Lambda runs unmodified. Each container: the image's root read-only, a private
 * size-capped /tmp, its own pid/ipc/uts/mount/cgroup namespaces, a network namespace with nothing but
 * loopback and the Runtime API, memory (no swap)/pids/CPU limits, uid 65534 with no capabilities, no new
 * privileges and a seccomp denylist. Refuses to exist where no runtime can run a container.
 */
export class ContainerSandbox implements Sandbox {
  readonly tier = 'container' as const;
  private readonly instances = new Set<RuntimeInstance>();
  private closed = false;

  private constructor(
    private readonly context: ContainerContext,
    private readonly holder: MountNamespaceHolder | undefined,
  ) {}

  /**
   * Finds a working OCI runtime (a trial container, once per process) and clears what an earlier run of this
   * sandbox left behind. Throws `INTERNAL` ("container sandbox unavailable: ...", with the reason of every
   * runtime tried) when no container can run here.
   */
  static async create(options: ContainerSandboxOptions): Promise<ContainerSandbox> {
    const unavailable = (reason: string, cause?: unknown) =>
      new StratoError('INTERNAL', `container sandbox unavailable: ${reason}`, { cause });
    if (process.platform !== 'linux') throw unavailable(`containers need Linux, not ${process.platform}`);
    const cgroups = await detectCgroupHost();
    if (!cgroups.ok) throw unavailable(cgroups.reason);
    const host = cgroups.host;
    for (const tool of [socatPath, unsharePath, nsenterPath]) {
      if (!(await isExecutable(tool)))
        throw unavailable(`${tool} is missing (the Runtime API and egress forwarders need it)`);
    }
    let ipTool: string | undefined;
    for (const candidate of ipCandidates) {
      if (await isExecutable(candidate)) {
        ipTool = candidate;
        break;
      }
    }
    if (ipTool === undefined)
      throw unavailable("iproute2's ip is missing (the forwarder brings loopback up with it)");
    const dataDir = resolve(options.dataDir);
    const stateDir = join(dataDir, 'state');
    const instancesDir = join(dataDir, 'instances');
    const scratchDir = join(dataDir, 'scratch');
    const socketsDir = join(dataDir, 'sockets');
    // `<socketsDir>/<16 hex>-egress.sock` must fit a Unix socket address (108 bytes with its NUL).
    if (Buffer.byteLength(socketsDir) + 29 > 107) {
      throw unavailable(`the data dir is too long for Unix socket paths: ${dataDir}`);
    }
    for (const dir of [stateDir, instancesDir, scratchDir])
      await mkdir(dir, { recursive: true, mode: 0o700 });
    const detection = await detectOciRuntime(host, scratchDir, options.runtime);
    if (!detection.ok) throw unavailable(detection.reason);
    const runtime = new OciRuntime(detection.choice, detection.info, stateDir);
    const holder = await startHolder(detection.choice.hideUnified, options.logger);
    if (holder !== undefined) runtime.useMountNamespace(holder);
    // One data dir, one sandbox: its cgroups carry a key of the dir, so a restart finds exactly its own.
    const cgroupKey = createHash('sha256').update(dataDir).digest('hex').slice(0, 10);
    const stale = await removeLeftovers(
      runtime,
      { stateDir, instancesDir, socketsDir },
      host,
      cgroupKey,
    ).catch((error: unknown) => {
      holder?.stop();
      throw unavailable(`could not clear what an earlier run left: ${(error as Error).message}`, error);
    });
    if (stale.containers + stale.forwarders + stale.cgroups > 0) {
      options.logger.info(stale, 'removed containers left behind by an earlier server');
    }
    options.logger.info({ runtime: detection.info }, `container tier: ${detection.info.reason}`);
    return new ContainerSandbox(
      {
        runtime,
        host,
        instancesDir,
        cgroupKey,
        forwarders: new ForwarderPool(options.forwarderPoolSize ?? 2, socketsDir, ipTool),
        logger: options.logger,
        logLimitBytes: options.logLimitBytes,
        tmpSizeBytes: options.tmpSizeBytes ?? 512 * 1024 * 1024,
        checkedRoots: new Map(),
        egressAllowedNetworks: [...(options.egressAllowedNetworks ?? [])],
      },
      holder,
    );
  }

  /** Which OCI runtime runs the containers here, and why (for logs, docs and the bench). */
  get runtimeInfo(): OciRuntimeInfo {
    return this.context.runtime.info;
  }

  /** Returns at once; the instance's first invoke waits for the image, the container and its first poll. */
  startInstance(spec: InstanceSpec): SandboxInstance {
    if (this.closed) throw new StratoError('INTERNAL', 'the container sandbox is closed');
    const instance = new RuntimeInstance(
      'container',
      spec,
      (id, disposed) => startContainer(id, spec, this.context, disposed),
      this.context.logger,
      (gone) => this.instances.delete(gone),
    );
    this.instances.add(instance);
    return instance;
  }

  /** Instances not yet disposed (for tests and `strato ps`). */
  get instanceCount(): number {
    return this.instances.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([
      this.context.forwarders.close(),
      ...[...this.instances].map((instance) => instance.dispose()),
    ]);
    // Last: stopping containers still runs the runtime in it.
    this.holder?.stop();
  }
}

/**
 * A server killed without closing its sandbox leaves containers in the runtime's state dir, forwarders (socat
 * in their own network namespace), instance dirs and cgroups; all of them are this sandbox's (its own state
 * dir, its data dir in the forwarder's command line, its key in the cgroup names).
 */
async function removeLeftovers(
  runtime: OciRuntime,
  dirs: { stateDir: string; instancesDir: string; socketsDir: string },
  host: Parameters<typeof removeStaleCgroups>[0],
  cgroupKey: string,
): Promise<{ containers: number; forwarders: number; cgroups: number }> {
  const { stateDir, instancesDir, socketsDir } = dirs;
  const names = (await readdir(stateDir).catch(() => [] as string[])).filter((name) =>
    name.startsWith('strato-'),
  );
  for (const name of names) {
    await runtime.kill(name);
    await runtime.forceDelete(name);
  }
  const forwarders = await killForwarders(`UNIX-CONNECT:${socketsDir}/`);
  const cgroups = await removeStaleCgroups(host, cgroupKey);
  for (const dir of [instancesDir, socketsDir]) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  return { containers: names.length, forwarders, cgroups };
}

/** The held mount namespace crun runs in on a hybrid host; undefined (a new one per call) if it cannot start. */
async function startHolder(
  hiddenMount: string | undefined,
  logger: Logger,
): Promise<MountNamespaceHolder | undefined> {
  if (hiddenMount === undefined) return undefined;
  try {
    return await MountNamespaceHolder.start(hiddenMount);
  } catch (error) {
    logger.warn({ err: error }, 'container tier: no held mount namespace; crun gets a new one per call');
    return undefined;
  }
}

/** SIGKILLs the processes whose command line holds `marker` (a dead server's forwarders). */
async function killForwarders(marker: string): Promise<number> {
  let killed = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(marker)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

async function isExecutable(path: string): Promise<boolean> {
  return await access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}
