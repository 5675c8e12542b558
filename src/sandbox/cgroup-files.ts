import { rmdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

// cgroup file-system chores both confining tiers share (process/cgroup.ts, container/container-cgroup.ts).

/** `key value` lines (memory.events, memory.oom_control, pids.events) as a map. */
export function parseKeyValues(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && key !== '' && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

/**
 * rmdir of a cgroup directory, retried while the kernel still reaps its exiting members (EBUSY, up to
 * ~1 s); `whileBusy` runs before each retry (e.g. to kill what is still in it). A missing dir is removed.
 */
export async function removeCgroupDir(dir: string, whileBusy?: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 100) throw error;
      await whileBusy?.();
      await sleep(10);
    }
  }
}
