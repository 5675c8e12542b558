/**
 * Metrics and tracing on the invoke hot path: warm req/s of one function on three servers in the same
 * run, alternating so drift hits all alike: `bare` (metrics off, `STRATO_METRICS=false`, no tracing export:
 * the hot path as it was before issue 7), `off` (metrics on, tracing export off, no traceparent sent) and
 * `on` (metrics on, `otlpEndpoint` at a local OTLP sink, a traceparent on every request). Issue 7's target:
 * `on` within 5% of `bare`. Runs alone in under a minute from sources:
 *   node --import tsx bench/tracing.ts        (BENCH_SECONDS per run, default 3; BENCH_ROUNDS, default 6)
 * On a shared machine throughput drifts by tens of percent within seconds, so the ratio reported is the
 * median of the per-round ratios of back-to-back runs (the order flips every round).
 */
import { BENCH_API_KEY } from './bench-key.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleFunction } from '../src/build/bundle-function.js';
import { StratoClient } from '../src/client/strato-client.js';
import { startListening, stopChild } from './child-server.js';
import { loadGenerator, loadTest, type LoadResult } from './http-load.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 6);
const CONNECTIONS = 50;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Span messages in an OTLP protobuf export: a length-delimited field followed by a 16-byte trace_id. */
function countProtobufSpans(body: Buffer): number {
  let count = 0;
  for (let i = 0; i + 2 < body.length; i++) {
    if (body[i] === 0x0a && body[i + 1] === 0x10 && body[i - 1] !== undefined) {
      // A Span starts with its trace_id (field 1, 16 bytes); the byte before it is the Span's length.
      count++;
      i += 17;
    }
  }
  return count;
}

/** An OTLP/HTTP collector that counts the spans it is sent and answers 200. */
async function startSink(): Promise<{ url: string; spans: () => number; close(): Promise<void> }> {
  let spans = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      // Counted, not parsed: each span has one "spanId" key in OTLP/JSON, and in protobuf one trace_id
      // field (tag 0x0a, length 16) right at the start of its Span message (tag 0x12 inside scope spans).
      spans += /json/.test(request.headers['content-type'] ?? '')
        ? body.toString('utf8').split('"spanId"').length - 1
        : countProtobufSpans(body);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => spans,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** CPU seconds (user + system) used so far by a process and its live descendants (the isolate hosts). */
function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  const visit = (id: number) => {
    try {
      // Fields after the parenthesised command: utime and stime are the 12th and 13th.
      const fields = readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      for (const task of readdirSync(`/proc/${id}/task`)) {
        const children = readFileSync(`/proc/${id}/task/${task}/children`, 'utf8').trim();
        for (const child of children === '' ? [] : children.split(' ')) visit(Number(child));
      }
    } catch {
      // The process ended between the listing and the read.
    }
  };
  visit(pid);
  return ticks / 100; // USER_HZ is 100 on Linux
}

async function startStrato(dataDir: string, env: Record<string, string>) {
  const server = await startListening(
    ['--import', 'tsx', 'src/cli/main.ts', 'server', '--port', '0', '--data-dir', dataDir],
    { STRATO_LOG_LEVEL: 'warn', ...env },
  );
  const hello = await bundleFunction('examples/hello.ts');
  await new StratoClient(server.url, { apiKey: () => BENCH_API_KEY }).deploy('hello', {
    code: hello.code,
    sourceMap: hello.sourceMap,
    concurrency: 64,
  });
  return server;
}

export interface TracingComparison {
  bare: Measured[];
  off: Measured[];
  on: Measured[];
  /** Median over rounds of on/off req/s of back-to-back runs. */
  medianRatio: number;
  /** Median over rounds of on/bare req/s: metrics and tracing together against neither. */
  medianRatioBare: number;
  cpuBare: number;
  cpuOff: number;
  cpuOn: number;
  spans: number;
}

type Measured = LoadResult & { cpuUsPerRequest: number };

export const mean = (list: Measured[], pick: (r: Measured) => number) =>
  list.reduce((sum, r) => sum + pick(r), 0) / list.length;

