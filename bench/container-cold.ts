/**
 * Container-tier cold starts and warm throughput, measured in-process on a ContainerSandbox (no HTTP, no store),
 * the image already prepared (a busybox rootfs whose /bootstrap is a Runtime API loop in sh):
 *   node --import tsx bench/container-cold.ts   (BENCH_CONTAINER_COLD_SAMPLES, default 30)
 * Rows: each OCI runtime that works here; baselines from the same run: a bare `<runtime> run` of busybox `true`
 * (through the same wrapper, so the runtime's own floor), and the process tier's cold start of the same
 * bootstrap as a `provided.al2023` zip. Phases (p50) from the tier's debug log 'container instance started':
 * setup (endpoint, bundle and forwarder at once; the forwarder alone in brackets), first poll (runtime run until
 * the bootstrap asks for an invocation); then the first invocation, the whole start+invoke, and the disposal.
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { extractZip } from '../src/build/zip-archive.js';
import { DEFAULT_FUNCTION_CONFIG } from '../src/core/function.js';
import type { InstanceSpec } from '../src/core/sandbox.js';
import { ContainerSandbox } from '../src/sandbox/container/container-sandbox.js';
import { ContainerCgroup, detectCgroupHost } from '../src/sandbox/container/container-cgroup.js';
import { MountNamespaceHolder } from '../src/sandbox/container/mount-namespace.js';
import { buildOciSpec } from '../src/sandbox/container/oci-spec.js';
import { detectOciRuntime, OciRuntime, type OciRuntimeName } from '../src/sandbox/container/oci-runtime.js';
import { ProcessSandbox } from '../src/sandbox/process/process-sandbox.js';
import { zipOf } from '../test/helpers/zip.js';
import { percentile } from './http-load.js';

const execFileAsync = promisify(execFile);
const SAMPLES = Number(process.env['BENCH_CONTAINER_COLD_SAMPLES'] ?? 30);
const WARM_MS = 3_000;

/** The same runtime loop in both tiers: only `busybox` applets, and shell builtins between the two wgets. */
const bootstrap = `#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  busybox wget -S -q -O /tmp/event "$API/next" 2>/tmp/headers
  while read -r name value; do
    case "$name" in [Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d:) ID=$value ;; esac
  done < /tmp/headers
  read -r EVENT < /tmp/event
  busybox wget -q -O /dev/null --post-data "{\\"echo\\":$EVENT}" "$API/$ID/response"
done
`;

interface Phases {
  msg: string;
  setupMs: number;
  forwarderMs: number;
  firstPollMs: number;
}

async function buildRootfs(dir: string): Promise<string> {
  const rootfs = path.join(dir, 'rootfs');
  for (const sub of ['bin', 'proc', 'dev', 'sys', 'tmp'])
    await mkdir(path.join(rootfs, sub), { recursive: true });
  await chmod(path.join(rootfs, 'tmp'), 0o1777);
  await copyFile('/usr/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  await chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
  await symlink('busybox', path.join(rootfs, 'bin', 'sh'));
  await writeFile(path.join(rootfs, 'bootstrap'), bootstrap, { mode: 0o755 });
  return rootfs;
}

function imageSpec(rootfsDir: string, i: number): InstanceSpec {
  return {
    functionName: 'bench-container',
    version: i + 1,
    codeSha256: '0'.repeat(64),
    loadCode: () => Promise.reject(new Error('images only')),
    config: {
      ...DEFAULT_FUNCTION_CONFIG,
      image: { reference: 'archive', manifestDigest: `sha256:${'0'.repeat(64)}` },
    },
    prepareImage: () =>
      Promise.resolve({
        rootfsDir,
        config: { entrypoint: ['/bootstrap'], cmd: [], env: ['PATH=/bin'], workingDir: '/', user: '' },
        manifestDigest: `sha256:${'0'.repeat(64)}`,
      }),
  };
}

const event = () => ({
  invocationId: randomUUID(),
  payload: { kind: 'event' as const, eventJson: '{"name":"bench"}' },
  deadline: Date.now() + 10_000,
});

const fmt = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '-');
const p50 = (values: number[]) => fmt(percentile(values, 50));
const p99 = (values: number[]) => fmt(percentile(values, 99));

