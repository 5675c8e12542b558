/**
 * `npm run bench`: the invoke hot path against a raw node:http baseline measured in the same run.
 * Prints one table. Servers run in their own processes; the load generator runs here.
 *   BENCH_SECONDS (default 5)   duration of each throughput run
 *   BENCH_COLD_SAMPLES (default 100) cold starts measured
 *   BENCH_PROCESS_COLD_SAMPLES (default 30) process-tier cold starts measured per runtime and pool setting
 *   BENCH_CONTAINER_COLD_SAMPLES (default 30) container-tier cold starts (image cached) measured
 */
import { BENCH_API_KEY } from './bench-key.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleFunction } from '../src/build/bundle-function.js';
import { StratoClient } from '../src/client/strato-client.js';
import { detectConfinement } from '../src/sandbox/process/host-capabilities.js';
import {
  loadGenerator,
  loadTest,
  percentile,
  request,
  sequentialLatencies,
  type LoadResult,
} from './http-load.js';
import { startListening, stopChild } from './child-server.js';
import { p50p99, processColdStarts, processWarmLoad, type ProcessRuntimeKind } from './process-tier.js';
import { containerTierRows } from './container-tier.js';
import { compareTracing, mean } from './tracing.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const COLD_SAMPLES = Number(process.env['BENCH_COLD_SAMPLES'] ?? 100);
const PROCESS_COLD_SAMPLES = Number(process.env['BENCH_PROCESS_COLD_SAMPLES'] ?? 30);
const CONTAINER_COLD_SAMPLES = Number(process.env['BENCH_CONTAINER_COLD_SAMPLES'] ?? 30);
const LATENCY_SAMPLES = 3000;

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const rows: string[][] = [];
function row(what: string, reqs: string, p50: string, p99: string, note = ''): void {
  rows.push([what, reqs, p50, p99, note]);
}
function loadRow(what: string, result: LoadResult, baseline?: LoadResult): void {
  const ratio =
    baseline === undefined ? '' : `${fmt(result.requestsPerSecond / baseline.requestsPerSecond)}x raw node`;
  const errors = result.errors + result.non2xx > 0 ? ` errors=${result.errors} non2xx=${result.non2xx}` : '';
  row(what, fmt(result.requestsPerSecond, 0), fmt(result.p50Ms), fmt(result.p99Ms), ratio + errors);
}

/**
 * Process-tier cold starts with the pool (the server's default, 2 per pool) and without (a second server
 * with `STRATO_PROCESS_POOL_SIZE=0`), and warm Node throughput against raw node:http at the same connections.
 */
