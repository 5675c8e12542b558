import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { deployNodeZip, zipOf } from './helpers/zip.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { extractZip } from '../src/build/zip-archive.js';
import { DEFAULT_FUNCTION_CONFIG, type FunctionConfig } from '../src/core/function.js';
import type { InstanceSpec, InvokeRequest, InvokeResult } from '../src/core/sandbox.js';
import { detectConfinement } from '../src/sandbox/process/host-capabilities.js';
import { ProcessSandbox } from '../src/sandbox/process/process-sandbox.js';

const support = await detectConfinement();
const logger = pino({ level: 'silent' });
const sandboxes: ProcessSandbox[] = [];
const servers: TestServer[] = [];
const tempDirs: string[] = [];
const nodePool = `node:${process.execPath}`;

afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function newSandbox(poolSize: number): Promise<{ sandbox: ProcessSandbox; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'strato-pool-'));
  tempDirs.push(dataDir);
  const sandbox = await ProcessSandbox.create({
    dataDir,
    logger,
    logLimitBytes: 64 * 1024,
    tmpSizeBytes: 16 << 20,
    extractZip: (zip, target) => extractZip(zip, target),
    poolSize,
  });
  sandboxes.push(sandbox);
  return { sandbox, dataDir };
}

/** Waits until every pool of the sandbox has `ready` sandboxes waiting. */
async function poolReady(sandbox: ProcessSandbox, ready: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!Object.values(sandbox.pooled).every((stats) => stats.ready >= ready)) {
    if (Date.now() > deadline) throw new Error(`the pool did not fill: ${JSON.stringify(sandbox.pooled)}`);
    await sleep(20);
  }
}

/** The Node handler that reports its env, cwd and code marker, as a `nodejs20.x` spec. */
async function nodeReporterSpec(marker: string, env: Record<string, string>): Promise<InstanceSpec> {
  return specOf(
    await zipOf({ 'index.js': nodeEnvHandler, 'marker.txt': marker }),
    'nodejs20.x',
    { env },
    'index.handler',
  );
}

function specOf(
  zip: Buffer,
  runtime: string,
  config: Partial<FunctionConfig> = {},
  handler?: string,
): InstanceSpec {
  return {
    functionName: `fn-${randomUUID().slice(0, 8)}`,
    version: 1,
    codeSha256: createHash('sha256').update(zip).digest('hex'),
    loadCode: () => Promise.reject(new Error('the process tier loads zips')),
    loadArtifact: () => Promise.resolve(zip),
    config: { ...DEFAULT_FUNCTION_CONFIG, ...config },
    runtime,
    ...(handler === undefined ? {} : { handler }),
  };
}

function event(value: unknown, timeoutMs = 10_000): InvokeRequest {
  return {
    invocationId: randomUUID(),
    payload: { kind: 'event', eventJson: JSON.stringify(value) },
    deadline: Date.now() + timeoutMs,
  };
}

function successJson(result: InvokeResult): unknown {
  if (result.outcome !== 'success' || result.response.kind !== 'json') {
    throw new Error(`expected a JSON success, got ${JSON.stringify(result)}`);
  }
  return JSON.parse(result.response.json);
}

/** A bash runtime answering each event with `report`'s output (a JSON value). */
function bashRuntime(report: string, afterAnswer = ''): string {
  return `#!/bin/bash
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
report() { ${report}; }
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" -o /dev/null "$API/next"
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS "$API/$REQUEST_ID/response" -d "$(report)" >/dev/null
  ${afterAnswer}
done
`;
}

// Every variable as a JSON object (no jq in the sandbox): env -0 output escaped by python would need python;
// names and values here are plain, so a printf loop does.
const envReport = `printf '{'; first=1; while IFS='=' read -r name value; do [ $first = 1 ] || printf ','; first=0; printf '"%s":"%s"' "$name" "$value"; done < <(env); printf '}'`;

const nodeEnvHandler = `
const fs = require('node:fs');
exports.handler = async () => {
  let writable = true;
  try { fs.writeFileSync('/var/task/written', 'x'); } catch { writable = false; }
  return {
    env: process.env,
    cwd: process.cwd(),
    marker: fs.readFileSync('/var/task/marker.txt', 'utf8'),
    relative: fs.readFileSync('marker.txt', 'utf8'),
    writable,
    hour: new Date(0).getHours(),
    // /tmp is private to the sandbox: what an earlier function left there must not be here.
    tmpOwner: readOrNull('/tmp/owner'),
    ownerWritten: fs.writeFileSync('/tmp/owner', process.env.AWS_LAMBDA_FUNCTION_NAME) ?? true,
  };
};
function readOrNull(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return null; }
}`;