async function measureContainer(runtime: OciRuntimeName, rootfs: string): Promise<string[] | string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'strato-ctr-bench-'));
  const phases: Phases[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const entry = JSON.parse(chunk.toString()) as Phases;
      if (entry.msg === 'container instance started') phases.push(entry);
      done();
    },
  });
  let sandbox: ContainerSandbox;
  try {
    sandbox = await ContainerSandbox.create({
      dataDir,
      logger: pino({ level: 'debug' }, sink),
      logLimitBytes: 64 * 1024,
      runtime,
    });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    return (error as Error).message;
  }
  const totalMs: number[] = [];
  const invokeMs: number[] = [];
  const disposeMs: number[] = [];
  let warmPerSecond = 0;
  try {
    for (let i = 0; i < SAMPLES + 1; i++) {
      const startedAt = performance.now();
      const instance = sandbox.startInstance(imageSpec(rootfs, i));
      const result = await instance.invoke(event());
      const total = performance.now() - startedAt;
      if (result.outcome !== 'success') throw new Error(`${runtime}: ${JSON.stringify(result)}`);
      const disposeAt = performance.now();
      await instance.dispose();
      // The first sample warms the page cache and the JIT; it is not counted.
      if (i === 0) {
        phases.length = 0;
        continue;
      }
      totalMs.push(total);
      invokeMs.push(result.durationMs);
      disposeMs.push(performance.now() - disposeAt);
    }
    const instance = sandbox.startInstance(imageSpec(rootfs, SAMPLES + 1));
    await instance.invoke(event());
    let count = 0;
    const warmStart = performance.now();
    while (performance.now() - warmStart < WARM_MS) {
      const result = await instance.invoke(event());
      if (result.outcome !== 'success') throw new Error(`${runtime} warm: ${JSON.stringify(result)}`);
      count++;
    }
    warmPerSecond = count / ((performance.now() - warmStart) / 1000);
    await instance.dispose();
  } finally {
    await sandbox.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const info = sandbox.runtimeInfo;
  return [
    `container, ${info.name}${info.hidesUnifiedCgroup ? ' (private mount ns)' : ''}`,
    `${p50(phases.map((phase) => phase.setupMs))} (${p50(phases.map((phase) => phase.forwarderMs))})`,
    p50(phases.map((phase) => phase.firstPollMs)),
    p50(invokeMs),
    p50(totalMs),
    p99(totalMs),
    p50(disposeMs),
    warmPerSecond.toFixed(0),
  ];
}

