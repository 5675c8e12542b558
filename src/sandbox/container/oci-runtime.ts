import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  access,
  chmod,
  constants,
  copyFile,
  mkdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContainerCgroup, cgroupParent, type CgroupHost } from './container-cgroup.js';
import type { MountNamespaceHolder } from './mount-namespace.js';
import { buildOciSpec } from './oci-spec.js';

const execFileAsync = promisify(execFile);

export type OciRuntimeName = 'crun' | 'runc';

/** Where each runtime may be installed (Debian: /usr/bin/crun, /usr/sbin/runc); absolute, never from PATH. */
const candidates: Record<OciRuntimeName, readonly string[]> = {
  crun: ['/usr/bin/crun', '/usr/local/bin/crun'],
  runc: ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'],
};
const unsharePath = '/usr/bin/unshare';
const nsenterPath = '/usr/bin/nsenter';
const shPath = '/bin/sh';
const busyboxPath = '/usr/bin/busybox';

/** Which runtime the container tier uses, and why: for logs, docs and the bench. */
export interface OciRuntimeInfo {
  name: OciRuntimeName;
  binary: string;
  /** First line of `<runtime> --version`. */
  version: string;
  cgroupLayout: CgroupHost['layout'];
  /** True when the runtime runs in a private mount namespace without the cgroup2 mount (crun on a hybrid host). */
  hidesUnifiedCgroup: boolean;
  /** One sentence: what runs and why. */
  reason: string;
  /** Runtimes tried before this one, with why each was passed over. */
  rejected: Array<{ name: OciRuntimeName; reason: string }>;
}

/** How to run one runtime on this host (found by {@link detectOciRuntime}); bound to a state dir by {@link OciRuntime}. */
export interface RuntimeChoice {
  name: OciRuntimeName;
  binary: string;
  version: string;
  /** The cgroup2 mount to hide from it, on a hybrid host; undefined when it runs as is. */
  hideUnified: string | undefined;
}

/**
 * One OCI runtime with a private state dir (`--root`), so a sandbox never sees another's (or the host's)
 * containers. crun 1.8 refuses a hybrid cgroup layout ("cgroups in hybrid mode not supported") unless the
 * cgroup2 mount is out of its sight: on such a host every call runs it in a private mount namespace where
 * /sys/fs/cgroup/unified is unmounted first (it then drives the v1 hierarchies only). runc handles hybrid as is.
 */
export class OciRuntime {
  private holder: MountNamespaceHolder | undefined;

  constructor(
    readonly choice: RuntimeChoice,
    readonly info: OciRuntimeInfo,
    /** `--root`: where the runtime keeps its containers' state. */
    readonly stateDir: string,
  ) {}

  /**
   * Where the runtime must not see the cgroup2 mount, runs it in `holder`'s namespace from now on (cheaper
   * than a new namespace per call, which remains the fallback should the holder die).
   */
  useMountNamespace(holder: MountNamespaceHolder): void {
    this.holder = holder;
  }

  /** The argv (file, args) that runs `<runtime> --root <stateDir> <args>`. */
  command(args: readonly string[]): { file: string; args: string[] } {
    const global = ['--root', this.stateDir];
    if (this.choice.hideUnified === undefined) {
      return { file: this.choice.binary, args: [...global, ...args] };
    }
    const held = this.holder?.namespacePath;
    if (held !== undefined) {
      return { file: nsenterPath, args: [`--mount=${held}`, '--', this.choice.binary, ...global, ...args] };
    }
    const script = `umount ${quote(this.choice.hideUnified)} 2>/dev/null; exec ${quote(this.choice.binary)} "$@"`;
    return {
      file: unsharePath,
      args: ['-m', '--propagation', 'private', shPath, '-c', script, 'sh', ...global, ...args],
    };
  }

