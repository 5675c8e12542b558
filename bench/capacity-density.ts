/**
 * Density: how many idle warm isolate instances one server holds, and the host RSS per instance. Steps
 * up the number of provisioned instances (`minInstances`, created idle and kept) over functions of 1,000
 * instances each (functions are placed on hosts by name, so they spread over the isolate hosts), and reads
 * VmRSS of the server's isolate host processes at each step. Run `npm run build` first.
 *   BENCH_DENSITY_STEPS (default 1000,2000,5000,10000) total instances per step
 */
import { AUTHORIZATION } from './bench-key.js';
import {
  deploy,
  fmt,
  isolateHostPids,
  machine,
  post,
  rssKb,
  sleep,
  sleepyFunction,
  startStrato,
  table,
} from './isolate-kit.js';

const STEPS = (process.env['BENCH_DENSITY_STEPS'] ?? '1000,2000,5000,10000').split(',').map(Number);
const PER_FUNCTION = 1000;

const hostRssKb = (serverPid: number) => isolateHostPids(serverPid).reduce((sum, pid) => sum + rssKb(pid), 0);

async function main(): Promise<void> {
  const server = await startStrato();
  const rows: string[][] = [];
  try {
    const serverPid = server.child.pid!;
    await sleep(1000); // stem cells made
    const baseKb = hostRssKb(serverPid);
    rows.push(['0', '', fmt(baseKb / 1024, 0), '', '', '', 'hosts with stem cells only']);
    let functions = 0;
    let previousInstances = 0;
    for (const target of STEPS) {
      const startedAt = performance.now();
      while (functions * PER_FUNCTION < target) {
        const count = Math.min(PER_FUNCTION, target - functions * PER_FUNCTION);
        const name = `dense-${functions++}`;
        await deploy(server.url, name, {
          code: sleepyFunction(name),
          minInstances: count,
          concurrency: count,
        });
      }
      // An invoke of each function queues behind its host's start messages: when all answer, every
      // provisioned instance exists (and one of each was used once).
      const answers = await Promise.all(
        Array.from({ length: functions }, (_, i) =>
          post(`${server.url}/v1/functions/dense-${i}/invoke`, '{}'),
        ),
      );
      const failed = answers.filter((answer) => answer.status !== 200);
      if (failed.length > 0) throw new Error(`invoke failed: ${failed[0]!.status} ${failed[0]!.body}`);
      let instances = 0;
      for (let i = 0; i < functions; i++) {
        const list = (await (
          await fetch(`${server.url}/v1/functions/dense-${i}/instances`, {
            headers: { authorization: AUTHORIZATION },
          })
        ).json()) as {
          instances: unknown[];
        };
        instances += list.instances.length;
      }
      const cold = answers.filter((answer) => answer.cold).length;
      const elapsedMs = performance.now() - startedAt;
      await sleep(500);
      const totalKb = hostRssKb(serverPid);
      const serverKb = rssKb(serverPid);
      rows.push([
        String(instances),
        String(functions),
        fmt(totalKb / 1024, 0),
        fmt((totalKb - baseKb) / 1024 / instances, 3),
        fmt(serverKb / 1024, 0),
        fmt(elapsedMs / Math.max(1, instances - previousInstances), 2),
        cold > 0 ? `${cold} invokes were cold (not all instances were up)` : '',
      ]);
      previousInstances = instances;
      if (instances < target) break; // capacity (memory budget) reached
    }
  } finally {
    await server.stop();
  }
  console.log(`\n${machine()}, idle warm isolate instances (provisioned), 2 isolate hosts\n`);
  console.log(
    table(
      [
        'instances',
        'functions',
        'host RSS MB (sum)',
        'RSS MB per instance',
        'gateway RSS MB',
        'ms per new instance',
        'note',
      ],
      rows,
    ),
  );
}

await main();