/** The runtime's floor: `run` of busybox `true` from the same rootfs, through the tier's own wrapper. */
async function measureBareRuntime(runtime: OciRuntimeName, rootfs: string): Promise<string[] | undefined> {
  const cgroups = await detectCgroupHost();
  if (!cgroups.ok) return undefined;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'strato-ctr-bare-'));
  try {
    const detection = await detectOciRuntime(cgroups.host, dir, runtime);
    if (!detection.ok) return undefined;
    const oci = new OciRuntime(detection.choice, detection.info, path.join(dir, 'state'));
    // The tier's own path to the runtime: the held mount namespace where crun must not see cgroup2.
    const holder =
      detection.choice.hideUnified === undefined
        ? undefined
        : await MountNamespaceHolder.start(detection.choice.hideUnified);
    if (holder !== undefined) oci.useMountNamespace(holder);
    await mkdir(oci.stateDir, { recursive: true });
    const totalMs: number[] = [];
    for (let i = 0; i < SAMPLES + 1; i++) {
      const cgroup = new ContainerCgroup(cgroups.host, `/strato-ctr/bench-bare-${process.pid}-${i}`);
      const built = buildOciSpec({
        rootfsDir: rootfs,
        image: { entrypoint: [], cmd: [], env: [], workingDir: '/', user: '' },
        args: ['/bin/busybox', 'true'],
        lambdaEnv: {},
        functionEnv: {},
        memoryBytes: 128 << 20,
        tmpSizeBytes: 1 << 20,
        cgroupsPath: cgroup.containerPath,
        netnsPath: undefined,
        cgroupNamespace: cgroups.host.cgroupNamespace,
      });
      if (built.kind !== 'ok') throw new Error(built.error.message);
      const bundle = path.join(dir, `bundle-${i}`);
      await mkdir(bundle);
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(built.spec));
      const { file, args } = oci.command(['run', '--bundle', bundle, `bare-${i}`]);
      const startedAt = performance.now();
      await execFileAsync(file, args, { env: {} });
      if (i > 0) totalMs.push(performance.now() - startedAt);
      await cgroup.remove();
    }
    holder?.stop();
    return [`bare \`${runtime} run\` busybox true`, '-', '-', '-', p50(totalMs), p99(totalMs), '-', '-'];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The process tier's cold start of the same bootstrap, as a provided.al2023 zip (no pool). */
async function measureProcessTier(): Promise<string[] | string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'strato-ctr-bench-ps-'));
  let sandbox: ProcessSandbox;
  try {
    sandbox = await ProcessSandbox.create({
      dataDir,
      logger: pino({ level: 'silent' }),
      logLimitBytes: 64 * 1024,
      extractZip: (zip, target) => extractZip(zip, target),
    });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    return (error as Error).message;
  }
  const totalMs: number[] = [];
  try {
    for (let i = 0; i < SAMPLES + 1; i++) {
      // A new zip per sample, as a new version would be; extraction is part of the tier's cold start.
      const zip = await zipOf({ bootstrap: `${bootstrap}# ${i}\n` });
      const spec: InstanceSpec = {
        functionName: 'bench-process',
        version: i + 1,
        codeSha256: createHash('sha256').update(zip).digest('hex'),
        loadCode: () => Promise.reject(new Error('zips only')),
        loadArtifact: () => Promise.resolve(zip),
        config: DEFAULT_FUNCTION_CONFIG,
        runtime: 'provided.al2023',
      };
      const startedAt = performance.now();
      const instance = sandbox.startInstance(spec);
      const result = await instance.invoke(event());
      const total = performance.now() - startedAt;
      if (result.outcome !== 'success') throw new Error(`process tier: ${JSON.stringify(result)}`);
      await instance.dispose();
      if (i > 0) totalMs.push(total);
    }
  } finally {
    await sandbox.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return ['process tier, provided.al2023 (no pool)', '-', '-', '-', p50(totalMs), p99(totalMs), '-', '-'];
}

const scratch = await mkdtemp(path.join(os.tmpdir(), 'strato-ctr-bench-rootfs-'));
try {
  const rootfs = await buildRootfs(scratch);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const runtime of ['crun', 'runc'] as const) {
    const row = await measureContainer(runtime, rootfs);
    if (typeof row === 'string') notes.push(`${runtime}: ${row}`);
    else rows.push(row);
    const bare = await measureBareRuntime(runtime, rootfs);
    if (bare !== undefined) rows.push(bare);
  }
  const processRow = await measureProcessTier();
  if (typeof processRow === 'string') notes.push(`process tier: ${processRow}`);
  else rows.push(processRow);
  const header = [
    '',
    'setup (forwarder)',
    'first poll',
    'invoke',
    'cold p50',
    'cold p99',
    'dispose',
    'warm inv/s',
  ];
  console.log(
    `\nms, n=${SAMPLES} cold starts per row (image prepared), warm: one instance for ${WARM_MS / 1000} s; ` +
      `${os.cpus().length} cores, node ${process.version}\n`,
  );
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => ' --- ').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  for (const note of notes) console.log(`\n${note}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
