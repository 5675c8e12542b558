import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceCgroup } from '../src/sandbox/process/cgroup.js';
import { detectConfinement } from '../src/sandbox/process/index.js';

const support = await detectConfinement();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The memory hierarchy's `strato` parent (v1) or the cgroup2 one. */
function strato(): string {
  if (!support.ok) throw new Error('no confinement');
  const { layout } = support;
  return join(layout.version === 'v1' ? layout.memory : layout.root, 'strato');
}

describe('cgroups left behind by a killed server', () => {
  it.runIf(support.ok)('removes old empty instance cgroups and keeps those with processes', async () => {
    if (!support.ok) return;
    const parent = strato();
    // Only this test's cgroups are touched: other servers run beside it.
    const prefix = `strato-t${process.pid}-${Date.now()}-`;
    const empty = join(parent, `${prefix}stale`);
    const busy = join(parent, `${prefix}busy`);
    await mkdir(empty, { recursive: true });
    await mkdir(busy, { recursive: true });
    const sleeper = spawn('sleep', ['30']);
    cleanups.push(async () => {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
      // A cgroup's last process leaves it a moment after it exits.
      for (let i = 0; i < 50 && existsSync(busy); i++) {
        await rmdir(busy).catch(() => new Promise((resolve) => setTimeout(resolve, 20)));
      }
      await rmdir(empty).catch(() => undefined);
    });
    await writeFile(join(busy, 'cgroup.procs'), String(sleeper.pid));

    // Nothing is old enough yet: an instance cgroup is created a moment before its process joins it.
    await InstanceCgroup.removeStale(support.layout, 60_000, Date.now(), prefix);
    expect(existsSync(empty)).toBe(true);

    expect(await InstanceCgroup.removeStale(support.layout, 60_000, Date.now() + 120_000, prefix)).toBe(1);
    expect(existsSync(empty)).toBe(false);
    expect(existsSync(busy)).toBe(true);
  });
});
