import { AUTHORIZATION } from './bench-key.js';
import http from 'node:http';
import autocannon from 'autocannon';
import { hasWrk, wrkLoad } from './wrk.js';

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

const useWrk = hasWrk();

/** Which load generator `loadTest` uses: wrk when installed, autocannon otherwise. */
export const loadGenerator = useWrk ? 'wrk' : 'autocannon';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  /** Extra request headers (the tracing bench sends `traceparent`). */
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
}

/** Throughput and latency at `connections` concurrent keep-alive connections, for `seconds`. */
export async function loadTest(options: LoadOptions): Promise<LoadResult> {
  if (useWrk) return wrkLoad(options);
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    ...(options.body === undefined ? {} : { body: options.body }),
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      authorization: AUTHORIZATION,
      ...options.headers,
    },
    connections: options.connections,
    duration: options.seconds,
    pipelining: 1,
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One request over a keep-alive connection; resolves with the status and the body. */
export function request(
  url: string,
  method: 'GET' | 'POST' = 'GET',
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          authorization: AUTHORIZATION,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sequential request latencies (one connection, precise to the microsecond), in ms. */
export async function sequentialLatencies(
  url: string,
  count: number,
  method: 'GET' | 'POST' = 'GET',
  body?: string,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const startedAt = process.hrtime.bigint();
    const response = await request(url, method, body);
    latencies.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
    if (response.status !== 200) throw new Error(`${url}: status ${response.status}: ${response.body}`);
  }
  return latencies;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
