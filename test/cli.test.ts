import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { uniqueName } from './helpers/server.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/strato.js');
let server: ChildProcess;
let url: string;
let dataDir: string;
/** The CLI's own config, where `strato server` keeps the admin key it created (and every command reads it). */
let cliConfig: string;
/** What the server printed at its first start. */
let serverOutput = '';

/** The built CLI (`npm test` builds first), as a user runs it. */
async function strato(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return stratoWith({}, ...args);
}

function stratoWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args, '--url', url], {
    env: { ...process.env, STRATO_URL: '', STRATO_API_KEY: '', STRATO_CLI_CONFIG: cliConfig, ...env },
  });
}

beforeAll(async () => {
  if (!existsSync('dist/cli/main.js'))
    throw new Error('dist/ is missing: run `npm run build` (npm test does) before this test');
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'strato-cli-'));
  cliConfig = path.join(dataDir, 'cli', 'cli.json');
  const { STRATO_ADMIN_KEY: _unset, ...env } = process.env;
  server = spawn(process.execPath, [BIN, 'server', '--port', '0', '--data-dir', dataDir], {
    env: { ...env, STRATO_LOG_LEVEL: 'warn', STRATO_CLI_CONFIG: cliConfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  url = await new Promise<string>((resolve, reject) => {
    let output = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      serverOutput = output;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    server.once('exit', (code) => reject(new Error(`server exited with ${String(code)}: ${output}`)));
  });
});

afterAll(async () => {
  if (server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the strato CLI against a real server', () => {
  it('deploys the npm-using example, invokes it, and shows its logs, versions and invocations', async () => {
    const name = uniqueName('cli-greeting');
    const deployed = await strato(
      'deploy',
      'examples/greeting',
      '--name',
      name,
      '--memory',
      '64',
      '--timeout',
      '5s',
      '--env',
      'A=1',
      '--env',
      'B=two',
      '--concurrency',
      '3',
      '--description',
      'from the CLI test',
    );
    expect(deployed.stdout).toMatch(new RegExp(`deployed ${name} version 1`));
    const shown = JSON.parse((await strato('get', name, '--json')).stdout) as {
      version: { config: unknown; description: string };
    };
    expect(shown.version.config).toEqual({
      memoryMb: 64,
      timeoutMs: 5000,
      env: { A: '1', B: 'two' },
      concurrency: 3,
    });
    expect(shown.version.description).toBe('from the CLI test');

    const invoked = await strato('invoke', name, '--data', '{"name":"Ada"}');
    expect(JSON.parse(invoked.stdout)).toMatchObject({ text: 'Hello Ada!', functionName: name });
    expect(invoked.stderr).toMatch(/200, version 1, cold/);

    const asJson = JSON.parse(
      (await strato('invoke', name, '--data', '{"name":"Bo"}', '--json')).stdout,
    ) as Record<string, unknown>;
    expect(asJson).toMatchObject({ status: 200, cold: false, body: { text: 'Hello Bo!' } });

    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await strato('logs', name)).stdout).toMatch(/INFO +rendered greeting for Ada/);
    expect((await strato('versions', name)).stdout).toMatch(/VERSION/);
    const invocations = JSON.parse((await strato('invocations', name, '--json')).stdout) as unknown[];
    expect(invocations).toHaveLength(2);
    expect((await strato('ps', name)).stdout).toMatch(/idle .* 64 MB/);
    expect((await strato('list')).stdout).toContain(name);

    await strato('deploy', 'examples/hello.ts', '--name', name);
    expect(JSON.parse((await strato('invoke', name, '--data', '{"name":"Cy"}')).stdout)).toEqual({
      message: 'Hello, Cy!',
    });
    const pinned = await strato('invoke', name, '--data', '{"name":"Cy"}', '--version', '1');
    expect(JSON.parse(pinned.stdout)).toMatchObject({ text: 'Hello Cy!' });
    expect(pinned.stderr).toMatch(/version 1/);
  });

  it('exits non-zero with the error code on failures', async () => {
    await expect(strato('invoke', uniqueName('nope'))).rejects.toMatchObject({ code: 1 });
    await expect(strato('get', uniqueName('nope'))).rejects.toMatchObject({
      stderr: expect.stringContaining('FUNCTION_NOT_FOUND'),
    });
  });

  it('works the dead-letter queue: ls, show, redrive, purge', async () => {
    const name = uniqueName('cli-dlq');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-cli-fn-'));
    try {
      const file = path.join(dir, 'failing.ts');
      writeFileSync(file, `export default async () => { throw new Error('cli dlq'); };`);
      await strato('deploy', file, '--name', name, '--async-retries', '0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const queued = await strato('invoke', name, '--async', '--idempotency-key', 'cli-1');
    const invocationId = queued.stdout.trim();
    expect(queued.stderr).toBe('(queued)\n');
    const again = await strato('invoke', name, '--async', '--idempotency-key', 'cli-1');
    expect(again.stdout.trim()).toBe(invocationId);
    expect(again.stderr).toMatch(/same idempotency key/);
    await expect
      .poll(async () => (await strato('dlq', 'ls', name)).stdout, { timeout: 15_000 })
      .toContain(invocationId);
    expect((await strato('dlq', 'ls', name)).stdout).toMatch(/Error: cli dlq/);
    expect(JSON.parse((await strato('dlq', 'show', name, invocationId)).stdout)).toMatchObject({
      id: invocationId,
      status: 'dead',
    });
    expect((await strato('dlq', 'redrive', name, '--id', invocationId)).stdout).toBe('redriven: 1\n');
    await expect
      .poll(async () => (await strato('dlq', 'ls', name, '--json')).stdout, { timeout: 15_000 })
      .toContain(invocationId);
    expect((await strato('dlq', 'purge', name)).stdout).toBe('purged: 1\n');
    expect((await strato('dlq', 'ls', name)).stdout).toBe('(none)\n');
  });

  it('sets a secret from stdin, lists its name only, and deletes it', async () => {
    const name = uniqueName('cli-secret');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'strato-cli-fn-'));
    try {
      writeFileSync(
        path.join(dir, 'index.ts'),
        'export default (_e: unknown, c: { env: Record<string, string> }) => ({ ok: c.env.CLI_TOKEN === "s3cr3t-value" });',
      );
      await strato('deploy', dir, '--name', name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const set = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'secrets', 'set', name, 'CLI_TOKEN', '--url', url], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, STRATO_API_KEY: '', STRATO_CLI_CONFIG: cliConfig },
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.once('exit', (code) => resolve({ code, stdout }));
      child.stdin.end('s3cr3t-value\n');
    });
    expect(set).toStrictEqual({ code: 0, stdout: `set secret CLI_TOKEN of ${name}\n` });
    expect(JSON.parse((await strato('invoke', name)).stdout)).toStrictEqual({ ok: true });
    const listed = await strato('secrets', 'ls', name);
    expect(listed.stdout).toContain('CLI_TOKEN');
    expect(listed.stdout).not.toContain('s3cr3t-value');
    expect((await strato('secrets', 'rm', name, 'CLI_TOKEN')).stdout).toBe(
      `deleted secret CLI_TOKEN of ${name}\n`,
    );
    await expect(strato('secrets', 'rm', name, 'CLI_TOKEN')).rejects.toMatchObject({
      stderr: expect.stringContaining('SECRET_NOT_FOUND'),
    });
  });

  it('prices the measured workload with strato cost: table, totals, VM comparison, break-even and formula', async () => {
    const name = uniqueName('cli-cost');
    await strato('deploy', 'examples/hello.ts', '--name', name, '--memory', '128');
    await strato('invoke', name, '--data', '{"name":"Ada"}');
    await strato('invoke', name, '--data', '{"name":"Bo"}');
    type Report = {
      functions: Array<{ functionName: string; requests: number; billedMs: number; gbSeconds: number }>;
      vm: { instances: number };
      breakEven: { formula: string };
    };
    const costJson = async (...extra: string[]) =>
      JSON.parse(
        (await strato('cost', '--since', '1h', '--function', name, '--json', ...extra)).stdout,
      ) as Report;
    await expect.poll(async () => (await costJson()).functions[0]?.requests, { timeout: 10_000 }).toBe(2);

    const records = JSON.parse((await strato('invocations', name, '--json')).stdout) as Array<{
      billedMs: number;
      memoryMb: number;
    }>;
    const [line] = (await costJson()).functions;
    expect(line?.functionName).toBe(name);
    expect(line?.billedMs).toBe(records.reduce((sum, record) => sum + record.billedMs, 0));
    expect(line?.gbSeconds).toBeCloseTo(
      records.reduce((sum, record) => sum + (record.billedMs * record.memoryMb) / 1024 / 1000, 0),
      12,
    );
    // 128 MB in flight at the peak needs two 64 MB VMs.
    expect((await costJson('--vm-memory', '64')).vm.instances).toBe(2);

    const { stdout } = await strato('cost', '--since', '1h', '--function', name, '--price-gbs', '0.001');
    expect(stdout).toMatch(/Prices: 0\.001 per GB-s, 0\.2 per 1M requests; VM 0\.0416\/hour with 4096 MB/);
    expect(stdout).toMatch(/FUNCTION +REQUESTS +ERRORS +BILLED MS +GB-S +PEAK +COST/);
    expect(stdout).toMatch(new RegExp(`${name} +2 +0 +\\d+`));
    expect(stdout).toMatch(/TOTAL +2 +0 /);
    expect(stdout).toMatch(/Strato \(metered\): +0\.0000\d+ +\(Strato cost less/);
    // The window starts at the top of the hour an hour ago: between 1 and 2 hours of one VM.
    expect(stdout).toMatch(/Always-on VMs: +0\.0[4-8]\d+ +\(1 VM of 4096 MB at 0\.0416\/hour/);
    expect(stdout).toMatch(/Break-even: +[\d.e+-]+ requests\/s \(measured: /);
    expect(stdout).toMatch(
      /Formula: +requestsPerSecond = instances × vmHourly \/ 3600 \/ .* = 1 × 0\.0416 \/ 3600 \/ \(/,
    );
    expect(stdout).not.toMatch(/START/);

    const byDay = await strato('cost', '--since', '1h', '--function', name, '--granularity', 'day');
    expect(byDay.stdout).toMatch(/START +REQUESTS +GB-S +COST *\n\d{4}-\d\d-\d\dT00:00:00\.000Z +2 /);

    await expect(strato('cost', '--price-gbs', 'cheap')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('VALIDATION_FAILED'),
    });
  });

  it('prints the admin key made at first start once, keeps it in its config, and manages scoped keys', async () => {
    await expect.poll(() => /strato_sk_\S+/.exec(serverOutput)?.[0], { timeout: 5000 }).toBeDefined();
    const adminKey = /strato_sk_\S+/.exec(serverOutput)![0];
    const stored = JSON.parse(readFileSync(cliConfig, 'utf8')) as {
      servers: Record<string, { apiKey: string }>;
    };
    expect(Object.values(stored.servers).map((entry) => entry.apiKey)).toEqual([adminKey]);
    expect(statSync(cliConfig).mode & 0o777).toBe(0o600);

    const created = await strato(
      'keys',
      'create',
      '--scope',
      'invoke',
      '--description',
      'ci invoker',
      '--json',
    );
    const { key, token } = JSON.parse(created.stdout) as {
      key: { id: string; scopes: string[] };
      token: string;
    };
    expect(key.scopes).toEqual(['invoke']);
    const listed = await strato('keys', 'ls');
    expect(listed.stdout).toContain(key.id);
    expect(listed.stdout).toContain('ci invoker');
    expect(listed.stdout).not.toContain(token);

    // The invoke key (from STRATO_API_KEY, which wins over the config) may invoke but not deploy or read.
    const name = uniqueName('cli-keys');
    await strato('deploy', path.resolve('examples/hello.ts'), '--name', name);
    const invoked = await stratoWith({ STRATO_API_KEY: token }, 'invoke', name, '--data', '{"name":"key"}');
    expect(invoked.stdout).toContain('Hello, key');
    const refused = stratoWith({ STRATO_API_KEY: token }, 'ls');
    await expect(refused).rejects.toMatchObject({ stderr: expect.stringContaining('FORBIDDEN') });
    const noKey = stratoWith({ STRATO_CLI_CONFIG: path.join(dataDir, 'none.json') }, 'ls');
    await expect(noKey).rejects.toMatchObject({ stderr: expect.stringContaining('UNAUTHORIZED') });

    await strato('keys', 'revoke', key.id);
    const revoked = stratoWith({ STRATO_API_KEY: token }, 'invoke', name, '--data', '{}');
    await expect(revoked).rejects.toMatchObject({ stdout: expect.stringContaining('UNAUTHORIZED') });
    // Shown once: the server never printed it again, and nothing listed carries it.
    expect(serverOutput.split(adminKey).length - 1).toBe(1);
  });

  it('stops gracefully on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