async function processTierRows(pooledUrl: string, rawUrl: string, dataDir: string): Promise<void> {
  const kinds: ProcessRuntimeKind[] = ['bash', 'python', 'node'];
  const label = { bash: 'provided bash+curl', python: 'provided python3', node: 'nodejs20.x' } as const;
  const unpooled = await startListening(
    ['bin/strato.js', 'server', '--port', '0', '--data-dir', path.join(dataDir, 'unpooled')],
    { STRATO_LOG_LEVEL: 'warn', STRATO_PROCESS_POOL_SIZE: '0' },
  );
  try {
    for (const kind of kinds) {
      for (const [pool, url] of [
        ['pool', pooledUrl],
        ['no pool', unpooled.url],
      ] as const) {
        const cold = await processColdStarts(url, kind, PROCESS_COLD_SAMPLES);
        const [p50, p99] = p50p99(cold.endToEnd);
        const [initP50, initP99] = p50p99(cold.init);
        row(
          `process cold start, ${label[kind]}, ${pool}, n=${PROCESS_COLD_SAMPLES}`,
          '',
          fmt(p50),
          fmt(p99),
          `init p50 ${fmt(initP50, 1)} p99 ${fmt(initP99, 1)}`,
        );
      }
    }
  } finally {
    await stopChild(unpooled.child);
  }
  for (const connections of [1, 10]) {
    const rawRun = await loadTest({ url: rawUrl, connections, seconds: SECONDS });
    const warm = await processWarmLoad(pooledUrl, connections, SECONDS);
    loadRow(`raw node:http "ok", ${connections} conn`, rawRun);
    loadRow(`process warm invoke, nodejs20.x, ${connections} conn`, warm, rawRun);
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-bench-'));
  const raw = await startListening(['--import', 'tsx', 'bench/raw-node-server.ts']);
  const strato = await startListening(['bin/strato.js', 'server', '--port', '0', '--data-dir', dataDir], {
    STRATO_LOG_LEVEL: 'warn',
  });
  try {
    const client = new StratoClient(strato.url, { apiKey: () => BENCH_API_KEY });
    const hello = await bundleFunction('examples/hello.ts');
    await client.deploy('hello', { code: hello.code, sourceMap: hello.sourceMap, concurrency: 64 });
    const invokeUrl = `${strato.url}/v1/functions/hello/invoke`;
    const body = '{"name":"bench"}';
    // Warm up both servers and the instances.
    await loadTest({ url: raw.url, connections: 50, seconds: 1 });
    await loadTest({ url: invokeUrl, method: 'POST', body, connections: 50, seconds: 2 });

    const rawLatencies = await sequentialLatencies(raw.url, LATENCY_SAMPLES);
    const invokeLatencies = await sequentialLatencies(invokeUrl, LATENCY_SAMPLES, 'POST', body);
    const rawP50 = percentile(rawLatencies, 50);
    row(
      'raw node:http "ok", 1 conn, sequential',
      '',
      fmt(rawP50, 3),
      fmt(percentile(rawLatencies, 99), 3),
      'baseline',
    );
    row(
      'strato warm invoke, 1 conn, sequential',
      '',
      fmt(percentile(invokeLatencies, 50), 3),
      fmt(percentile(invokeLatencies, 99), 3),
      `overhead p50 ${fmt((percentile(invokeLatencies, 50) - rawP50) * 1000, 0)} µs`,
    );

    const raw1 = await loadTest({ url: raw.url, connections: 1, seconds: SECONDS });
    const raw50 = await loadTest({ url: raw.url, connections: 50, seconds: SECONDS });
    const invoke1 = await loadTest({
      url: invokeUrl,
      method: 'POST',
      body,
      connections: 1,
      seconds: SECONDS,
    });
    const invoke50 = await loadTest({
      url: invokeUrl,
      method: 'POST',
      body,
      connections: 50,
      seconds: SECONDS,
    });
    const trigger50 = await loadTest({ url: `${strato.url}/fn/hello`, connections: 50, seconds: SECONDS });
    loadRow('raw node:http "ok", 1 conn', raw1);
    loadRow('raw node:http "ok", 50 conn', raw50);
    loadRow('strato warm invoke, 1 conn', invoke1, raw1);
    loadRow('strato warm invoke, 50 conn', invoke50, raw50);
    loadRow('strato HTTP trigger GET /fn/hello, 50 conn', trigger50, raw50);

    // Metrics and tracing off (bare), metrics on, metrics + tracing export on: three more servers of their
    // own, alternating runs (bench/tracing.ts). Issue 7's target: the last within 5% of bare.
    const tracing = await compareTracing();
    const rps = (list: LoadResult[]) =>
      fmt(
        mean(list as never, (r) => r.requestsPerSecond),
        0,
      );
    row(
      'strato warm invoke, metrics and tracing off, 50 conn',
      rps(tracing.bare),
      '',
      '',
      `${fmt(tracing.cpuBare, 0)} µs CPU/req`,
    );
    row(
      'strato warm invoke, metrics on, tracing off, 50 conn',
      rps(tracing.off),
      '',
      '',
      `${fmt(tracing.cpuOff, 0)} µs CPU/req`,
    );
    row(
      'strato warm invoke, tracing on (OTLP + traceparent), 50 conn',
      rps(tracing.on),
      '',
      '',
      `${fmt(tracing.medianRatioBare, 3)}x bare, ${fmt(tracing.medianRatio, 3)}x metrics-only (medians of rounds); CPU/req ${fmt(tracing.cpuOn / tracing.cpuBare, 3)}x bare`,
    );

    // Cold start: the first invoke of a new version, end to end over HTTP.
    const coldLatencies: number[] = [];
    const initDurations: number[] = [];
    for (let i = 0; i < COLD_SAMPLES; i++) {
      await client.deploy('cold', { code: `${hello.code}\n// version ${i}\n` });
      const startedAt = process.hrtime.bigint();
      const response = await request(`${strato.url}/v1/functions/cold/invoke`, 'POST', body);
      coldLatencies.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
      if (response.status !== 200) throw new Error(`cold invoke failed: ${response.status} ${response.body}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { invocations } = await client.listInvocations('cold', { limit: COLD_SAMPLES });
    for (const invocation of invocations) if (invocation.cold) initDurations.push(invocation.initDurationMs);
    row(
      `strato cold start (new version), end to end, n=${COLD_SAMPLES}`,
      '',
      fmt(percentile(coldLatencies, 50)),
      fmt(percentile(coldLatencies, 99)),
    );
    row(
      '  of which isolate create + module load (server-side)',
      '',
      fmt(percentile(initDurations, 50)),
      fmt(percentile(initDurations, 99)),
    );
    if ((await detectConfinement()).ok) await processTierRows(strato.url, raw.url, dataDir);
    else row('process tier', '', '', '', 'skipped: this host cannot confine');
    await containerTierRows({ row, loadRow, fmt }, raw.url, dataDir, CONTAINER_COLD_SAMPLES, SECONDS);
  } finally {
    await stopChild(strato.child);
    await stopChild(raw.child);
    rmSync(dataDir, { recursive: true, force: true });
  }

  const header = ['what', 'req/s', 'p50 ms', 'p99 ms', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nnode ${process.version}, ${os.cpus().length} cores, ${SECONDS}s per throughput run, load generator: ${loadGenerator}\n`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

await main();
