import { AUTHORIZATION } from './bench-key.js';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { LoadOptions, LoadResult } from './http-load.js';

const run = promisify(execFile);

/** wrk (Debian package `wrk`) is a C load generator: it leaves more CPU to the servers than autocannon. */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its version.
    return (error as { status?: number }).status === 1;
  }
}

export async function wrkLoad(options: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-wrk-'));
  const script = path.join(dir, 'request.lua');
  const lines = [`wrk.method = "${options.method ?? 'GET'}"`];
  if (options.body !== undefined)
    lines.push(
      `wrk.body = ${JSON.stringify(options.body)}`,
      'wrk.headers["Content-Type"] = "application/json"',
    );
  for (const [name, value] of Object.entries({ Authorization: AUTHORIZATION, ...options.headers }))
    lines.push(`wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  writeFileSync(script, lines.join('\n'));
  try {
    const { stdout } = await run('wrk', [
      '-t1',
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '--latency',
      '-s',
      script,
      options.url,
    ]);
    const requestsPerSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    return {
      requestsPerSecond,
      p50Ms: toMs(/\s50%\s+([\d.]+\w+)/.exec(stdout)?.[1]),
      p99Ms: toMs(/\s99%\s+([\d.]+\w+)/.exec(stdout)?.[1]),
      errors: errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0),
      non2xx,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function toMs(value: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value ?? '');
  if (match === null) return Number.NaN;
  const factor = { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'];
  return Number(match[1]) * factor;
}
