/**
 * Isolate cold starts, end to end over HTTP, in four server configurations (stem cells on/off × V8 code
 * cache on/off), against a raw node:http baseline measured in the same run. Two kinds of cold start:
 *   new version: deploy, then the first invoke (resolves the new version, loads the bundle from the
 *     store, sends it to the host, compiles it from source: a new bundle has no code cache yet);
 *   new instance of a known version: one instance is held busy (so the host keeps the bundle and its
 *     code cache), the keep-alive is 100 ms, and each sample waits until the previous new instance was
 *     reaped, then invokes: the scheduler starts a new instance of a version it already runs (a cold
 *     start after idleness, as after a scale to zero);
 *   scale-out: every instance of a known version is busy (each sample's instance is held busy by the
 *     next request before the next sample), so each sample starts one more instance while the server is
 *     active: a cold start as a function under load grows, with no idle pause before it.
 * Beside the raw node:http baseline it measures the floor of any isolate cold start on this machine
 * (bench/isolate-floor-server.ts: one process serving HTTP and running isolated-vm itself, with ready stem
 * cells; no API key, store, scheduler, IPC or guest runtime), warm and from a stem cell, back to back and
 * after the same idle pause.
 * Writes docs/isolate-cold-start.svg (CDFs, log-scale ms). Run `npm run build` first.
 *   BENCH_ISOLATE_COLD_SAMPLES (default 200) samples per kind and configuration
 *   BENCH_ISOLATE_COLD_CONFIGS (default 4) how many of the configurations to run, in order (1: only the
 *     default one, stem cells + code cache, which the targets are about)
 */
import { AUTHORIZATION } from './bench-key.js';
import { writeFileSync } from 'node:fs';
import type http from 'node:http';
import { cdfChartSvg, type CdfSeries } from './svg-cdf.js';
import {
  deploy,
  fmt,
  get,
  machine,
  newAgent,
  percentile,
  post,
  sleep,
  sleepyFunction,
  startRawNode,
  startStrato,
  table,
  type BenchServer,
} from './isolate-kit.js';
import { startListening, stopChild } from './child-server.js';

const SAMPLES = Number(process.env['BENCH_ISOLATE_COLD_SAMPLES'] ?? 200);
const KEEP_ALIVE = '100ms';
/** About how long a new-instance sample waits for the previous instance to be reaped. */
const IDLE_PAUSE_MS = 100;
const BODY = '{"name":"bench"}';

interface Config {
  label: string;
  stemCells: number;
  codeCache: boolean;
}

const CONFIGS: Config[] = [
  { label: 'stem cells + code cache', stemCells: 2, codeCache: true },
  { label: 'stem cells, no code cache', stemCells: 2, codeCache: false },
  { label: 'no stem cells, code cache', stemCells: 0, codeCache: true },
  { label: 'no stem cells, no code cache', stemCells: 0, codeCache: false },
].slice(0, Number(process.env['BENCH_ISOLATE_COLD_CONFIGS'] ?? 4));

interface Samples {
  endToEnd: number[];
  init: number[];
}

async function initDurations(server: BenchServer, name: string): Promise<number[]> {
  await sleep(400); // records are written in batches every 100 ms
  const response = await fetch(`${server.url}/v1/functions/${name}/invocations?limit=1000`, {
    headers: { authorization: AUTHORIZATION },
  });
  if (!response.ok) throw new Error(`invocations of ${name}: ${response.status} ${await response.text()}`);
  const { invocations } = (await response.json()) as {
    invocations: Array<{ cold: boolean; initDurationMs: number }>;
  };
  return invocations.filter((record) => record.cold).map((record) => record.initDurationMs);
}

async function newVersionColdStarts(server: BenchServer): Promise<Samples> {
  const endToEnd: number[] = [];
  const invokeUrl = `${server.url}/v1/functions/newver/invoke`;
  for (let i = 0; i < SAMPLES + 5; i++) {
    await deploy(server.url, 'newver', { code: sleepyFunction(`version ${i}`) });
    const response = await post(invokeUrl, BODY);
    if (response.status !== 200 || !response.cold)
      throw new Error(`new-version invoke: ${response.status} cold=${response.cold} ${response.body}`);
    if (i >= 5) endToEnd.push(response.ms); // the first few warm up the gateway's code paths
  }
  return { endToEnd, init: (await initDurations(server, 'newver')).slice(0, SAMPLES) };
}

/**
 * Cold starts of `invokeUrl`, one after another: `setUp(i)` readies sample i so that its invoke has to start
 * an instance (a warm answer is skipped and counted); the first 5 warm up the gateway's code paths.
 */
