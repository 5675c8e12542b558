/**
 * Burst: 200 distinct functions deployed, then all cold-invoked at once (each on its own connection);
 * every invoke must succeed (no 5xx). Reports end-to-end p50/p99/max, the server-side init time of the
 * cold starts, and any errors. Run `npm run build` first.
 *   BENCH_BURST_FUNCTIONS (default 200)
 */
import { AUTHORIZATION } from './bench-key.js';
import http from 'node:http';
import {
  deploy,
  fmt,
  machine,
  percentile,
  post,
  sleep,
  sleepyFunction,
  startStrato,
  table,
  type TimedResponse,
} from './isolate-kit.js';

const FUNCTIONS = Number(process.env['BENCH_BURST_FUNCTIONS'] ?? 200);

async function main(): Promise<void> {
  const server = await startStrato();
  const rows: string[][] = [];
  try {
    const names = Array.from({ length: FUNCTIONS }, (_, i) => `burst-${i}`);
    for (const name of names) await deploy(server.url, name, { code: sleepyFunction(name) });
    await deploy(server.url, 'opener', { code: sleepyFunction('opener'), concurrency: FUNCTIONS });
    await sleep(500); // deploys settled, stem cells refilled
    // One connection per request, opened before the burst, so the burst measures invokes, not connects.
    const agent = new http.Agent({ keepAlive: true, maxSockets: FUNCTIONS });
    await Promise.all(names.map(() => post(`${server.url}/v1/functions/opener/invoke`, '{}', agent)));
    const startedAt = performance.now();
    const settled = await Promise.allSettled(
      names.map((name) => post(`${server.url}/v1/functions/${name}/invoke`, '{"name":"burst"}', agent)),
    );
    const wallMs = performance.now() - startedAt;
    const answers: TimedResponse[] = [];
    const errors: string[] = [];
    for (const result of settled) {
      if (result.status === 'rejected') errors.push(String(result.reason));
      else if (result.value.status !== 200) errors.push(`${result.value.status} ${result.value.body}`);
      else answers.push(result.value);
    }
    const latencies = answers.map((answer) => answer.ms);
    const cold = answers.filter((answer) => answer.cold).length;
    await sleep(400);
    const init: number[] = [];
    for (const name of names) {
      const response = await fetch(`${server.url}/v1/functions/${name}/invocations?limit=1`, {
        headers: { authorization: AUTHORIZATION },
      });
      const { invocations } = (await response.json()) as { invocations: Array<{ initDurationMs: number }> };
      if (invocations[0] !== undefined) init.push(invocations[0].initDurationMs);
    }
    rows.push([
      `${settled.length} distinct functions cold-invoked at once`,
      `${answers.length} ok, ${cold} cold, ${errors.length} failed`,
      fmt(percentile(latencies, 50)),
      fmt(percentile(latencies, 99)),
      fmt(Math.max(...latencies)),
      fmt(wallMs),
    ]);
    rows.push([
      '  server-side init (isolate + module load)',
      '',
      fmt(percentile(init, 50), 3),
      fmt(percentile(init, 99), 3),
      fmt(Math.max(...init), 3),
      '',
    ]);
    for (const error of errors.slice(0, 5)) console.error(`error: ${error}`);
  } finally {
    await server.stop();
  }
  console.log(
    `\n${machine()}, burst of cold starts over HTTP, 2 isolate hosts, stem cells and code cache on\n`,
  );
  console.log(table(['what', 'result', 'p50 ms', 'p99 ms', 'max ms', 'all answered after ms'], rows));
}

await main();
