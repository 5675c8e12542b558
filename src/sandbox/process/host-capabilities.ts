import { execFile } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Absolute paths of the tools the confinement script runs; absolute so an empty PATH cannot redirect them. */
export const confinementTools = {
  unshare: '/usr/bin/unshare',
  setpriv: '/usr/bin/setpriv',
  prlimit: '/usr/bin/prlimit',
  mount: '/usr/bin/mount',
  umount: '/usr/bin/umount',
  mkdir: '/usr/bin/mkdir',
  env: '/usr/bin/env',
  sh: '/bin/sh',
} as const;

/** Where each cgroup controller the process tier needs is, for the layout the host has. */
export type CgroupLayout =
  | {
      version: 'v1';
      /** Mount point of each v1 hierarchy (`cpu` may be co-mounted as `cpu,cpuacct`). */
      memory: string;
      pids: string;
      cpu: string;
    }
  | {
      version: 'v2';
      /** The cgroup2 mount whose root enables memory, pids and cpu. */
      root: string;
    };

/** What a host offers to confine a process, or why it cannot. */
export type ConfinementSupport =
  | {
      ok: true;
      /** `hybrid`: v1 controllers plus a cgroup2 mount without them (this machine); confined through v1. */
      cgroup: 'v1' | 'v2' | 'hybrid';
      layout: CgroupLayout;
      /** Path of `ip`, needed to bring loopback up for `network: 'loopback'`; undefined if absent. */
      ipTool: string | undefined;
    }
  | { ok: false; reason: string };

let cached: Promise<ConfinementSupport> | undefined;

/**
 * Finds out whether this host can run a process confined (namespaces, cgroup limits, dropped privileges).
 * The process tier must refuse to start when this is `ok: false`: it never runs a function unconfined.
 * The result is cached for the life of the process (the host does not change under us).
 */
export function detectConfinement(): Promise<ConfinementSupport> {
  cached ??= probe();
  return cached;
}

async function probe(): Promise<ConfinementSupport> {
  if (process.platform !== 'linux') return refuse(`process confinement needs Linux, not ${process.platform}`);
  // Creating namespaces and cgroups and switching to an unprivileged uid need root (no rootless mode yet).
  if (process.getuid?.() !== 0) return refuse('process confinement needs root (uid 0)');
  for (const tool of Object.values(confinementTools)) {
    if (!(await isExecutable(tool))) return refuse(`${tool} is missing or not executable`);
  }
  try {
    // The exact namespace set every instance uses: a kernel or seccomp profile may forbid one of them.
    await execFileAsync(
      confinementTools.unshare,
      ['--pid', '--fork', '--mount', '--ipc', '--uts', '--net', '--kill-child', '--mount-proc', 'true'],
      { env: {}, timeout: 5_000 },
    );
  } catch (error) {
    return refuse(`unshare cannot create namespaces here: ${(error as Error).message.trim()}`);
  }
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  const layout = await findCgroupLayout(mounts);
  if (!layout.ok) return layout;
  const ipTool = (await isExecutable('/usr/sbin/ip'))
    ? '/usr/sbin/ip'
    : (await isExecutable('/usr/bin/ip'))
      ? '/usr/bin/ip'
      : undefined;
  return { ok: true, cgroup: layout.cgroup, layout: layout.layout, ipTool };
}

async function findCgroupLayout(
  mounts: string,
): Promise<
  { ok: true; cgroup: 'v1' | 'v2' | 'hybrid'; layout: CgroupLayout } | { ok: false; reason: string }
> {
  const v1 = new Map<string, string>();
  let v2Root: string | undefined;
  for (const line of mounts.split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (mountPoint === undefined || options === undefined) continue;
    if (fsType === 'cgroup2') v2Root ??= mountPoint;
    if (fsType !== 'cgroup') continue;
    for (const option of options.split(',')) {
      if (option === 'memory' || option === 'pids' || option === 'cpu') v1.set(option, mountPoint);
    }
  }
  const memory = v1.get('memory');
  const pids = v1.get('pids');
  const cpu = v1.get('cpu');
  if (memory !== undefined && pids !== undefined && cpu !== undefined) {
    return {
      ok: true,
      cgroup: v2Root === undefined ? 'v1' : 'hybrid',
      layout: { version: 'v1', memory, pids, cpu },
    };
  }
  if (v2Root !== undefined) {
    // A controller bound to a v1 hierarchy is absent from cgroup2, so both checks are needed.
    const enabled = await readFile(`${v2Root}/cgroup.controllers`, 'utf8').catch(() => '');
    const available = new Set(enabled.trim().split(/\s+/));
    const missing = ['memory', 'pids', 'cpu'].filter((controller) => !available.has(controller));
    if (missing.length === 0) return { ok: true, cgroup: 'v2', layout: { version: 'v2', root: v2Root } };
    return refuse(`cgroup2 at ${v2Root} lacks the ${missing.join(', ')} controller(s)`);
  }
  return refuse('no cgroup hierarchy with the memory, pids and cpu controllers is mounted');
}

/** Whether `path` exists and may be executed (also used when checking a function's `bootstrap`). */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