  /**
   * Starts `run` of a bundle in the foreground: the child's stdout/stderr are the container's, its exit is the
   * container's (128 + signal when the container's init was killed). `logFile` receives the runtime's own
   * errors (JSON lines), apart from the container's output.
   */
  spawnRun(bundleDir: string, name: string, logFile: string): ChildProcess {
    const { file, args } = this.command([
      '--log',
      logFile,
      '--log-format',
      'json',
      'run',
      '--bundle',
      bundleDir,
      name,
    ]);
    return spawn(file, args, { env: {}, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Runs one runtime command to completion; rejects with its stderr on failure. */
  async exec(args: readonly string[], timeoutMs = 10_000): Promise<string> {
    const { file, args: argv } = this.command(args);
    const { stdout } = await execFileAsync(file, argv, { env: {}, cwd: '/', timeout: timeoutMs });
    return stdout;
  }

  /** SIGKILLs a container's init (and with it its pid namespace). Errors (already stopped, gone) are ignored. */
  async kill(name: string): Promise<void> {
    await this.exec(['kill', name, 'KILL']).catch(() => undefined);
  }

  /** Removes a container whatever its state (`delete -f`). Errors (already gone) are ignored. */
  async forceDelete(name: string): Promise<void> {
    await this.exec(['delete', '-f', name]).catch(() => undefined);
  }

  /** Whether the state dir still knows `name` (both runtimes keep one directory per container). */
  async knows(name: string): Promise<boolean> {
    return await access(join(this.stateDir, name)).then(
      () => true,
      () => false,
    );
  }
}

export type RuntimeDetection =
  { ok: true; choice: RuntimeChoice; info: OciRuntimeInfo } | { ok: false; reason: string };

const cache = new Map<string, Promise<RuntimeDetection>>();

/**
 * Finds the OCI runtime that works on this host, once per process (and per forced choice): crun first (the
 * faster), else runc; each proven by running a trial container (busybox `true`) from a rootfs made under
 * `scratchDir` with the same kind of spec every instance gets. The reason names every runtime tried when
 * none works.
 */
export function detectOciRuntime(
  host: CgroupHost,
  scratchDir: string,
  force?: OciRuntimeName,
): Promise<RuntimeDetection> {
  const key = force ?? 'auto';
  let detection = cache.get(key);
  if (detection === undefined) {
    detection = probe(host, scratchDir, force);
    cache.set(key, detection);
  }
  return detection;
}

async function probe(
  host: CgroupHost,
  scratchDir: string,
  force?: OciRuntimeName,
): Promise<RuntimeDetection> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'running containers needs root (uid 0)' };
  const order: OciRuntimeName[] = force === undefined ? ['crun', 'runc'] : [force];
  const rejected: Array<{ name: OciRuntimeName; reason: string }> = [];
  for (const name of order) {
    const tried = await tryRuntime(name, host, scratchDir);
    if (!tried.ok) {
      rejected.push({ name, reason: tried.reason });
      continue;
    }
    const choice = tried.choice;
    const hidden = choice.hideUnified !== undefined;
    const reason =
      `${choice.version} (${choice.binary}) on a ${host.layout} cgroup host` +
      (hidden
        ? `, in a private mount namespace without ${choice.hideUnified} (crun refuses hybrid layouts)`
        : '') +
      (rejected.length > 0 ? `; ${rejected.map((r) => `${r.name}: ${r.reason}`).join('; ')}` : '');
    return {
      ok: true,
      choice,
      info: {
        name,
        binary: choice.binary,
        version: choice.version,
        cgroupLayout: host.layout,
        hidesUnifiedCgroup: hidden,
        reason,
        rejected,
      },
    };
  }
  return { ok: false, reason: rejected.map((r) => `${r.name}: ${r.reason}`).join('; ') };
}

async function tryRuntime(
  name: OciRuntimeName,
  host: CgroupHost,
  scratchDir: string,
): Promise<{ ok: true; choice: RuntimeChoice } | { ok: false; reason: string }> {
  let binary: string | undefined;
  for (const path of candidates[name]) {
    if (await isExecutable(path)) {
      binary = path;
      break;
    }
  }
  if (binary === undefined)
    return { ok: false, reason: `not installed (looked in ${candidates[name].join(', ')})` };
  const version = await execFileAsync(binary, ['--version'], { env: {}, timeout: 5_000 }).then(
    ({ stdout }) => stdout.split('\n')[0]?.trim() ?? name,
    (error: unknown) => `${name} (version unknown: ${(error as Error).message.trim()})`,
  );
  const hideUnified = name === 'crun' && host.layout === 'hybrid' ? host.unifiedMount : undefined;
  if (hideUnified !== undefined && !(await isExecutable(unsharePath))) {
    return { ok: false, reason: `${unsharePath} is missing (needed to hide the cgroup2 mount from crun)` };
  }
  const choice: RuntimeChoice = { name, binary, version, hideUnified };
  const trial = await runTrial(choice, host, scratchDir);
  return trial === undefined ? { ok: true, choice } : { ok: false, reason: trial };
}

/** Runs busybox `true` in a container; undefined when it worked, else why not. */
async function runTrial(
  choice: RuntimeChoice,
  host: CgroupHost,
  scratchDir: string,
): Promise<string | undefined> {
  if (!(await isExecutable(busyboxPath))) return `the trial container needs ${busyboxPath}`;
  const id = `trial-${choice.name}-${randomBytes(4).toString('hex')}`;
  const dir = join(scratchDir, id);
  const rootfs = join(dir, 'rootfs');
  const runtime = new OciRuntime(choice, placeholderInfo(choice, host), join(dir, 'state'));
  const cgroup = new ContainerCgroup(host, `${cgroupParent}/${id}`);
  const name = `strato-${id}`;
  try {
    await prepareTrialRootfs(rootfs);
    await mkdir(runtime.stateDir, { recursive: true, mode: 0o700 });
    const built = buildOciSpec({
      rootfsDir: rootfs,
      image: { entrypoint: [], cmd: [], env: [], workingDir: '/', user: '' },
      args: ['/bin/busybox', 'true'],
      lambdaEnv: {},
      functionEnv: {},
      memoryBytes: 32 * 1024 * 1024,
      tmpSizeBytes: 1024 * 1024,
      cgroupsPath: cgroup.containerPath,
      netnsPath: undefined,
      cgroupNamespace: host.cgroupNamespace,
    });
    if (built.kind === 'invalid') return built.error.message;
    await writeFile(join(dir, 'config.json'), JSON.stringify(built.spec));
    const logFile = join(dir, 'runtime.log');
    const { file, args } = runtime.command([
      '--log',
      logFile,
      '--log-format',
      'json',
      'run',
      '--bundle',
      dir,
      name,
    ]);
    try {
      await execFileAsync(file, args, { env: {}, cwd: '/', timeout: 10_000 });
      return undefined;
    } catch (error) {
      const logged = await lastRuntimeError(logFile);
      const stderr = (error as { stderr?: string }).stderr?.trim();
      return `a trial container failed: ${logged ?? (stderr !== undefined && stderr !== '' ? stderr : (error as Error).message)}`;
    }
  } catch (error) {
    return `the trial container could not be prepared: ${(error as Error).message}`;
  } finally {
    await runtime.forceDelete(name);
    await cgroup.remove().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function prepareTrialRootfs(rootfs: string): Promise<void> {
  for (const sub of ['bin', 'proc', 'dev', 'sys', 'tmp']) await mkdir(join(rootfs, sub), { recursive: true });
  await copyFile(busyboxPath, join(rootfs, 'bin', 'busybox'));
  await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
  await symlink('busybox', join(rootfs, 'bin', 'true'));
}

/** The message of the last error the runtime logged (its `--log` file, JSON lines), if any. */
export async function lastRuntimeError(logFile: string): Promise<string | undefined> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  let message: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (entry.level === 'error' && typeof entry.msg === 'string') message = entry.msg;
    } catch {
      // not JSON: a runtime that ignored --log-format
    }
  }
  return message;
}

function placeholderInfo(choice: RuntimeChoice, host: CgroupHost): OciRuntimeInfo {
  return {
    name: choice.name,
    binary: choice.binary,
    version: choice.version,
    cgroupLayout: host.layout,
    hidesUnifiedCgroup: choice.hideUnified !== undefined,
    reason: 'trial',
    rejected: [],
  };
}

async function isExecutable(path: string): Promise<boolean> {
  return await access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
