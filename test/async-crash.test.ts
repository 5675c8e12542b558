import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleFunction } from '../src/build/bundle-function.js';
import { StratoClient } from '../src/client/strato-client.js';
import type { QueuedInvocation } from '../src/core/invocation-queue.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';
import { writeFunctionDir } from './helpers/server.js';

const ACCEPTED = 10_000;
/** Concurrent async invocations on the first server: all of them are in flight when it is killed. */
const IN_FLIGHT = 32;

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-crash-'));
let current: ServerProcess | undefined;
afterAll(async () => {
  await current?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Runs `work` over `items` with at most `parallel` at once. */
async function pool<T, R>(
  items: readonly T[],
  parallel: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

async function statuses(client: StratoClient, ids: readonly string[]): Promise<QueuedInvocation[]> {
  return pool(ids, 32, (id) => client.getAsyncInvocation(id));
}

describe('async invocations survive a SIGKILL of the server', () => {
  it(`accepts ${ACCEPTED} invocations, is killed mid-run, and after a restart every one completed or is dead-lettered`, async () => {
    if (!existsSync('dist/cli/main.js')) throw new Error('dist/ is missing: run `npm run build` first');
    // A short lease on the second run, so the invocations in flight at the kill come back quickly.
    const configFile = path.join(dataDir, 'restart.json');
    writeFileSync(configFile, JSON.stringify({ asyncLease: '2s', asyncConcurrency: IN_FLIGHT }));
    current = await startServerProcess(['--data-dir', dataDir], {});
    let client = new StratoClient(current.url, { apiKey: () => current?.apiKey });
    const dir = writeFunctionDir({
      'index.ts': `export default async (event: { n: number }) => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return { n: event.n };
        };`,
    });
    const bundle = await bundleFunction(dir);
    rmSync(dir, { recursive: true, force: true });
    await client.deploy('crash-target', { code: bundle.code, concurrency: IN_FLIGHT });

    // Accept: every 202 is a promise that the invocation will not be lost.
    const numbers = Array.from({ length: ACCEPTED }, (_, n) => n);
    const accepted = await pool(numbers, 64, async (n) => {
      const reply = await client.invokeAsync('crash-target', JSON.stringify({ n }));
      return reply.invocationId;
    });
    expect(new Set(accepted).size).toBe(ACCEPTED);

    // Let it run a while, check it is mid-run, then kill it without any shutdown.
    await sleep(1500);
    const sample = await statuses(
      client,
      accepted.filter((_, i) => i % 100 === 0),
    );
    const sampledDone = sample.filter((s) => s.status === 'succeeded').length;
    await current.kill();
    expect(sampledDone).toBeLessThan(sample.length);

    current = await startServerProcess(['--data-dir', dataDir, '--config', configFile]);
    client = new StratoClient(current.url, { apiKey: () => current?.apiKey });
    let pending = accepted;
    let settled: QueuedInvocation[] = [];
    for (let round = 0; pending.length > 0 && round < 120; round++) {
      const now = await statuses(client, pending);
      settled = [...settled, ...now.filter((s) => s.status === 'succeeded' || s.status === 'dead')];
      pending = now.filter((s) => s.status !== 'succeeded' && s.status !== 'dead').map((s) => s.id);
      if (pending.length > 0) await sleep(1000);
    }
    expect(pending).toEqual([]);
    expect(settled).toHaveLength(ACCEPTED);
    const dead = settled.filter((s) => s.status === 'dead');
    const twice = settled.filter((s) => s.deliveries > 1);
    console.log(
      `crash test: ${ACCEPTED} accepted, ${sampledDone}/${sample.length} sampled done at the kill, ` +
        `${settled.length - dead.length} succeeded, ${dead.length} dead-lettered, ${twice.length} delivered twice`,
    );
    // Only what was in flight at the kill may run twice.
    expect(twice.length).toBeLessThanOrEqual(IN_FLIGHT);
    for (const s of settled.filter((x) => x.status === 'succeeded')) {
      const event = JSON.parse(s.message.event) as { n: number };
      expect(JSON.parse(s.result!)).toEqual({ n: event.n });
    }
  }, 240_000);
});
