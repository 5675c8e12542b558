import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseKeyValues, removeCgroupDir } from '../cgroup-files.js';
import type { CgroupLayout } from './host-capabilities.js';

/** Limits applied to one instance's cgroup. */
export interface CgroupLimits {
  memoryBytes: number;
  maxPids: number;
  /** Fraction of one CPU the instance may use per period (0.5 = half a core, 2 = two cores). */
  cpuShare: number;
}

/** What the kernel's OOM killer did in this cgroup. */
export interface OomState {
  /** Processes the OOM killer has killed in this cgroup (0 on kernels that do not count). */
  oomKills: number;
  underOom: boolean;
  /** Times an allocation hit the memory limit (v1 `memory.failcnt`; v2 `memory.events` max). */
  limitHits: number;
}

const cpuPeriodUs = 100_000;
const safeId = /^[A-Za-z0-9_.-]+$/;

/**
 * One instance's cgroup: a `strato/<id>` directory per v1 controller (or one under cgroup2). The confined
 * process joins it itself, before it runs the user's command, by writing `0` into every {@link procsFiles}.
 */
export class InstanceCgroup {
  private constructor(
    private readonly layout: CgroupLayout,
    /** Every directory of this cgroup (one per v1 hierarchy, one for v2). */
    readonly dirs: readonly string[],
  ) {}

  /** Creates the cgroup for `id` and applies `limits`; an existing leftover with the same id is reused. */
  static async create(layout: CgroupLayout, id: string, limits: CgroupLimits): Promise<InstanceCgroup> {
    if (!safeId.test(id) || id === '.' || id === '..') throw new Error(`invalid cgroup id: ${id}`);
    const parents =
      layout.version === 'v1'
        ? [...new Set([layout.memory, layout.pids, layout.cpu])].map((root) => join(root, 'strato'))
        : [join(layout.root, 'strato')];
    for (const parent of parents) await mkdir(parent, { recursive: true });
    if (layout.version === 'v2') {
      // Children only get controller files when every ancestor delegates them.
      await writeFile(join(layout.root, 'cgroup.subtree_control'), '+memory +pids +cpu').catch(() => {});
      await writeFile(join(parents[0] ?? '', 'cgroup.subtree_control'), '+memory +pids +cpu');
    }
    const dirs = parents.map((parent) => join(parent, id));
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    const cgroup = new InstanceCgroup(layout, dirs);
    await cgroup.applyLimits(limits);
    return cgroup;
  }

