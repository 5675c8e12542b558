import { spawn } from 'node:child_process';
import { isAbsolute } from 'node:path';
import type { Readable } from 'node:stream';
import { StratoError } from '../../core/strato-error.js';
import { InstanceCgroup } from './cgroup.js';
import { detectConfinement } from './host-capabilities.js';
import { buildSetupScript, type ConfinementPlan } from './setup-script.js';

/**
 * A host directory bound into the confined process's view (e.g. a Runtime API Unix socket directory).
 * The root file system is read-only inside, so `target` must already exist on the host or lie under /tmp.
 */
export interface ExtraBind {
  source: string;
  target: string;
  readonly: boolean;
}

/** How to start one confined process. */
export interface ConfinedProcessOptions {
  /** Names this instance's cgroup (`strato/<id>`); unique per live instance. */
  id: string;
  command: string;
  args?: readonly string[];
  /** Working directory, as seen inside. @default codeDir */
  cwd?: string;
  /** The whole environment of the process: nothing of the parent's is inherited. */
  env: Readonly<Record<string, string>>;
  /** The function's code, bound read-only at the same path. Must be readable by `uid`. */
  codeDir: string;
  /** Size of the private tmpfs on /tmp, the only writable place. */
  tmpSizeBytes: number;
  memoryBytes: number;
  maxPids: number;
  /** Fraction of one CPU per 100 ms period. @default 1 */
  cpuShare?: number;
  /** RLIMIT_NOFILE. @default 1024 */
  maxOpenFiles?: number;
  /** RLIMIT_FSIZE. @default tmpSizeBytes */
  maxFileSizeBytes?: number;
  /** @default 65534 (nobody) */
  uid?: number;
  /** @default 65534 (nogroup) */
  gid?: number;
  /** `none`: an empty network namespace; `loopback`: the same with `lo` up. @default 'none' */
  network?: 'none' | 'loopback';
  extraBinds?: readonly ExtraBind[];
  /** Host directories (e.g. the server's data dir) covered by an empty tmpfs, or files covered by /dev/null. */
  hidePaths?: readonly string[];
}

/** How a confined process ended. `oomKilled` comes from the cgroup, since `unshare` reports it as exit 1. */
export interface ConfinedExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  oomKilled: boolean;
}

/** A running confined process. Its cgroup is removed once it has exited, before `exited` resolves. */
export interface ConfinedProcess {
  /** Host pid of the `unshare` process that holds the namespaces. */
  pid: number;
  stdout: Readable;
  stderr: Readable;
  /** Writable stdin of the process. */
  stdin: NodeJS.WritableStream;
  exited: Promise<ConfinedExit>;
  /** Kills the whole instance: every process in its namespaces and cgroup. */
  kill(): void;
  /**
   * OOM kills in the instance's cgroup so far (0 once it is gone): a rise during an invocation is a process
   * of the function killed for memory while the runtime lived on.
   */
  oomKills?: () => Promise<number>;
}

/**
 * Starts `command` confined like a container: own pid/mount/ipc/uts/net namespaces, read-only root with a
 * private size-capped /tmp, the code dir read-only, cgroup memory/pids/CPU limits, rlimits, an unprivileged
 * uid with no capabilities and no_new_privs, and exactly `options.env`.
 * Throws a `StratoError` (`INTERNAL`) when the host cannot confine: it never falls back to running unconfined.
 */
