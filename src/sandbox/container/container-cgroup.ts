import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseKeyValues, removeCgroupDir } from '../cgroup-files.js';

/** The host's cgroup layout as an OCI runtime sees it, with every mount a container's cgroup may appear in. */
export interface CgroupHost {
  /** `hybrid`: v1 controllers plus a cgroup2 mount without them (this machine's layout). */
  layout: 'v1' | 'hybrid' | 'v2';
  /** Every cgroup (v1) and cgroup2 mount point; runtimes create a container's cgroup in each. */
  mounts: string[];
  /** The v1 memory hierarchy, or the cgroup2 root on a v2 host. */
  memoryRoot: string;
  /** The cgroup2 mount point (on a hybrid host, the one crun must not see). */
  unifiedMount: string | undefined;
  /** Whether the kernel has cgroup namespaces. */
  cgroupNamespace: boolean;
}

/** Where all container cgroups live, under each hierarchy's root. */
export const cgroupParent = '/strato-ctr';

/** Reads the cgroup layout from /proc/self/mounts; a reason when no memory controller is mounted. */
export async function detectCgroupHost(): Promise<
  { ok: true; host: CgroupHost } | { ok: false; reason: string }
> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  const all: string[] = [];
  let memoryV1: string | undefined;
  let unified: string | undefined;
  for (const line of mounts.split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (mountPoint === undefined || options === undefined) continue;
    if (fsType === 'cgroup2') {
      unified ??= mountPoint;
      all.push(mountPoint);
    }
    if (fsType !== 'cgroup') continue;
    all.push(mountPoint);
    if (options.split(',').includes('memory')) memoryV1 = mountPoint;
  }
  const cgroupNamespace = await access('/proc/self/ns/cgroup').then(
    () => true,
    () => false,
  );
  if (memoryV1 !== undefined) {
    return {
      ok: true,
      host: {
        layout: unified === undefined ? 'v1' : 'hybrid',
        mounts: all,
        memoryRoot: memoryV1,
        unifiedMount: unified,
        cgroupNamespace,
      },
    };
  }
  if (unified !== undefined) {
    const controllers = await readFile(join(unified, 'cgroup.controllers'), 'utf8').catch(() => '');
    const missing = ['memory', 'pids', 'cpu'].filter((name) => !controllers.split(/\s+/).includes(name));
    if (missing.length > 0) return { ok: false, reason: `cgroup2 at ${unified} lacks ${missing.join(', ')}` };
    return {
      ok: true,
      host: { layout: 'v2', mounts: all, memoryRoot: unified, unifiedMount: unified, cgroupNamespace },
    };
  }
  return { ok: false, reason: 'no cgroup hierarchy with the memory controller is mounted' };
}

/** What the kernel left in an instance's cgroup about its memory. */
export interface MemoryEvidence {
  /** OOM kills counted under the instance (v2 counts them hierarchically; v1 only in the leaf, gone by now). */
  oomKills: number;
  /** Highest memory use of the instance (v1 `memory.max_usage_in_bytes`; 0 where the kernel does not say). */
  peakBytes: number;
}

/**
 * One instance's cgroups: the runtime creates `<parent>/c` for the container and removes it when the
 * container is deleted (with it, v1's OOM counter); `<parent>` is ours and survives, so what it counted for
 * its child can still be read after the exit.
 */
export class ContainerCgroup {
  constructor(
    private readonly host: CgroupHost,
    /** `/strato-ctr/<key>-<id>`. */
    readonly parentPath: string,
  ) {}

  /** The cgroupsPath of the container's config.json. */
  get containerPath(): string {
    return `${this.parentPath}/c`;
  }

  /** Reads the memory evidence left in the parent (call after the container has exited). */
  async memoryEvidence(): Promise<MemoryEvidence> {
    const dir = join(this.host.memoryRoot, this.parentPath);
    if (this.host.layout === 'v2') {
      const events = parseKeyValues(await readFile(join(dir, 'memory.events'), 'utf8').catch(() => ''));
      const peak = Number((await readFile(join(dir, 'memory.peak'), 'utf8').catch(() => '0')).trim());
      return { oomKills: events.get('oom_kill') ?? 0, peakBytes: Number.isFinite(peak) ? peak : 0 };
    }
    const control = parseKeyValues(await readFile(join(dir, 'memory.oom_control'), 'utf8').catch(() => ''));
    const peak = Number(
      (await readFile(join(dir, 'memory.max_usage_in_bytes'), 'utf8').catch(() => '0')).trim(),
    );
    return { oomKills: control.get('oom_kill') ?? 0, peakBytes: Number.isFinite(peak) ? peak : 0 };
  }

  /**
   * OOM kills so far in a running container: a process the kernel killed while the runtime itself lived on
   * (a handler's child, a subshell). v1 counts them in the container's own cgroup, v2 in the parent too.
   */
  async oomKillsSoFar(): Promise<number> {
    if (this.host.layout === 'v2') return (await this.memoryEvidence()).oomKills;
    const dir = join(this.host.memoryRoot, this.containerPath);
    const control = parseKeyValues(await readFile(join(dir, 'memory.oom_control'), 'utf8').catch(() => ''));
    return control.get('oom_kill') ?? 0;
  }

  /** Removes the container's and the parent's directories in every hierarchy (the runtime created them). */
  async remove(): Promise<void> {
    await removeCgroupDirs(this.host, [this.containerPath, this.parentPath]);
  }
}

/**
 * Removes the instance cgroups a previous run of this sandbox left (named `<key>-*` under /strato-ctr),
 * killing whatever still runs in them. Returns how many parents went.
 */
export async function removeStaleCgroups(host: CgroupHost, key: string): Promise<number> {
  const names = new Set<string>();
  for (const mount of host.mounts) {
    const children = await readdir(join(mount, cgroupParent)).catch(() => [] as string[]);
    for (const child of children) if (child.startsWith(`${key}-`)) names.add(child);
  }
  for (const name of names) {
    const parent = `${cgroupParent}/${name}`;
    await removeCgroupDirs(host, [`${parent}/c`, parent]);
  }
  return names.size;
}

/** rmdir of each path (deepest first) in every hierarchy, killing what is still in it while it is busy. */
async function removeCgroupDirs(host: CgroupHost, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    for (const mount of host.mounts) {
      const dir = join(mount, path);
      await removeCgroupDir(dir, () => killMembers(dir));
    }
  }
}

async function killMembers(dir: string): Promise<void> {
  const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of text.split('\n').filter((line) => line !== '')) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
