/**
 * Where a process-tier cold start's time goes, measured in-process on a ProcessSandbox (no HTTP, no store):
 *   node --import tsx bench/process-phases.ts   (BENCH_PROCESS_COLD_SAMPLES, default 30)
 * Phases, from the tier's debug log 'process instance started': code (extraction into the code cache),
 * launch (pooled: assignment written; fresh: endpoint + cgroup + unshare spawned), first poll (the runtime's
 * start until it asks for an invocation); then the first invocation itself, and the whole start+invoke.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { extractZip } from '../src/build/zip-archive.js';
import { DEFAULT_FUNCTION_CONFIG } from '../src/core/function.js';
import type { InstanceSpec } from '../src/core/sandbox.js';
import { ProcessSandbox } from '../src/sandbox/process/process-sandbox.js';
import { percentile } from './http-load.js';
import { processDeployBody, type ProcessRuntimeKind } from './process-tier.js';

const SAMPLES = Number(process.env['BENCH_PROCESS_COLD_SAMPLES'] ?? 30);

interface Phases {
  codeMs: number;
  launchMs: number;
  firstPollMs: number;
  pooled: boolean;
}

async function measure(kind: ProcessRuntimeKind, poolSize: number): Promise<string[]> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'strato-phases-'));
  const phases: Phases[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const entry = JSON.parse(chunk.toString()) as Phases & { msg: string };
      if (entry.msg === 'process instance started') phases.push(entry);
      done();
    },
  });
  const sandbox = await ProcessSandbox.create({
    dataDir,
    logger: pino({ level: 'debug' }, sink),
    logLimitBytes: 64 * 1024,
    extractZip: (zip, target) => extractZip(zip, target),
    poolSize,
  });
  const invokeMs: number[] = [];
  const totalMs: number[] = [];
  try {
    for (let i = 0; i < SAMPLES; i++) {
      // As in bench/run.ts: the previous sample's refill finishes before the next cold start.
      await new Promise((resolve) => setTimeout(resolve, i === 0 ? 1_500 : 150));
      const body = (await processDeployBody(kind, `sample ${i}`)) as {
        zipFile: string;
        runtime: string;
        handler?: string;
      };
      const zip = Buffer.from(body.zipFile, 'base64');
      const spec: InstanceSpec = {
        functionName: `phases-${kind}`,
        version: i + 1,
        codeSha256: createHash('sha256').update(zip).digest('hex'),
        loadCode: () => Promise.reject(new Error('the process tier loads zips')),
        loadArtifact: () => Promise.resolve(zip),
        config: DEFAULT_FUNCTION_CONFIG,
        runtime: body.runtime,
        ...(body.handler === undefined ? {} : { handler: body.handler }),
      };
      const startedAt = performance.now();
      const instance = sandbox.startInstance(spec);
      const result = await instance.invoke({
        invocationId: randomUUID(),
        payload: { kind: 'event', eventJson: '{"name":"bench"}' },
        deadline: Date.now() + 10_000,
      });
      totalMs.push(performance.now() - startedAt);
      if (result.outcome !== 'success') throw new Error(`${kind}: ${JSON.stringify(result)}`);
      invokeMs.push(result.durationMs);
      await instance.dispose();
    }
  } finally {
    await sandbox.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const p50 = (values: number[]) => percentile(values, 50).toFixed(1);
  return [
    `${kind}, ${poolSize === 0 ? 'no pool' : `pool ${poolSize}`}`,
    `${phases.filter((phase) => phase.pooled).length}/${phases.length}`,
    p50(phases.map((phase) => phase.codeMs)),
    p50(phases.map((phase) => phase.launchMs)),
    p50(phases.map((phase) => phase.firstPollMs)),
    p50(invokeMs),
    p50(totalMs),
  ];
}

const header = ['runtime', 'pooled', 'code', 'launch', 'first poll', 'invoke', 'total'];
const rows: string[][] = [];
for (const kind of ['bash', 'python', 'node'] as const) {
  for (const poolSize of [2, 0]) rows.push(await measure(kind, poolSize));
}
console.log(`\np50 ms per phase, n=${SAMPLES} per row, ${os.cpus().length} cores, node ${process.version}\n`);
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => ' --- ').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