interface NodeReport {
  env: Record<string, string>;
  cwd: string;
  marker: string;
  relative: string;
  writable: boolean;
  hour: number;
  tmpOwner: string | null;
}

describe.runIf(support.ok)('the process tier pool', () => {
  it('serves provided and Node functions from pre-confined sandboxes, and refills', async () => {
    const { sandbox } = await newSandbox(1);
    await poolReady(sandbox, 1);
    const bash = sandbox.startInstance(
      specOf(
        await zipOf({
          bootstrap: bashRuntime(
            `echo "{\\"pwd\\":\\"$PWD\\",\\"marker\\":\\"$(cat /var/task/marker.txt)\\"}"`,
          ),
          'marker.txt': 'bash-code',
        }),
        'provided.al2023',
      ),
    );
    expect(successJson(await bash.invoke(event({})))).toEqual({ pwd: '/var/task', marker: 'bash-code' });
    const node = sandbox.startInstance(await nodeReporterSpec('node-code', { TZ: 'Asia/Tokyo' }));
    const report = successJson(await node.invoke(event({}))) as NodeReport;
    expect(report).toMatchObject({
      cwd: '/var/task',
      marker: 'node-code',
      relative: 'node-code',
      writable: false,
      hour: 9, // TZ from the function's env applies to a Node started before it
    });
    expect(sandbox.pooled).toMatchObject({ exec: { taken: 1 }, [nodePool]: { taken: 1 } });
    // Both pools refill in the background.
    await poolReady(sandbox, 1);
    expect(successJson(await node.invoke(event({})))).toMatchObject({ marker: 'node-code' });
  });

  it("gives each function exactly its own env and code, never another's or the server's", async () => {
    process.env['STRATO_POOL_TEST_SERVER_SECRET'] = 'server-only';
    try {
      const { sandbox } = await newSandbox(2);
      await poolReady(sandbox, 2);
      const first = sandbox.startInstance(
        await nodeReporterSpec('first', { FIRST_SECRET: 'first-value', SHARED: 'first' }),
      );
      const firstReport = successJson(await first.invoke(event({}))) as NodeReport;
      await first.dispose();
      await poolReady(sandbox, 2);
      const second = sandbox.startInstance(await nodeReporterSpec('second', { SHARED: 'second' }));
      const secondReport = successJson(await second.invoke(event({}))) as NodeReport;
      expect(sandbox.pooled[nodePool]?.taken).toBe(2);
      expect(firstReport.env).toMatchObject({ FIRST_SECRET: 'first-value', SHARED: 'first' });
      expect(secondReport.marker).toBe('second');
      expect(secondReport.env['SHARED']).toBe('second');
      expect(secondReport.env['FIRST_SECRET']).toBeUndefined();
      expect(firstReport.tmpOwner).toBeNull();
      expect(secondReport.tmpOwner).toBeNull();
      for (const report of [firstReport, secondReport]) {
        const names = Object.keys(report.env);
        expect(names.filter((name) => name.startsWith('STRATO_'))).toEqual([]);
        expect(JSON.stringify(report.env)).not.toContain('server-only');
        expect(
          names.every((name) =>
            /^(AWS_|LAMBDA_|_HANDLER$|_X_AMZN_TRACE_ID$|FIRST_SECRET$|SHARED$|PATH$|LANG$|LD_LIBRARY_PATH$|NODE_PATH$|TZ$)/.test(
              name,
            ),
          ),
        ).toBe(true);
      }

      const bashSpec = (secret: Record<string, string>) =>
        zipOf({ bootstrap: bashRuntime(envReport) }).then((zip) =>
          specOf(zip, 'provided.al2023', { env: secret }),
        );
      const bashFirst = sandbox.startInstance(await bashSpec({ BASH_SECRET: 'one' }));
      const bashFirstEnv = successJson(await bashFirst.invoke(event({}))) as Record<string, string>;
      const bashSecond = sandbox.startInstance(await bashSpec({}));
      const bashSecondEnv = successJson(await bashSecond.invoke(event({}))) as Record<string, string>;
      expect(bashFirstEnv['BASH_SECRET']).toBe('one');
      expect(bashSecondEnv['BASH_SECRET']).toBeUndefined();
      for (const env of [bashFirstEnv, bashSecondEnv]) {
        expect(Object.keys(env).filter((name) => name.startsWith('STRATO_'))).toEqual([]);
        expect(env['AWS_LAMBDA_RUNTIME_API']).toBe('127.0.0.1:9001');
      }
      expect(sandbox.pooled['exec']?.taken).toBe(2);
    } finally {
      delete process.env['STRATO_POOL_TEST_SERVER_SECRET'];
    }
  });

  it('keeps the task root read-only and applies the memory limit at assignment', async () => {
    const { sandbox } = await newSandbox(1);
    await poolReady(sandbox, 1);
    const bash = sandbox.startInstance(
      specOf(
        await zipOf({
          bootstrap: bashRuntime(
            `touch /var/task/x 2>/dev/null && echo '"writable"' || echo "\\"$(grep ' /var/task ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1)\\""`,
          ),
        }),
        'provided.al2023',
      ),
    );
    expect(successJson(await bash.invoke(event({})))).toBe('ro');
    // The pooled sandbox waits under a 256 MiB limit; the function's 128 MiB must hold once assigned.
    const hog = sandbox.startInstance(
      specOf(
        await zipOf({
          'index.js': `exports.handler = async () => {
            const kept = [];
            for (let i = 0; i < 14; i++) kept.push(Buffer.alloc(16 << 20, 1));
            return kept.length;
          };`,
        }),
        'nodejs20.x',
        { memoryMb: 128 },
        'index.handler',
      ),
    );
    const result = await hog.invoke(event({}));
    expect(result.outcome).toBe('out_of_memory');
    expect(sandbox.pooled[nodePool]?.taken).toBe(1);
  });

  it('starts Node afresh for a function whose env Node reads only at start (NODE_OPTIONS)', async () => {
    const { sandbox } = await newSandbox(1);
    await poolReady(sandbox, 1);
    const instance = sandbox.startInstance(
      specOf(
        await zipOf({
          'index.js': `exports.handler = async () => ({ stack: Error.stackTraceLimit });`,
        }),
        'nodejs20.x',
        { env: { NODE_OPTIONS: '--stack-trace-limit=7' } },
        'index.handler',
      ),
    );
    expect(successJson(await instance.invoke(event({})))).toEqual({ stack: 7 });
    expect(sandbox.pooled[nodePool]?.taken).toBe(0);
  });

  it('works with the pool off, as before', async () => {
    const { sandbox } = await newSandbox(0);
    expect(sandbox.pooled).toEqual({});
    const instance = sandbox.startInstance(
      specOf(await zipOf({ bootstrap: bashRuntime(`echo '"fresh"'`) }), 'provided.al2023'),
    );
    expect(successJson(await instance.invoke(event({})))).toBe('fresh');
  });

  it('kills every pooled process when the sandbox closes', async () => {
    const { sandbox, dataDir } = await newSandbox(2);
    await poolReady(sandbox, 2);
    // The data dir is in every pooled sandbox's setup script (it is hidden inside), so in its command line.
    expect((await processesMentioning(dataDir)).length).toBeGreaterThanOrEqual(4);
    await sandbox.close();
    expect(await processesMentioning(dataDir)).toEqual([]);
  });

  it('marks an instance dead when its runtime exits right after answering', async () => {
    const { sandbox } = await newSandbox(1);
    await poolReady(sandbox, 1);
    const bash = sandbox.startInstance(
      specOf(await zipOf({ bootstrap: bashRuntime(`echo '"last"'`, 'exit 3') }), 'provided.al2023'),
    );
    expect(successJson(await bash.invoke(event({})))).toBe('last');
    expect(bash.dead).toBe(true);
    const node = sandbox.startInstance(
      specOf(
        await zipOf({
          'index.js': `exports.handler = async () => {
            setTimeout(() => { throw new TypeError('escaped'); }, 1);
            await new Promise((resolve) => setTimeout(resolve, 100));
          };`,
        }),
        'nodejs20.x',
        {},
        'index.handler',
      ),
    );
    const crashed = await node.invoke(event({}));
    expect(crashed).toMatchObject({ outcome: 'error', error: { type: 'TypeError', message: 'escaped' } });
    expect(node.dead).toBe(true);
  });

  it('gives the next request a fresh instance after a runtime answered and exited (server)', async () => {
    const server = await startTestServer();
    servers.push(server);
    const name = `pool-exit-${randomUUID().slice(0, 8)}`;
    const deployed = await deployNodeZip(server, name, {
      'index.js': `exports.handler = async (event) => {
        if (event.crash) setTimeout(() => { throw new TypeError('escaped'); }, 1);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return 'ok';
      };`,
    });
    expect(deployed.status).toBe(201);
    const invoke = (payload: unknown) =>
      server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
        method: 'POST',
        body: JSON.stringify(payload),
      });
    expect((await invoke({})).status).toBe(200);
    expect((await invoke({ crash: true })).status).toBe(500);
    // At once: before the fix this met the exiting runtime and failed with 502 SANDBOX_CRASHED.
    const next = await invoke({});
    expect(next.status).toBe(200);
    expect(await next.json()).toBe('ok');
  });
});

async function processesMentioning(marker: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('pgrep', ['-f', marker]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter((line) => line !== '');
}