async function coldStartSeries(
  label: string,
  invokeUrl: string,
  setUp: (i: number) => Promise<void>,
  attempts = Infinity,
): Promise<number[]> {
  const endToEnd: number[] = [];
  let misses = 0;
  for (let i = 0; endToEnd.length < SAMPLES && i < attempts; i++) {
    await setUp(i);
    const response = await post(invokeUrl, BODY);
    if (response.status !== 200) throw new Error(`${label} invoke: ${response.status} ${response.body}`);
    if (!response.cold) misses++;
    else if (i >= 5) endToEnd.push(response.ms);
  }
  if (misses > 0) console.error(`${label}: ${misses} invokes were warm (skipped)`);
  return endToEnd;
}

/** The instances `/v1/functions/:name/instances` lists. */
async function listInstances(instancesUrl: string, agent: http.Agent): Promise<Array<{ state: string }>> {
  const { body } = await get(instancesUrl, agent);
  return (JSON.parse(body) as { instances: Array<{ state: string }> }).instances;
}

async function knownVersionColdStarts(server: BenchServer): Promise<Samples> {
  await deploy(server.url, 'scale', { code: sleepyFunction('scale'), concurrency: 64, timeout: '15m' });
  const invokeUrl = `${server.url}/v1/functions/scale/invoke`;
  const instancesUrl = `${server.url}/v1/functions/scale/instances`;
  // Held busy for the whole run: the bundle and its code cache stay on the host.
  const holder = post(invokeUrl, '{"sleepMs":600000}', newAgent()).catch(() => undefined);
  const pollAgent = newAgent();
  const endToEnd = await coldStartSeries('known-version', invokeUrl, async () => {
    // Only the held one left (its state reads 'starting' while leased): the last sample's was reaped.
    while ((await listInstances(instancesUrl, pollAgent)).length !== 1) await sleep(10);
  });
  const init = (await initDurations(server, 'scale')).slice(0, SAMPLES);
  void holder;
  return { endToEnd, init };
}

async function scaleOutColdStarts(server: BenchServer): Promise<Samples> {
  // Every sample's instance ends up held busy, so the function needs room for all of them.
  const instances = SAMPLES + 10;
  await deploy(server.url, 'scaleout', {
    code: sleepyFunction('scaleout'),
    concurrency: instances,
    memoryMb: 16,
    timeout: '15m',
  });
  const invokeUrl = `${server.url}/v1/functions/scaleout/invoke`;
  const instancesUrl = `${server.url}/v1/functions/scaleout/instances`;
  const pollAgent = newAgent();
  const holders: Array<Promise<unknown>> = [];
  const endToEnd = await coldStartSeries(
    'scale-out',
    invokeUrl,
    async (i) => {
      // Hold the idle instance (the previous sample's; at first, a new one) busy, then wait until the
      // scheduler shows no idle instance: the next invoke must start a new one. A cold-started instance
      // reads 'starting' while its first lease lasts.
      holders.push(post(invokeUrl, '{"sleepMs":600000}', newAgent()).catch(() => undefined));
      for (;;) {
        const list = await listInstances(instancesUrl, pollAgent);
        if (list.length === i + 1 && list.every((instance) => instance.state !== 'idle')) return;
      }
    },
    instances,
  );
  const init = (await initDurations(server, 'scaleout')).slice(0, SAMPLES);
  void holders;
  return { endToEnd, init };
}

/** The floor server's rows: warm and stem-cell cold, back to back and after an idle pause. */
async function floorLatencies(): Promise<Array<{ label: string; values: number[] }>> {
  const floor = await startListening(
    ['--no-node-snapshot', '--import', 'tsx', 'bench/isolate-floor-server.ts'],
    { FLOOR_STEM_CELLS: String(2 * SAMPLES + 20) },
  );
  try {
    const series = async (path: string, pauseMs: number, warmUp: number): Promise<number[]> => {
      const latencies: number[] = [];
      for (let i = 0; i < warmUp + SAMPLES; i++) {
        if (pauseMs > 0) await sleep(pauseMs);
        const response = await post(`${floor.url}${path}`, BODY);
        if (response.status !== 200) throw new Error(`floor ${path}: ${response.status} ${response.body}`);
        if (i >= warmUp) latencies.push(response.ms);
      }
      return latencies;
    };
    const floorLabel = 'floor: one-process isolate server';
    return [
      { label: `${floorLabel}, warm`, values: await series('/warm', 0, 1000) },
      {
        label: `${floorLabel}, warm, after ${IDLE_PAUSE_MS} ms idle`,
        values: await series('/warm', IDLE_PAUSE_MS, 5),
      },
      { label: `${floorLabel}, stem-cell cold start`, values: await series('/cold', 0, 5) },
      {
        label: `${floorLabel}, stem-cell cold start, after ${IDLE_PAUSE_MS} ms idle`,
        values: await series('/cold', IDLE_PAUSE_MS, 5),
      },
    ];
  } finally {
    await stopChild(floor.child);
  }
}

