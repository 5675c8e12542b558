import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ImageRunConfig, PreparedImage } from '../src/core/container-image.js';
import { DEFAULT_FUNCTION_CONFIG, type FunctionConfig } from '../src/core/function.js';
import type { InstanceSpec, InvokeRequest, InvokeResult, SandboxInstance } from '../src/core/sandbox.js';
import { StratoError } from '../src/core/strato-error.js';
import { ContainerSandbox } from '../src/sandbox/container/container-sandbox.js';
import { detectCgroupHost } from '../src/sandbox/container/container-cgroup.js';
import type { OciRuntimeName } from '../src/sandbox/container/oci-runtime.js';

const execFileAsync = promisify(execFile);
const logger = pino({ level: 'silent' });
const sandboxes: ContainerSandbox[] = [];
const tempDirs: string[] = [];
const servers: Server[] = [];
const cgroupHost = await detectCgroupHost();

afterEach(async () => {
  await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.close()));
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Which runtimes run containers here (each probed once; the reason when one cannot). */
async function availability(runtime: OciRuntimeName): Promise<string | undefined> {
  const dataDir = await mkdtemp(join(tmpdir(), 'strato-ctr-probe-'));
  try {
    const sandbox = await ContainerSandbox.create({ dataDir, logger, logLimitBytes: 1024, runtime });
    await sandbox.close();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
const unavailable: Record<OciRuntimeName, string | undefined> = {
  crun: await availability('crun'),
  runc: await availability('runc'),
};

async function newSandbox(runtime: OciRuntimeName, tmpSizeBytes = 16 << 20) {
  const dataDir = await tempDir('strato-ctr-');
  const sandbox = await ContainerSandbox.create({
    dataDir,
    logger,
    logLimitBytes: 64 * 1024,
    tmpSizeBytes,
    runtime,
  });
  sandboxes.push(sandbox);
  return { sandbox, dataDir };
}

const busyboxApplets = [
  'sh',
  'wget',
  'grep',
  'sed',
  'cat',
  'tr',
  'head',
  'tail',
  'id',
  'env',
  'sort',
  'sleep',
];
const moreApplets = ['touch', 'echo', 'wc', 'ls', 'mkdir', 'dd', 'unshare', 'true'];

/**
 * A busybox image whose /bootstrap is a Lambda custom runtime in sh: the Runtime API loop with busybox wget
 * (-S prints the response headers, where the request id is). `handler` sets RESPONSE from EVENT.
 */
async function buildRootfs(handler: string): Promise<string> {
  const rootfs = join(await tempDir('strato-rootfs-'), 'rootfs');
  for (const dir of ['bin', 'etc', 'proc', 'dev', 'sys', 'tmp', 'var/task']) {
    await mkdir(join(rootfs, dir), { recursive: true });
  }
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await copyFile('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
  await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of [...busyboxApplets, ...moreApplets])
    await symlink('busybox', join(rootfs, 'bin', applet));
  await writeFile(
    join(rootfs, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n',
  );
  await writeFile(
    join(rootfs, 'bootstrap'),
    `#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
ARGS="$*"
handle() {
${handler}
}
while true; do
  HEADERS=$(wget -S -q -O /tmp/event "$API/next" 2>&1)
  ID=$(echo "$HEADERS" | grep -i 'Lambda-Runtime-Aws-Request-Id' | sed 's/^.*: *//' | tr -d '\\r ')
  EVENT=$(cat /tmp/event)
  handle
  wget -q -O /dev/null --post-data "$RESPONSE" "$API/$ID/response"
done
`,
  );
  await chmod(join(rootfs, 'bootstrap'), 0o755);
  return rootfs;
}

const baseImage: ImageRunConfig = {
  entrypoint: ['/bootstrap'],
  cmd: [],
  env: ['FROM_IMAGE=1', 'PATH=/bin'],
  workingDir: '/',
  user: '',
};

function specOf(
  rootfsDir: string,
  config: Partial<FunctionConfig> = {},
  image: Partial<ImageRunConfig> = {},
): InstanceSpec {
  const prepared: PreparedImage = {
    rootfsDir,
    config: { ...baseImage, ...image },
    manifestDigest: `sha256:${'0'.repeat(64)}`,
  };
  return {
    functionName: `ctr-${randomUUID().slice(0, 8)}`,
    version: 1,
    codeSha256: '0'.repeat(64),
    loadCode: () => Promise.reject(new Error('the container tier runs images')),
    config: {
      ...DEFAULT_FUNCTION_CONFIG,
      image: { reference: 'archive', manifestDigest: prepared.manifestDigest },
      ...config,
    },
    prepareImage: () => Promise.resolve(prepared),
  };
}

function event(value: unknown, timeoutMs = 10_000): InvokeRequest {
  return {
    invocationId: randomUUID(),
    payload: { kind: 'event', eventJson: JSON.stringify(value) },
    deadline: Date.now() + timeoutMs,
  };
}

/** The response of a successful invocation, as text (the bootstrap answers plain text or JSON). */
function responseOf(result: InvokeResult): string {
  if (result.outcome !== 'success' || result.response.kind !== 'json') {
    throw new Error(`expected a success, got ${JSON.stringify(result)}`);
  }
  const parsed = JSON.parse(result.response.json) as unknown;
  return typeof parsed === 'string' ? parsed : JSON.stringify(parsed);
}

/** A listing of the rootfs (path, mode, size, mtime) to tell whether anything wrote to it. */
async function snapshot(rootfs: string): Promise<string> {
  const { stdout } = await execFileAsync('find', [rootfs, '-printf', '%P %m %s %T@ %l\n']);
  return stdout.split('\n').sort().join('\n');
}

/** Host-side leftovers of one instance: its cgroup dirs, runtime state entry, instance dir. */
async function leftovers(dataDir: string, instance: SandboxInstance) {
  const mounts = cgroupHost.ok ? cgroupHost.host.mounts : [];
  const cgroups: string[] = [];
  for (const mount of mounts) {
    const names = await readdir(join(mount, 'strato-ctr')).catch(() => [] as string[]);
    cgroups.push(
      ...names.filter((name) => name.endsWith(`-${instance.id}`)).map((name) => join(mount, name)),
    );
  }
  const state = (await readdir(join(dataDir, 'state'))).filter((name) => name.startsWith('strato-'));
  const instanceDirs = await readdir(join(dataDir, 'instances'));
  return { cgroups, state, instanceDirs };
}

/** Runtime API forwarders (socat in their own network namespace) of the sandbox on `dataDir`. */
async function forwardersOf(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(`UNIX-CONNECT:${join(dataDir, 'sockets')}/`)) pids.push(Number(entry));
  }
  return pids;
}

/** Closes the sandbox and checks that it left no forwarder running. */
async function closeAndCheck(sandbox: ContainerSandbox, dataDir: string): Promise<void> {
  sandboxes.splice(sandboxes.indexOf(sandbox), 1);
  await sandbox.close();
  expect(await forwardersOf(dataDir)).toEqual([]);
  expect(await readdir(join(dataDir, 'sockets'))).toEqual([]);
}

/** The container's own cgroup directory in the pids hierarchy (v1), while it runs. */
async function pidsCgroupOf(instance: SandboxInstance): Promise<string | undefined> {
  if (!cgroupHost.ok || cgroupHost.host.layout === 'v2') return undefined;
  const pidsMount = cgroupHost.host.mounts.find((mount) => mount.endsWith('/pids'));
  if (pidsMount === undefined) return undefined;
  const names = await readdir(join(pidsMount, 'strato-ctr'));
  const name = names.find((candidate) => candidate.endsWith(`-${instance.id}`));
  return name === undefined ? undefined : join(pidsMount, 'strato-ctr', name, 'c');
}

describe('ContainerSandbox.create', () => {
  it('finds a working OCI runtime on this host, or says why none works', async () => {
    if (unavailable.crun !== undefined && unavailable.runc !== undefined) {
      const dataDir = await tempDir('strato-ctr-');
      const failure = await ContainerSandbox.create({ dataDir, logger, logLimitBytes: 1024 }).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(StratoError);
      expect((failure as StratoError).message).toMatch(/^container sandbox unavailable: crun: .*; runc: /);
      return;
    }
    const dataDir = await tempDir('strato-ctr-');
    const sandbox = await ContainerSandbox.create({ dataDir, logger, logLimitBytes: 1024 });
    sandboxes.push(sandbox);
    expect(sandbox.tier).toBe('container');
    // crun is preferred where it works.
    expect(sandbox.runtimeInfo.name).toBe(unavailable.crun === undefined ? 'crun' : 'runc');
    expect(sandbox.runtimeInfo.reason).toContain(sandbox.runtimeInfo.cgroupLayout);
    if (sandbox.runtimeInfo.name === 'crun') {
      expect(sandbox.runtimeInfo.hidesUnifiedCgroup).toBe(sandbox.runtimeInfo.cgroupLayout === 'hybrid');
    }
  });
});

describe.each(['crun', 'runc'] as const)('container tier with %s', (runtime) => {
  const itWorks = it.skipIf(unavailable[runtime] !== undefined);

  itWorks(
    'answers invocations through the Runtime API on 127.0.0.1:9001, reusing the container',
    async () => {
      const { sandbox } = await newSandbox(runtime);
      expect(sandbox.runtimeInfo.name).toBe(runtime);
      const rootfs = await buildRootfs(
        'COUNT=$((COUNT+1)); RESPONSE="{\\"event\\":$EVENT,\\"count\\":$COUNT}"',
      );
      const instance = sandbox.startInstance(specOf(rootfs));
      expect(instance.tier).toBe('container');
      const first = await instance.invoke(event({ hello: 'world' }));
      expect(JSON.parse(responseOf(first))).toEqual({ event: { hello: 'world' }, count: 1 });
      expect(first.initDurationMs).toBeGreaterThan(0);
      const second = await instance.invoke(event([1, 2]));
      expect(JSON.parse(responseOf(second))).toEqual({ event: [1, 2], count: 2 });
      expect(second.initDurationMs).toBe(0);
      expect(sandbox.instanceCount).toBe(1);
      await instance.dispose();
      expect(sandbox.instanceCount).toBe(0);
    },
  );

  itWorks('gives the image env, then the function env, under the reserved Lambda env', async () => {
    const { sandbox } = await newSandbox(runtime);
    const rootfs = await buildRootfs('RESPONSE="$(env | sort | tr "\\n" "|")"');
    const instance = sandbox.startInstance(
      specOf(rootfs, {
        memoryMb: 96,
        env: { FROM_FUNCTION: 'yes', PATH: '/bin:/fn', AWS_LAMBDA_RUNTIME_API: '10.0.0.1:1' },
      }),
    );
    const env = new Map(
      responseOf(await instance.invoke(event({})))
        .split('|')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(env.get('FROM_IMAGE')).toBe('1');
    expect(env.get('FROM_FUNCTION')).toBe('yes');
    // A function may set PATH (over the image's, over Lambda's); it may not redirect the Runtime API.
    expect(env.get('PATH')).toBe('/bin:/fn');
    expect(env.get('AWS_LAMBDA_RUNTIME_API')).toBe('127.0.0.1:9001');
    expect(env.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE')).toBe('96');
    expect(env.get('LAMBDA_TASK_ROOT')).toBe('/var/task');
    expect(env.get('_HANDLER')).toBeUndefined();
    expect(env.get('AWS_LAMBDA_FUNCTION_NAME')).toMatch(/^ctr-/);
  });

  itWorks('sets _HANDLER from the image CMD, and runs ENTRYPOINT + CMD from the working dir', async () => {
    const { sandbox } = await newSandbox(runtime);
    const rootfs = await buildRootfs('RESPONSE="$_HANDLER|$0|$ARGS|$(pwd)"');
    const instance = sandbox.startInstance(
      specOf(
        rootfs,
        {},
        { entrypoint: ['/bin/sh', '/bootstrap'], cmd: ['app.handler', 'extra'], workingDir: '/var/task' },
      ),
    );
    expect(responseOf(await instance.invoke(event({})))).toBe(
      'app.handler|/bootstrap|app.handler extra|/var/task',
    );
  });

  itWorks('runs as uid 65534 with no capabilities, no new privileges and no user namespaces', async () => {
    const { sandbox } = await newSandbox(runtime);
    const rootfs = await buildRootfs(
      'RESPONSE="$(id -u):$(id -g)|$(grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\\t\\n" " ")|$(unshare -U true 2>&1; echo " rc=$?")"',
    );
    const instance = sandbox.startInstance(specOf(rootfs, {}, { user: 'root' }));
    const [ids, status, userns] = responseOf(await instance.invoke(event({}))).split('|');
    expect(ids).toBe('65534:65534');
    expect(status).toContain('CapEff: 0000000000000000');
    expect(status).toContain('CapPrm: 0000000000000000');
    expect(status).toContain('CapBnd: 0000000000000000');
    expect(status).toContain('NoNewPrivs: 1');
    // 2 = a seccomp filter is installed.
    expect(status).toContain('Seccomp: 2');
    // The seccomp denylist refuses unshare outright (without it the kernel would allow a user namespace).
    expect(userns).toMatch(/Operation not permitted[\s\S]* rc=1/);
  });

  itWorks('keeps the root read-only and /tmp writable, capped, and private', async () => {
    const { sandbox } = await newSandbox(runtime, 4 << 20);
    const rootfs = await buildRootfs(
      [
        'touch /written 2>/dev/null; ROOT=$?',
        'touch /var/task/written 2>/dev/null; TASK=$?',
        'SEEN=$(cat /tmp/probe 2>/dev/null || echo none)',
        'echo hi > /tmp/probe && TMP=$(cat /tmp/probe)',
        'dd if=/dev/zero of=/tmp/big bs=1048576 count=8 2>/dev/null; BIG=$?',
        'RESPONSE="root=$ROOT task=$TASK seen=$SEEN tmp=$TMP big=$BIG size=$(wc -c < /tmp/big)"',
        'rm -f /tmp/big',
      ].join('\n'),
    );
    const before = await snapshot(rootfs);
    const instance = sandbox.startInstance(specOf(rootfs));
    const answer = responseOf(await instance.invoke(event({})));
    expect(answer).toMatch(/^root=1 task=1 seen=none tmp=hi big=1 size=\s*\d+$/);
    // The same instance keeps its /tmp between invocations, as on Lambda.
    expect(responseOf(await instance.invoke(event({})))).toContain('seen=hi');
    // The 4 MiB tmpfs stopped the 8 MiB write.
    expect(Number(answer.split('size=')[1])).toBeLessThanOrEqual(4 << 20);
    // A second instance of the same image does not see the first one's /tmp.
    const other = sandbox.startInstance(specOf(rootfs));
    await instance.dispose();
    const otherRootfs = responseOf(await other.invoke(event({})));
    expect(otherRootfs).toMatch(/^root=1 task=1 seen=none tmp=hi big=1/);
    await other.dispose();
    expect(await snapshot(rootfs)).toBe(before);
  });

  itWorks('has no network but loopback: host listeners are out of reach', async () => {
    const server = createServer((_request, response) => response.end('reached'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as AddressInfo).port;
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal)?.address;
    const targets = ['127.0.0.1', ...(external === undefined ? [] : [external])];
    const { sandbox } = await newSandbox(runtime);
    const rootfs = await buildRootfs(
      [
        'OUT=""',
        `for host in ${targets.join(' ')}; do`,
        `  if wget -q -O /tmp/got "http://$host:${port}/" 2>/dev/null; then OUT="$OUT $host=$(cat /tmp/got)"; else OUT="$OUT $host=refused"; fi`,
        'done',
        'RESPONSE="$OUT|$(tail -n +3 /proc/net/dev | sed "s/:.*//" | tr -d " " | tr "\\n" " ")"',
      ].join('\n'),
    );
    const instance = sandbox.startInstance(specOf(rootfs));
    const [reached, interfaces] = responseOf(await instance.invoke(event({}))).split('|');
    for (const target of targets) expect(reached).toContain(`${target}=refused`);
    expect(reached).not.toContain('reached');
    expect(interfaces?.trim()).toBe('lo');
  });

  itWorks('reports out_of_memory when the container passes its memory limit', async () => {
    const { sandbox, dataDir } = await newSandbox(runtime);
    // The shell (the container's init) reads 200 MB into a variable: well past 32 MB.
    const rootfs = await buildRootfs(
      'V=$(head -c 209715200 /dev/zero | tr "\\0" x); RESPONSE="survived ${#V}"',
    );
    const instance = sandbox.startInstance(specOf(rootfs, { memoryMb: 32 }));
    const result = await instance.invoke(event({}));
    expect(result.outcome).toBe('out_of_memory');
    expect(result.outcome === 'out_of_memory' && result.error.type).toBe('OutOfMemory');
    expect(instance.dead).toBe(true);
    await instance.dispose();
    expect(await leftovers(dataDir, instance)).toEqual({
      cgroups: [],
      state: [],
      instanceDirs: [],
    });
    await closeAndCheck(sandbox, dataDir);
  });

  itWorks('contains a fork bomb in the pids limit, then fails the instance rather than hanging', async () => {
    const { sandbox, dataDir } = await newSandbox(runtime);
    const rootfs = await buildRootfs(
      [
        'case "$EVENT" in',
        // Bounded first: 300 sleepers, of which the 64-pid limit lets only some start. busybox sh exits when it
        // cannot fork, so the loop runs in a subshell that records how far it got.
        '  *bounded*) ( i=0; while [ $i -lt 300 ]; do sleep 3 & i=$((i+1)); echo $i > /tmp/started; done ) 2>/dev/null; RESPONSE="started $(cat /tmp/started)" ;;',
        '  *) ( bomb() { bomb | bomb & }; bomb ) 2>/dev/null; RESPONSE="bombed" ;;',
        'esac',
      ].join('\n'),
    );
    const instance = sandbox.startInstance(specOf(rootfs));
    const bounded = await instance.invoke(event('bounded'));
    expect(bounded, JSON.stringify(bounded)).toMatchObject({ outcome: 'success' });
    const pidsDir = await pidsCgroupOf(instance);
    if (pidsDir !== undefined) {
      // The kernel refused forks at the limit.
      const events = await readFile(join(pidsDir, 'pids.events'), 'utf8');
      expect(Number(/max (\d+)/.exec(events)?.[1])).toBeGreaterThan(0);
      expect(await readFile(join(pidsDir, 'pids.max'), 'utf8')).toBe('64\n');
    }
    // Only the limit stopped the loop: the sleepers that started stayed below it.
    const started = Number(responseOf(bounded).split(' ')[1]);
    expect(started).toBeLessThan(64);
    // Now unbounded: the container is starved of pids; the invocation ends by its timeout at the latest.
    const bombed = await instance.invoke(event('bomb', 3_000));
    expect(['success', 'timeout', 'crashed']).toContain(bombed.outcome);
    await instance.dispose();
    expect(await leftovers(dataDir, instance)).toEqual({
      cgroups: [],
      state: [],
      instanceDirs: [],
    });
    await closeAndCheck(sandbox, dataDir);
  });

  itWorks('kills a container that passes its timeout; disposal leaves nothing behind', async () => {
    const { sandbox, dataDir } = await newSandbox(runtime);
    const rootfs = await buildRootfs('case "$EVENT" in *slow*) sleep 30 ;; esac; RESPONSE=ok');
    const instance = sandbox.startInstance(specOf(rootfs));
    expect(responseOf(await instance.invoke(event('fast')))).toBe('ok');
    const live = await leftovers(dataDir, instance);
    // While it runs: its cgroup, its state entry and its bundle exist (so the checks below can fail), and
    // forwarders (its own, with a child per connection, and the pool's).
    expect(live.cgroups.length).toBeGreaterThan(0);
    expect(live.state).toEqual([`strato-${instance.id}`]);
    expect(live.instanceDirs).toEqual([instance.id]);
    expect((await forwardersOf(dataDir)).length).toBeGreaterThan(0);
    const result = await instance.invoke(event('slow', 1_000));
    expect(result.outcome).toBe('timeout');
    expect(instance.dead).toBe(true);
    await instance.dispose();
    expect(await leftovers(dataDir, instance)).toEqual({
      cgroups: [],
      state: [],
      instanceDirs: [],
    });
    expect(sandbox.instanceCount).toBe(0);
    await closeAndCheck(sandbox, dataDir);
  });

  itWorks(
    'fails at init with a clear error when the image has nothing to run or a missing entrypoint',
    async () => {
      const { sandbox } = await newSandbox(runtime);
      const rootfs = await buildRootfs('RESPONSE=ok');
      const nothing = await sandbox
        .startInstance(specOf(rootfs, {}, { entrypoint: [], cmd: [] }))
        .invoke(event({}));
      expect(nothing).toMatchObject({
        outcome: 'error',
        phase: 'init',
        error: { type: 'Runtime.InvalidEntrypoint' },
      });
      const missing = await sandbox
        .startInstance(specOf(rootfs, {}, { entrypoint: ['/no-such-binary'] }))
        .invoke(event({}));
      expect(missing.outcome).toBe('crashed');
      expect(missing.outcome === 'crashed' && missing.error).toMatchObject({
        type: 'Runtime.InvalidEntrypoint',
        message: expect.stringContaining('/no-such-binary'),
      });
    },
  );

  itWorks('reports an image that cannot be prepared, and a spec without an image', async () => {
    const { sandbox } = await newSandbox(runtime);
    const rootfs = await buildRootfs('RESPONSE=ok');
    const failing: InstanceSpec = {
      ...specOf(rootfs),
      prepareImage: () => Promise.reject(new StratoError('IMAGE_PULL_FAILED', 'registry said 503')),
    };
    const failingInstance = sandbox.startInstance(failing);
    const pulled = await failingInstance.invoke(event({}));
    expect(pulled).toMatchObject({
      outcome: 'crashed',
      error: { type: 'Image.PullFailed', message: 'registry said 503' },
    });
    const { prepareImage: _, ...withoutImage } = specOf(rootfs);
    const noneInstance = sandbox.startInstance(withoutImage);
    const none = await noneInstance.invoke(event({}));
    expect(none).toMatchObject({ outcome: 'crashed', error: { type: 'Image.Missing' } });
    await Promise.all([failingInstance.dispose(), noneInstance.dispose()]);
    expect(sandbox.instanceCount).toBe(0);
  });

  itWorks('removes containers, forwarders and cgroups an earlier server left behind', async () => {
    const { sandbox, dataDir } = await newSandbox(runtime);
    const rootfs = await buildRootfs('RESPONSE=ok');
    const instance = sandbox.startInstance(specOf(rootfs));
    expect(responseOf(await instance.invoke(event({})))).toBe('ok');
    // A crash: the sandbox is never closed; a new one on the same data dir finds what it left.
    sandboxes.splice(sandboxes.indexOf(sandbox), 1);
    expect((await leftovers(dataDir, instance)).state).toEqual([`strato-${instance.id}`]);
    const oldForwarders = await forwardersOf(dataDir);
    expect(oldForwarders.length).toBeGreaterThan(0);
    const restarted = await ContainerSandbox.create({ dataDir, logger, logLimitBytes: 1024, runtime });
    sandboxes.push(restarted);
    expect(await leftovers(dataDir, instance)).toEqual({
      cgroups: [],
      state: [],
      instanceDirs: [],
    });
    // Only the new sandbox's own idle forwarders remain.
    const nowRunning = await forwardersOf(dataDir);
    expect(oldForwarders.filter((pid) => nowRunning.includes(pid))).toEqual([]);
    // The old instance notices that its container is gone.
    const after = await instance.invoke(event({}, 2_000));
    expect(after.outcome).not.toBe('success');
    await instance.dispose();
    await closeAndCheck(restarted, dataDir);
  });
});

describe.each(['crun', 'runc'] as const)('container images with %s', (runtime) => {
  const itWorks = it.skipIf(unavailable[runtime] !== undefined);

  itWorks(
    'prepares a bare image once (mount points, working dir, a writable /tmp), then never writes it',
    async () => {
      const { sandbox } = await newSandbox(runtime);
      const rootfs = await buildRootfs('echo x > /tmp/x && RESPONSE="$(pwd) $(cat /tmp/x)"');
      for (const dir of ['proc', 'dev', 'sys', 'tmp']) await rm(join(rootfs, dir), { recursive: true });
      // A 0755 /tmp: runc would give the tmpfs over it that mode, unwritable for uid 65534.
      await mkdir(join(rootfs, 'tmp'), { mode: 0o755 });
      const spec = specOf(rootfs, {}, { workingDir: '/srv/app' });
      const first = sandbox.startInstance(spec);
      expect(responseOf(await first.invoke(event({})))).toBe('/srv/app x');
      await first.dispose();
      const prepared = await snapshot(rootfs);
      for (const [path, mode] of [
        ['proc', '555'],
        ['dev', '755'],
        ['sys', '555'],
        ['tmp', '1777'],
        ['srv', '755'],
        ['srv/app', '755'],
      ]) {
        expect(prepared).toMatch(new RegExp(`^${path} ${mode} `, 'm'));
      }
      const second = sandbox.startInstance(spec);
      expect(responseOf(await second.invoke(event({})))).toBe('/srv/app x');
      await second.dispose();
      expect(await snapshot(rootfs)).toBe(prepared);
    },
  );
});
