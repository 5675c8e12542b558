import { existsSync, realpathSync } from 'node:fs';
import { access, constants, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { probeNodeBinary, type NodeRuntimesConfig } from '../../config/node-runtimes.js';
import type { InstanceSpec, Sandbox, SandboxInstance } from '../../core/sandbox.js';
import { StratoError } from '../../core/strato-error.js';
import { CodeCache, type ZipExtractor } from './code-cache.js';
import { InstanceCgroup } from './cgroup.js';
import { detectConfinement } from './host-capabilities.js';
import { ProcessInstance, type RuntimeInstance } from './process-instance.js';
import { socatPath, taskRoot } from './runtime-forwarder.js';
import { runtimeDir } from './runtime-command.js';
import type { RuntimeContext } from './runtime-start.js';
import { nodePoolKey, SandboxPool, type PoolStats } from './sandbox-pool.js';

export interface ProcessSandboxOptions {
  /** Node-local directory for extracted code (`code/<sha256>`) and per-instance sockets (`instances/`). */
  dataDir: string;
  /**
   * More host paths covered inside every sandbox besides `dataDir`: the server's whole data dir (its SQLite
   * store, queue and image cache) and anything else functions must never read. The host's root is visible
   * read-only in this tier, so whatever is not hidden can be read.
   */
  hidePaths?: readonly string[];
  logger: Logger;
  /** stdout/stderr kept per invocation. */
  logLimitBytes: number;
  /** Size of each instance's private /tmp. @default 512 MiB (Lambda's default ephemeral storage) */
  tmpSizeBytes?: number;
  /** Safe zip extraction (pass build/zip-archive.ts's `extractZip`; sandbox/ may not import build/). */
  extractZip: ZipExtractor;
  /** Node binary per Lambda Node.js runtime. @default {} (every `nodejs*.x` runs on `process.execPath`) */
  nodeRuntimes?: NodeRuntimesConfig;
  /**
   * Sandboxes kept confined ahead of need per pool (one for `provided.*`, one per Node binary, with Node
   * already started); 0 starts every instance from scratch. @default 0 (the server's `processPoolSize` is 2)
   */
  poolSize?: number;
  /**
   * Private networks (CIDRs) functions' egress proxies may reach when a function's `egress` pattern names a
   * host there (`127.0.0.1/32` in tests, `10.1.2.0/24` for an internal API). @default none
   */
  egressAllowedNetworks?: readonly string[];
}

/**
 * The process tier: AWS Lambda custom runtimes (`provided.al2023`, `provided.al2`: a zip with an executable
 * `bootstrap`) and Node.js runtimes (`nodejs20.x`..`nodejs24.x`: Strato's runtime client on a Node binary,
 * see runtime-command.ts) run as confined OS processes, one per instance, each speaking the Lambda Runtime API to its
 * own endpoint. Refuses to exist on a host that cannot confine: it never runs a function unconfined.
 * Instances start from a pool of pre-confined sandboxes when one fits (sandbox-pool.ts), else on demand.
 */
export class ProcessSandbox implements Sandbox {
  readonly tier = 'process' as const;
  private readonly instances = new Set<RuntimeInstance>();
  private closed = false;

  private constructor(private readonly context: RuntimeContext) {}

  /** Checks that the host can confine and prepares the data dir; throws `INTERNAL` when it cannot confine. */
  static async create(options: ProcessSandboxOptions): Promise<ProcessSandbox> {
    const support = await detectConfinement();
    if (!support.ok) throw new StratoError('INTERNAL', `process sandbox unavailable: ${support.reason}`);
    const stale = await InstanceCgroup.removeStale(support.layout);
    if (stale > 0) options.logger.info({ stale }, 'removed cgroups left behind by an earlier server');
    // The Runtime API forwarder inside each instance; without it no runtime could reach its endpoint.
    await access(socatPath, constants.X_OK).catch((error: unknown) => {
      throw new StratoError('INTERNAL', `process sandbox unavailable: ${socatPath} is missing`, {
        cause: error,
      });
    });
    const dataDir = resolve(options.dataDir);
    const hiddenPaths = outermostPaths([
      dataDir,
      ...hostSocketDirs(),
      ...(options.hidePaths ?? []).map((path) => resolve(path)),
    ]);
    const instancesDir = join(dataDir, 'instances');
    // Left over from a previous run: those instances are gone with their processes.
    await rm(instancesDir, { recursive: true, force: true });
    await mkdir(instancesDir, { recursive: true, mode: 0o700 });
    // The task root and the runtime dir are bind targets, and the sandbox's root is read-only: the mount
    // points must exist.
    for (const mountPoint of [taskRoot, runtimeDir]) {
      await mkdir(mountPoint, { recursive: true, mode: 0o755 }).catch((error: unknown) => {
        throw new StratoError('INTERNAL', `process sandbox unavailable: cannot create ${mountPoint}`, {
          cause: error,
        });
      });
    }
    // Learn each Node binary's version and flags now rather than in some function's first cold start (a probe
    // costs a Node start, ~80 ms here); a binary that cannot run fails the instances that need it.
    const nodeRuntimes = options.nodeRuntimes ?? {};
    for (const nodePath of new Set([process.execPath, ...Object.values(nodeRuntimes)])) {
      probeNodeBinary(nodePath).catch((error: unknown) =>
        options.logger.warn({ err: error, nodePath }, 'a Node binary for nodejs runtimes cannot run'),
      );
    }
    const codeRoot = join(dataDir, 'code');
    // Pooled sandboxes hold the code cache root open before the data dir is hidden: it must exist.
    await mkdir(codeRoot, { recursive: true, mode: 0o755 });
    const tmpSizeBytes = options.tmpSizeBytes ?? 512 * 1024 * 1024;
    const poolSize = options.poolSize ?? 0;
    const pool =
      poolSize === 0
        ? undefined
        : new SandboxPool(
            poolSize,
            [
              'exec',
              ...[...new Set([process.execPath, ...Object.values(nodeRuntimes)])].map((path) =>
                nodePoolKey(path),
              ),
            ],
            {
              dataDir,
              hiddenPaths,
              instancesDir,
              codeRoot,
              tmpSizeBytes,
              logLimitBytes: options.logLimitBytes,
            },
            options.logger,
          );
    return new ProcessSandbox({
      dataDir,
      hiddenPaths,
      instancesDir,
      codeCache: new CodeCache(codeRoot, options.extractZip),
      logger: options.logger,
      logLimitBytes: options.logLimitBytes,
      tmpSizeBytes,
      nodeRuntimes,
      ...(pool === undefined ? {} : { pool }),
      egressAllowedNetworks: [...(options.egressAllowedNetworks ?? [])],
    });
  }

  /** Returns at once; the instance's first invoke waits for its runtime's first poll. */
  startInstance(spec: InstanceSpec): SandboxInstance {
    if (this.closed) throw new StratoError('INTERNAL', 'the process sandbox is closed');
    const instance = new ProcessInstance(spec, this.context, (gone) => this.instances.delete(gone));
    this.instances.add(instance);
    return instance;
  }

  /** Instances not yet disposed (for tests and `strato ps`). */
  get instanceCount(): number {
    return this.instances.size;
  }

  /** Per pool (`exec`, `node:<binary>`): sandboxes ready, being prepared, taken so far. Empty when off. */
  get pooled(): Record<string, PoolStats> {
    return this.context.pool?.stats() ?? {};
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([
      this.context.pool?.close(),
      ...[...this.instances].map((instance) => instance.dispose()),
    ]);
  }
}

/** The paths that are not inside another of them: covering `/a` already hides `/a/b`. */
/**
 * Where the host keeps its daemons' unix sockets (Postgres, MySQL, D-Bus, containerd). Neither the read-only
 * root nor the network namespace stops connect() on a filesystem socket, so a function could talk to a
 * 0777 database socket (test/security/escape-process.test.ts). /var/run is usually a link to /run.
 */
function hostSocketDirs(): string[] {
  return [...new Set(['/run', '/var/run'].filter((dir) => existsSync(dir)).map((dir) => realpathSync(dir)))];
}

function outermostPaths(paths: readonly string[]): string[] {
  const unique = [...new Set(paths)];
  return unique.filter(
    (path) =>
      !unique.some((other) => other !== path && path.startsWith(other.endsWith('/') ? other : `${other}/`)),
  );
}