  /**
   * Removes instance cgroups a previous server left behind (it was killed before it could clean up): empty
   * ones older than `minAgeMs`. The age keeps it away from another running server's cgroup created a moment
   * ago, whose process has not joined yet. Returns how many went.
   */
  static async removeStale(
    layout: CgroupLayout,
    minAgeMs = 60_000,
    now = Date.now(),
    /** Only cgroups whose name starts with this (tests narrow it to their own). */
    prefix = 'strato-',
  ): Promise<number> {
    const parents =
      layout.version === 'v1'
        ? [...new Set([layout.memory, layout.pids, layout.cpu])].map((root) => join(root, 'strato'))
        : [join(layout.root, 'strato')];
    let removed = 0;
    for (const parent of parents) {
      const children = await readdir(parent).catch(() => [] as string[]);
      for (const child of children) {
        if (!child.startsWith(prefix) || !child.startsWith('strato-') || !safeId.test(child)) continue;
        const dir = join(parent, child);
        const info = await stat(dir).catch(() => undefined);
        if (info === undefined || !info.isDirectory() || now - info.mtimeMs < minAgeMs) continue;
        const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => 'unreadable');
        if (procs.trim() !== '') continue;
        // rmdir fails harmlessly if a process joined in the meantime.
        if (
          await rmdir(dir).then(
            () => true,
            () => false,
          )
        )
          removed++;
      }
    }
    return removed;
  }

  /** The `cgroup.procs` files a process writes `0` into to join this cgroup. */
  get procsFiles(): string[] {
    return this.dirs.map((dir) => join(dir, 'cgroup.procs'));
  }

  private get memoryDir(): string {
    return this.dirFor(this.layout.version === 'v1' ? this.layout.memory : undefined);
  }

  private get pidsDir(): string {
    return this.dirFor(this.layout.version === 'v1' ? this.layout.pids : undefined);
  }

  private dirFor(root: string | undefined): string {
    const dir =
      root === undefined ? this.dirs[0] : this.dirs.find((candidate) => candidate.startsWith(`${root}/`));
    if (dir === undefined) throw new Error('cgroup directory missing');
    return dir;
  }

  /**
   * Sets the limits, also on a cgroup already in use (a pooled sandbox gets its function's limits when it is
   * assigned). Lowering memory below what the members use makes the kernel reclaim, then OOM-kill.
   */
  async applyLimits(limits: CgroupLimits): Promise<void> {
    const memory = String(Math.floor(limits.memoryBytes));
    const quotaUs = String(Math.max(1_000, Math.round(limits.cpuShare * cpuPeriodUs)));
    if (this.layout.version === 'v1') {
      const memsw = join(this.memoryDir, 'memory.memsw.limit_in_bytes');
      // v1 wants memsw >= memory at every step: raising takes memsw first, lowering takes memory first.
      // Without a memsw limit the instance could swap past its limit; absent when swap accounting is off.
      await writeFile(memsw, memory).catch(ignoreMissingOrRaise);
      await writeFile(join(this.memoryDir, 'memory.limit_in_bytes'), memory);
      await writeFile(memsw, memory).catch(ignoreMissing);
      await writeFile(join(this.pidsDir, 'pids.max'), String(limits.maxPids));
      const cpuDir = this.dirFor(this.layout.cpu);
      await writeFile(join(cpuDir, 'cpu.cfs_period_us'), String(cpuPeriodUs));
      await writeFile(join(cpuDir, 'cpu.cfs_quota_us'), quotaUs);
      return;
    }
    const dir = this.memoryDir;
    await writeFile(join(dir, 'memory.max'), memory);
    await writeFile(join(dir, 'memory.swap.max'), '0').catch(ignoreMissing);
    await writeFile(join(dir, 'pids.max'), String(limits.maxPids));
    await writeFile(join(dir, 'cpu.max'), `${quotaUs} ${cpuPeriodUs}`);
  }

  /** Moves an already running process in (prefer joining from inside, before exec, via {@link procsFiles}). */
  async addPid(pid: number): Promise<void> {
    for (const file of this.procsFiles) await writeFile(file, String(pid));
  }

  /** The pids currently in the cgroup (as the host sees them). */
  async pids(): Promise<number[]> {
    const text = await readFile(join(this.pidsDir, 'cgroup.procs'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  }

  /** Reads the OOM counters; `unshare` reports an OOM-killed child as exit 1, so this is the only reliable sign. */
  async readOomState(): Promise<OomState> {
    if (this.layout.version === 'v1') {
      const control = parseKeyValues(await readFile(join(this.memoryDir, 'memory.oom_control'), 'utf8'));
      const failcnt = Number((await readFile(join(this.memoryDir, 'memory.failcnt'), 'utf8')).trim());
      return {
        oomKills: control.get('oom_kill') ?? 0,
        underOom: control.get('under_oom') === 1,
        limitHits: failcnt,
      };
    }
    const events = parseKeyValues(await readFile(join(this.memoryDir, 'memory.events'), 'utf8'));
    return { oomKills: events.get('oom_kill') ?? 0, underOom: false, limitHits: events.get('max') ?? 0 };
  }

  /** SIGKILLs every process in the cgroup until it is empty (a fork bomb can race a single pass). */
  async killAll(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.layout.version === 'v2') await writeFile(join(this.pidsDir, 'cgroup.kill'), '1').catch(() => {});
    for (;;) {
      const pids = await this.pids();
      if (pids.length === 0) return;
      if (Date.now() > deadline) throw new Error(`cgroup still holds ${pids.length} process(es) after kill`);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await sleep(10);
    }
  }

  /** Kills what is left and removes every directory; removal retries while exiting processes are reaped. */
  async remove(): Promise<void> {
    await this.killAll();
    for (const dir of this.dirs) await removeCgroupDir(dir);
  }
}

/** The first memsw write of a lowering fails (memsw would drop below memory); the second one applies it. */
function ignoreMissingOrRaise(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'EINVAL') ignoreMissing(error);
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}
