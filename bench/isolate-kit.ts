/**
 * Shared pieces of the isolate and capacity benches: a built Strato server in its own process (with the
 * isolate switches in its env), its isolate host processes' RSS, a request helper that measures one
 * request on its own keep-alive agent, and a table printer. Run `npm run build` first.
 */
import { AUTHORIZATION } from './bench-key.js';
import type { ChildProcess } from 'node:child_process';
import { startListening, stopChild } from './child-server.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface BenchServer {
  child: ChildProcess;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** `bin/strato.js server` from dist on port 0 with a temp data dir; `env` sets STRATO_* options. */
export async function startStrato(env: Record<string, string> = {}): Promise<BenchServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-isolate-bench-'));
  const { child, url } = await startListening(
    ['bin/strato.js', 'server', '--port', '0', '--data-dir', dataDir],
    { STRATO_LOG_LEVEL: 'warn', ...env },
  );
  return {
    child,
    url,
    dataDir,
    async stop() {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function startRawNode(): Promise<{ child: ChildProcess; url: string }> {
  return startListening(['--import', 'tsx', 'bench/raw-node-server.ts']);
}

/** Direct children of a process (the isolate hosts and process-tier helpers of a Strato server). */
export function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text !== '') pids.push(...text.split(/\s+/).map(Number));
  }
  return pids;
}

/** VmRSS of a process in KiB (0 when it is gone). */
export function rssKb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Child processes running the isolate host entry (`isolate-host-main`). */
export function isolateHostPids(serverPid: number): number[] {
  return childPids(serverPid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('isolate-host-main');
    } catch {
      return false;
    }
  });
}

export interface TimedResponse {
  status: number;
  body: string;
  ms: number;
  /** Strato's `x-strato-cold` header: this invocation started its instance. */
  cold: boolean;
  /** Strato's `x-strato-invocation-id` header. */
  invocationId: string | undefined;
}

/** An agent per caller: one keep-alive connection each, so a held request does not block the next. */
export function newAgent(maxSockets = 1): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

const defaultAgent = newAgent();

/** One POST with a JSON body, timed from the write to the end of the response, in ms. */
export function post(url: string, body: string, agent: http.Agent = defaultAgent): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const startedAt = process.hrtime.bigint();
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: AUTHORIZATION },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            ms: Number(process.hrtime.bigint() - startedAt) / 1e6,
            cold: res.headers['x-strato-cold'] === 'true',
            invocationId: res.headers['x-strato-invocation-id'] as string | undefined,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One GET, timed like `post`. */
export function get(url: string, agent: http.Agent = defaultAgent): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const startedAt = process.hrtime.bigint();
    http
      .get(url, { agent, headers: { authorization: AUTHORIZATION } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            ms: Number(process.hrtime.bigint() - startedAt) / 1e6,
            cold: res.headers['x-strato-cold'] === 'true',
            invocationId: res.headers['x-strato-invocation-id'] as string | undefined,
          }),
        );
      })
      .on('error', reject);
  });
}

/** PUT /v1/functions/:name with a deploy body (code + settings). */
export async function deploy(baseUrl: string, name: string, body: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${baseUrl}/v1/functions/${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: AUTHORIZATION },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`deploy ${name}: ${response.status} ${await response.text()}`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/** A markdown table, columns padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function machine(): string {
  return `node ${process.version}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GB`;
}

/**
 * A small function with a knob to keep an instance busy: `{"sleepMs": n}` waits n ms before answering.
 * `salt` makes the code (and its sha256) new.
 */
export function sleepyFunction(salt: string): string {
  return `exports.handler = async (event) => {
  if (event && event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return { message: 'Hello, bench!' };
};
// ${salt}
`;
}
