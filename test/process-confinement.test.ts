import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  detectConfinement,
  spawnConfined,
  type ConfinedExit,
  type ConfinedProcess,
  type ConfinedProcessOptions,
  setupFailedExitCode,
} from '../src/sandbox/process/index.js';

const node = process.execPath;
const handles: ConfinedProcess[] = [];
const tempDirs: string[] = [];
const servers: Server[] = [];
const support = await detectConfinement();

afterEach(async () => {
  for (const handle of handles.splice(0)) {
    handle.kill();
    await handle.exited; // also removes the instance's cgroup
  }
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A directory the unprivileged uid can read: mkdtemp makes 0700 ones. */
async function tempDir(parent = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(parent, 'strato-confine-'));
  await chmod(dir, 0o755);
  tempDirs.push(dir);
  return dir;
}

interface RunResult extends ConfinedExit {
  stdout: string;
  stderr: string;
}

async function runConfined(
  command: string,
  args: string[],
  overrides: Partial<ConfinedProcessOptions> = {},
): Promise<RunResult> {
  const handle = await spawnConfined({
    id: `test-${randomBytes(6).toString('hex')}`,
    command,
    args,
    env: { PATH: '/usr/bin:/bin' },
    codeDir: overrides.codeDir ?? (await tempDir()),
    tmpSizeBytes: 1 << 20,
    memoryBytes: 256 << 20,
    maxPids: 64,
    ...overrides,
  });
  handles.push(handle);
  let stdout = '';
  let stderr = '';
  handle.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  handle.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = await handle.exited;
  return { ...exit, stdout, stderr };
}

function sh(script: string, overrides: Partial<ConfinedProcessOptions> = {}): Promise<RunResult> {
  return runConfined('/bin/sh', ['-c', script], overrides);
}

function nodeEval(source: string, overrides: Partial<ConfinedProcessOptions> = {}): Promise<RunResult> {
  return runConfined(node, ['-e', source], overrides);
}

describe.runIf(support.ok)('process confinement', () => {
  it('detects that this host can confine', () => {
    expect(support).toMatchObject({ ok: true });
    if (support.ok) expect(['v1', 'v2', 'hybrid']).toContain(support.cgroup);
  });

  it('sees only its own processes, with its command as pid 1', async () => {
    const result = await sh(
      'n=0; for e in /proc/[0-9]*; do n=$((n+1)); done; echo "$n"; tr "\\0" " " < /proc/1/cmdline',
    );
    const [count, init] = result.stdout.split('\n');
    expect(Number(count)).toBeLessThanOrEqual(3); // sh, and tr while it runs
    expect(init).toMatch(/^\/bin\/sh -c/);
  });

  it('has no network, even to a port the host listens on', async () => {
    const server = createServer((socket) => socket.end('reached'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const probe = `require('net').connect(${address.port}, '127.0.0.1').on('connect', () => console.log('connected')).on('error', (e) => console.log(e.code))`;
    const none = await nodeEval(probe);
    expect(none.stdout.trim()).toMatch(/^E[A-Z]+$/);
    // With loopback up, it still reaches only its own namespace, where nothing listens on that port.
    const loopback = await nodeEval(probe, { network: 'loopback' });
    expect(loopback.stdout.trim()).toBe('ECONNREFUSED');
  });

  it('cannot write outside /tmp, and cannot see hidden paths', async () => {
    const codeDir = await tempDir();
    await writeFile(join(codeDir, 'index.js'), 'exports.x = 1;\n');
    const dataDir = await tempDir(existsSync('/var/tmp') ? '/var/tmp' : tmpdir());
    await writeFile(join(dataDir, 'secret.db'), 'server data');
    const targets = [
      join(codeDir, 'new'),
      join(codeDir, 'index.js'),
      '/new',
      '/etc/new',
      '/usr/new',
      '/dev/shm/new',
    ];
    const script = [
      ...targets.map((target) => `(echo x >> '${target}') 2>/dev/null && echo "wrote ${target}"`),
      `cat '${join(codeDir, 'index.js')}'`,
      'echo data > /tmp/ok && cat /tmp/ok',
      `ls -A '${dataDir}' | wc -l`,
      'ls -A /sys/fs/cgroup | wc -l',
      'pwd',
    ].join('\n');
    const result = await sh(script, { codeDir, hidePaths: [dataDir] });
    expect(result.stdout.split('\n')).toEqual(['exports.x = 1;', 'data', '0', '0', codeDir, '']);
  });

  it('binds extra directories read-write or read-only, at the target path', async () => {
    const socketDir = await tempDir();
    await chmod(socketDir, 0o777);
    const configDir = await tempDir();
    await writeFile(join(configDir, 'settings'), 'from host\n');
    const result = await sh(
      'echo from-guest > /tmp/runtime/out && cat /srv/settings; (echo x > /srv/y) 2>/dev/null || echo ro',
      {
        extraBinds: [
          { source: socketDir, target: '/tmp/runtime', readonly: false },
          { source: configDir, target: '/srv', readonly: true },
        ],
      },
    );
    expect(result.stdout).toBe('from host\nro\n');
    expect(await readFile(join(socketDir, 'out'), 'utf8')).toBe('from-guest\n');
  });

  it('fails setup with a clear message instead of running the command', async () => {
    const result = await sh('echo ran', { codeDir: '/nonexistent/strato-code' });
    expect(result.code).toBe(setupFailedExitCode);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/strato-setup: no directory \/nonexistent\/strato-code/);
  });

  it('cannot fill /tmp past its size', async () => {
    const result = await sh('dd if=/dev/zero of=/tmp/big bs=65536 count=64', {
      tmpSizeBytes: 1 << 20,
      maxFileSizeBytes: 64 << 20,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/No space left on device/);
  });

  it('caps a fork bomb at maxPids', async () => {
    const result = await sh('i=0; while [ $i -lt 50 ]; do sleep 30 & i=$((i+1)); done; echo all-started', {
      maxPids: 10,
    });
    expect(result.stdout).not.toContain('all-started');
    expect(result.stderr).toMatch(/fork/i);
    // The host still forks fine.
    const after = await sh('echo alive');
    expect(after.stdout).toBe('alive\n');
  });

  it('cannot hold more open files than maxOpenFiles', async () => {
    const result = await nodeEval(
      `const fs = require('fs'); let n = 0; try { for (;;) { fs.openSync('/dev/null'); n++; } } catch (e) { console.log(e.code, n); }`,
      { maxOpenFiles: 100 },
    );
    const [code, opened] = result.stdout.trim().split(' ');
    expect(code).toBe('EMFILE');
    expect(Number(opened)).toBeLessThan(100);
  });

  it('sees exactly the env it was given and runs as nobody', async () => {
    process.env.STRATO_CONFINE_TEST_SECRET = 'must-not-leak';
    try {
      const result = await nodeEval(
        'console.log(JSON.stringify({ env: process.env, uid: process.getuid(), gid: process.getgid(), groups: process.getgroups() }))',
        { env: { PATH: '/usr/bin:/bin', FOO: 'bar baz' } },
      );
      expect(JSON.parse(result.stdout)).toEqual({
        env: { PATH: '/usr/bin:/bin', FOO: 'bar baz' },
        uid: 65534,
        gid: 65534,
        groups: [65534],
      });
    } finally {
      delete process.env.STRATO_CONFINE_TEST_SECRET;
    }
  });

  it('is OOM-killed past memoryBytes, and reports it', async () => {
    const result = await nodeEval(
      `const keep = []; for (let i = 0; i < 1024; i++) keep.push(Buffer.alloc(1 << 20, 1)); console.log('survived');`,
      { memoryBytes: 96 << 20 },
    );
    expect(result.stdout).not.toContain('survived');
    expect(result.oomKilled).toBe(true);
  });

  it('does not report OOM for a normal exit', async () => {
    const result = await sh('exit 3');
    expect(result).toMatchObject({ code: 3, oomKilled: false });
  });

  it('kill() ends the whole namespace and removes the cgroup', async () => {
    const id = `test-${randomBytes(6).toString('hex')}`;
    const handle = await spawnConfined({
      id,
      command: '/bin/sh',
      args: ['-c', 'sleep 60 & sleep 60 & echo ready; wait'],
      env: {},
      codeDir: await tempDir(),
      tmpSizeBytes: 1 << 20,
      memoryBytes: 64 << 20,
      maxPids: 8,
    });
    await new Promise((resolve) => handle.stdout.once('data', resolve));
    expect(support.ok && support.layout.version === 'v1').toBe(true);
    const procs = `/sys/fs/cgroup/pids/strato/${id}/cgroup.procs`;
    handle.kill();
    const exit = await handle.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(existsSync(procs)).toBe(false);
  });

  it('starts a confined `true` quickly', async () => {
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const result = await runConfined('/bin/true', []);
      timings.push(performance.now() - started);
      expect(result.code).toBe(0);
    }
    timings.sort((a, b) => a - b);
    console.info(
      `confined true: median ${timings[2]?.toFixed(1)} ms (${timings.map((t) => t.toFixed(1)).join(', ')})`,
    );
    expect(timings[2]).toBeLessThan(1_000);
  });
});

describe.runIf(!support.ok)('process confinement (unsupported host)', () => {
  it('refuses with a reason instead of running unconfined', async () => {
    expect(support).toMatchObject({ ok: false });
    await expect(
      spawnConfined({
        id: 'x',
        command: '/bin/true',
        env: {},
        codeDir: '/',
        tmpSizeBytes: 1,
        memoryBytes: 1,
        maxPids: 1,
      }),
    ).rejects.toThrow(/unavailable/);
  });
});