/** Runs both servers and the sink, alternating load runs; `npm run bench` adds its rows from this. */
export async function compareTracing(seconds = SECONDS, rounds = ROUNDS): Promise<TracingComparison> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-bench-tracing-'));
  const sink = await startSink();
  const bare = await startStrato(path.join(dataDir, 'bare'), { STRATO_METRICS: 'false' });
  const off = await startStrato(path.join(dataDir, 'off'), {});
  const on = await startStrato(path.join(dataDir, 'on'), { STRATO_OTLP_ENDPOINT: sink.url });
  const body = '{"name":"bench"}';
  /** A load run, with the server's CPU time per request (robust where req/s is not: a shared machine). */
  const run = async (
    server: { url: string; child: { pid?: number | undefined } },
    traced: boolean,
    seconds: number,
  ) => {
    const cpuBefore = treeCpuSeconds(server.child.pid!);
    const result = await loadTest({
      url: `${server.url}/v1/functions/hello/invoke`,
      method: 'POST',
      body,
      connections: CONNECTIONS,
      seconds,
      ...(traced ? { headers: { traceparent: TRACEPARENT } } : {}),
    });
    const requests = result.requestsPerSecond * seconds;
    return { ...result, cpuUsPerRequest: ((treeCpuSeconds(server.child.pid!) - cpuBefore) * 1e6) / requests };
  };
  const results: { bare: Measured[]; off: Measured[]; on: Measured[] } = { bare: [], off: [], on: [] };
  const sides = [
    { key: 'bare', server: bare, traced: false },
    { key: 'off', server: off, traced: false },
    { key: 'on', server: on, traced: true },
  ] as const;
  try {
    for (const side of sides) await run(side.server, side.traced, 2);
    for (let round = 0; round < rounds; round++) {
      // Each round starts with the next side, so no side always runs first or last.
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(round + i) % sides.length]!;
        results[side.key].push(await run(side.server, side.traced, seconds));
      }
    }
    // Give the last batch its export delay, so the span count covers the runs.
    await new Promise((resolve) => setTimeout(resolve, 1500));
  } finally {
    await stopChild(bare.child);
    await stopChild(off.child);
    await stopChild(on.child);
    await sink.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  return {
    ...results,
    medianRatio: median(results.on.map((r, i) => r.requestsPerSecond / results.off[i]!.requestsPerSecond)),
    medianRatioBare: median(
      results.on.map((r, i) => r.requestsPerSecond / results.bare[i]!.requestsPerSecond),
    ),
    cpuBare: mean(results.bare, (r) => r.cpuUsPerRequest),
    cpuOff: mean(results.off, (r) => r.cpuUsPerRequest),
    cpuOn: mean(results.on, (r) => r.cpuUsPerRequest),
    spans: sink.spans(),
  };
}

async function main(): Promise<void> {
  const { bare, off, on, medianRatio, medianRatioBare, cpuBare, cpuOff, cpuOn, spans } =
    await compareTracing();
  const results = { bare, off, on };
  const errors = [...results.bare, ...results.off, ...results.on].reduce(
    (sum, r) => sum + r.errors + r.non2xx,
    0,
  );
  console.log(
    `\nnode ${process.version}, ${os.cpus().length} cores, ${ROUNDS} x ${SECONDS}s per side, ${CONNECTIONS} conn, load generator: ${loadGenerator}\n`,
  );
  console.log('| what | req/s | p50 ms | p99 ms | server CPU µs/req | note |');
  console.log('|---|---|---|---|---|---|');
  const line = (what: string, list: Measured[], note: string) =>
    console.log(
      `| ${what} | ${mean(list, (r) => r.requestsPerSecond).toFixed(0)} | ${mean(list, (r) => r.p50Ms).toFixed(2)} | ${mean(list, (r) => r.p99Ms).toFixed(2)} | ${mean(list, (r) => r.cpuUsPerRequest).toFixed(0)} | ${note} |`,
    );
  line('warm invoke, metrics off, tracing off', results.bare, 'baseline: the hot path before issue 7');
  line(
    'warm invoke, metrics on, tracing off',
    results.off,
    `CPU/req ${(cpuOff / cpuBare).toFixed(3)}x bare; no traceparent sent`,
  );
  line(
    'warm invoke, tracing on (OTLP export + traceparent)',
    results.on,
    `req/s median ratio ${medianRatio.toFixed(3)}x off, ${medianRatioBare.toFixed(3)}x bare (target >= 0.95); CPU/req ${(cpuOn / cpuOff).toFixed(3)}x off, ${(cpuOn / cpuBare).toFixed(3)}x bare; ${spans} spans exported`,
  );
  console.log(
    `\nper round (bare/off/on req/s): ${results.off.map((r, i) => `${results.bare[i]!.requestsPerSecond.toFixed(0)}/${r.requestsPerSecond.toFixed(0)}/${results.on[i]!.requestsPerSecond.toFixed(0)}`).join(', ')}`,
  );
  if (errors > 0) console.log(`errors or non-2xx: ${errors}`);
}

// Alone (`node --import tsx bench/tracing.ts`) it prints its own table; imported by run.ts it does not.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