/** Back to back, and after an idle pause as long as a cold-start sample's (processes asleep, caches cold). */
async function warmLatencies(server: BenchServer): Promise<{ hot: number[]; afterIdle: number[] }> {
  await deploy(server.url, 'warm', { code: sleepyFunction('warm') });
  const url = `${server.url}/v1/functions/warm/invoke`;
  const hot: number[] = [];
  for (let i = 0; i < 1000 + SAMPLES * 5; i++) {
    const response = await post(url, BODY);
    if (i >= 1000) hot.push(response.ms);
  }
  return { hot, afterIdle: await afterIdleLatencies(url) };
}

async function afterIdleLatencies(url: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    await sleep(IDLE_PAUSE_MS);
    latencies.push((await post(url, BODY)).ms);
  }
  return latencies;
}

async function main(): Promise<void> {
  const raw = await startRawNode();
  const rawLatencies: number[] = [];
  const rows: string[][] = [];
  const series: CdfSeries[] = [];
  try {
    for (let i = 0; i < 2000 + SAMPLES * 5; i++) {
      const response = await post(raw.url, BODY);
      if (i >= 2000) rawLatencies.push(response.ms);
    }
    const rawP50 = percentile(rawLatencies, 50);
    rows.push([
      'raw node:http "ok" (baseline)',
      '',
      fmt(rawP50, 3),
      fmt(percentile(rawLatencies, 99), 3),
      '',
    ]);
    series.push({ label: 'raw node:http "ok" (baseline)', values: rawLatencies, dashed: true });
    const rawAfterIdle = await afterIdleLatencies(raw.url);
    rows.push([
      `raw node:http "ok", after ${IDLE_PAUSE_MS} ms idle`,
      String(SAMPLES),
      fmt(percentile(rawAfterIdle, 50), 3),
      fmt(percentile(rawAfterIdle, 99), 3),
      '',
    ]);
    for (const floor of await floorLatencies()) {
      rows.push([
        floor.label,
        String(floor.values.length),
        fmt(percentile(floor.values, 50), 3),
        fmt(percentile(floor.values, 99), 3),
        '',
      ]);
      // The chart keeps the one floor the cold starts are judged against (the table has all four).
      if (floor.label.endsWith(`cold start, after ${IDLE_PAUSE_MS} ms idle`))
        series.push({ label: floor.label, values: floor.values, dashed: true });
    }
    for (const [index, config] of CONFIGS.entries()) {
      const server = await startStrato({
        STRATO_ISOLATE_STEM_CELLS: String(config.stemCells),
        STRATO_ISOLATE_CODE_CACHE: String(config.codeCache),
        STRATO_KEEP_ALIVE: KEEP_ALIVE,
      });
      try {
        if (index === 0) {
          const warm = await warmLatencies(server);
          rows.push([
            'strato warm invoke',
            '',
            fmt(percentile(warm.hot, 50), 3),
            fmt(percentile(warm.hot, 99), 3),
            '',
          ]);
          rows.push([
            `strato warm invoke, after ${IDLE_PAUSE_MS} ms idle`,
            String(SAMPLES),
            fmt(percentile(warm.afterIdle, 50), 3),
            fmt(percentile(warm.afterIdle, 99), 3),
            '',
          ]);
          series.push({ label: 'strato warm invoke', values: warm.hot, dashed: true });
          series.push({
            label: `strato warm invoke, after ${IDLE_PAUSE_MS} ms idle`,
            values: warm.afterIdle,
            dashed: true,
          });
        }
        const newVersion = await newVersionColdStarts(server);
        const knownVersion = await knownVersionColdStarts(server);
        const scaleOut = await scaleOutColdStarts(server);
        for (const [kind, samples] of [
          ['new version', newVersion],
          ['new instance after idle', knownVersion],
          ['scale-out (all busy)', scaleOut],
        ] as const) {
          rows.push([
            `${kind}, ${config.label}`,
            String(samples.endToEnd.length),
            fmt(percentile(samples.endToEnd, 50), 3),
            fmt(percentile(samples.endToEnd, 99), 3),
            `${fmt(percentile(samples.init, 50), 3)} / ${fmt(percentile(samples.init, 99), 3)}`,
          ]);
          // Scale-out only for the first configuration: the chart stays readable with four of them.
          if (index === 0 || kind !== 'scale-out (all busy)')
            series.push({ label: `${kind}, ${config.label}`, values: samples.endToEnd });
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    await stopChild(raw.child);
  }
  console.log(`\n${machine()}, isolate cold starts end to end over HTTP (one keep-alive connection)\n`);
  console.log(table(['what', 'n', 'p50 ms', 'p99 ms', 'server-side init p50 / p99 ms'], rows));
  writeFileSync(
    'docs/isolate-cold-start.svg',
    cdfChartSvg({
      title: 'Isolate cold start, end to end over HTTP (CDF)',
      subtitle: `${machine()}, n=${SAMPLES} per line; process tier not included (its bench writes no data file)`,
      series,
    }),
  );
  console.log('\nwrote docs/isolate-cold-start.svg');
}

await main();