export async function spawnConfined(options: ConfinedProcessOptions): Promise<ConfinedProcess> {
  const support = await detectConfinement();
  if (!support.ok) throw new StratoError('INTERNAL', `process sandbox unavailable: ${support.reason}`);
  const network = options.network ?? 'none';
  if (network === 'loopback' && support.ipTool === undefined) {
    throw new StratoError('INTERNAL', "network 'loopback' needs iproute2's ip, which this host lacks");
  }
  validate(options);
  const cgroup = await InstanceCgroup.create(support.layout, options.id, {
    memoryBytes: options.memoryBytes,
    maxPids: options.maxPids,
    cpuShare: options.cpuShare ?? 1,
  });
  const plan: ConfinementPlan = {
    cgroupProcsFiles: cgroup.procsFiles,
    codeDir: options.codeDir,
    cwd: options.cwd ?? options.codeDir,
    tmpSizeBytes: options.tmpSizeBytes,
    maxOpenFiles: options.maxOpenFiles ?? 1024,
    maxFileSizeBytes: options.maxFileSizeBytes ?? options.tmpSizeBytes,
    uid: options.uid ?? 65534,
    gid: options.gid ?? 65534,
    ipTool: network === 'loopback' ? support.ipTool : undefined,
    binds: [
      { source: options.codeDir, target: options.codeDir, readonly: true },
      ...(options.extraBinds ?? []),
    ],
    hidePaths: options.hidePaths ?? [],
    env: options.env,
    command: options.command,
    args: options.args ?? [],
  };
  return runInNamespaces(buildSetupScript(plan), cgroup);
}

const unshareArgs = ['--pid', '--fork', '--mount', '--ipc', '--uts', '--net', '--kill-child', '--mount-proc'];

/**
 * Runs a setup script as root pid 1 of new pid/mount/ipc/uts/net namespaces and supervises it: `exited`
 * reads the cgroup's OOM state and removes the cgroup. The script must join `cgroup` itself, first.
 */
export async function runInNamespaces(script: string, cgroup: InstanceCgroup): Promise<ConfinedProcess> {
  // The setup script runs as root in the new namespaces with an empty environment; the user's env is only
  // handed to the final command, through `env -i`.
  const child = spawn('/usr/bin/unshare', [...unshareArgs, '/bin/sh', '-c', script], {
    env: {},
    cwd: '/',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) {
    await cgroup.remove();
    throw new StratoError('INTERNAL', 'could not start unshare for a confined process');
  }
  const exited = new Promise<ConfinedExit>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      void (async () => {
        // Read the counter before removal; a non-zero oom_kill means the kernel killed one of ours.
        const oom = await cgroup.readOomState();
        await cgroup.remove();
        resolve({ code, signal, oomKilled: oom.oomKills > 0 || oom.underOom });
      })().catch(reject);
    });
  });
  return {
    pid,
    stdout: child.stdout,
    stderr: child.stderr,
    stdin: child.stdin,
    exited,
    oomKills: () =>
      cgroup.readOomState().then(
        (state) => state.oomKills,
        () => 0,
      ),
    kill() {
      // --kill-child turns unshare's death into SIGKILL for the namespace's init, which takes the whole pid
      // namespace with it; the cgroup sweep on exit catches anything that escaped in between.
      child.kill('SIGKILL');
    },
  };
}

function validate(options: ConfinedProcessOptions): void {
  const paths = [
    options.codeDir,
    options.cwd ?? options.codeDir,
    ...(options.hidePaths ?? []),
    ...(options.extraBinds ?? []).flatMap((bind) => [bind.source, bind.target]),
  ];
  for (const path of paths) {
    if (!isAbsolute(path) || path.includes('\0') || path.split('/').includes('..')) {
      throw new StratoError('INTERNAL', `confinement paths must be absolute and plain: ${path}`);
    }
  }
  for (const name of Object.keys(options.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new StratoError('INTERNAL', `invalid env name: ${name}`);
  }
  // `env` would read a command containing '=' as one more variable.
  if (options.command.includes('=') || options.command === '') {
    throw new StratoError('INTERNAL', `invalid command: ${options.command}`);
  }
  const positive = [options.tmpSizeBytes, options.memoryBytes, options.maxPids];
  if (!positive.every((value) => Number.isInteger(value) && value > 0)) {
    throw new StratoError('INTERNAL', 'tmpSizeBytes, memoryBytes and maxPids must be positive integers');
  }
}
