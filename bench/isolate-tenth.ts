/**
 * The tenth instance of a function with a ~200 KB bundle against its first: instances 1..10 are started
 * one after another while all earlier ones are held busy (so each invoke starts a new instance of the
 * same version on the same host), with the V8 code cache on and off. Reports the server-side init time
 * (the invocation record's initDurationMs) and the end-to-end time of the 1st, 2nd and 10th instance,
 * medians over a few rounds (a new function each round). Run `npm run build` first.
 *   BENCH_TENTH_ROUNDS (default 7)
 */
import { AUTHORIZATION } from './bench-key.js';
import {
  deploy,
  fmt,
  machine,
  newAgent,
  percentile,
  post,
  sleep,
  startStrato,
  table,
  type BenchServer,
} from './isolate-kit.js';

const ROUNDS = Number(process.env['BENCH_TENTH_ROUNDS'] ?? 7);
const INSTANCES = 10;

/**
 * A deterministic ~200 KB CommonJS bundle shaped like esbuild output: 100 lazily required modules of 16
 * functions with string tables each; the handler requires them all at module load and calls one.
 */
export function bigBundle(salt: string): string {
  const modules: string[] = [];
  for (let m = 0; m < 100; m++) {
    const functions: string[] = [];
    for (let f = 0; f < 16; f++) {
      functions.push(
        `  function fn${f}(input) { const label = "module ${m} function ${f}: lorem ipsum"; return label.length + input * ${f + 1}; }`,
      );
    }
    modules.push(
      `var require_m${m} = __commonJS((exports) => {\n${functions.join('\n')}\n  exports.run = (x) => fn${m % 16}(x);\n  exports.names = [${Array.from({ length: 16 }, (_, f) => `"fn${f}"`).join(', ')}];\n});`,
    );
  }
  return `// ${salt}
var __commonJS = (cb, mod) => () => (mod || cb((mod = { exports: {} }).exports, mod), mod.exports);
${modules.join('\n')}
var all = [${Array.from({ length: 100 }, (_, m) => `require_m${m}()`).join(', ')}];
exports.handler = async (event) => {
  if (event && event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return { message: 'Hello, bench!', total: all.reduce((sum, mod) => sum + mod.run(1), 0) };
};
`;
}

interface Round {
  init: number[];
  endToEnd: number[];
}

async function initOf(server: BenchServer, invocationId: string): Promise<number> {
  for (;;) {
    const response = await fetch(`${server.url}/v1/invocations/${invocationId}`, {
      headers: { authorization: AUTHORIZATION },
    });
    if (response.ok) {
      const { invocation } = (await response.json()) as { invocation: { initDurationMs: number } };
      return invocation.initDurationMs;
    }
    await sleep(100); // not recorded yet (records are written in batches)
  }
}

async function round(server: BenchServer, name: string): Promise<Round> {
  await deploy(server.url, name, { code: bigBundle(name), concurrency: INSTANCES + 1, timeout: '5m' });
  const url = `${server.url}/v1/functions/${name}/invoke`;
  const ids: string[] = [];
  const endToEnd: number[] = [];
  const holders: Array<Promise<unknown>> = [];
  for (let k = 0; k < INSTANCES; k++) {
    const response = await post(url, '{}');
    if (response.status !== 200 || !response.cold || response.invocationId === undefined)
      throw new Error(`instance ${k + 1}: ${response.status} cold=${response.cold} ${response.body}`);
    endToEnd.push(response.ms);
    ids.push(response.invocationId);
    // Hold the instance just made (the only idle one) so the next invoke needs a new one.
    holders.push(post(url, '{"sleepMs":1500}', newAgent()));
    await sleep(20);
  }
  await Promise.all(holders);
  const init: number[] = [];
  for (const id of ids) init.push(await initOf(server, id));
  return { init, endToEnd };
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const bundleKb = Buffer.byteLength(bigBundle('x')) / 1024;
  for (const codeCache of [true, false]) {
    const server = await startStrato({ STRATO_ISOLATE_CODE_CACHE: String(codeCache) });
    try {
      const rounds: Round[] = [];
      for (let r = 0; r < ROUNDS + 1; r++) {
        const result = await round(server, `tenth-${r}`);
        if (r > 0) rounds.push(result); // the first round warms up the gateway
      }
      const median = (pick: (round: Round) => number) => percentile(rounds.map(pick), 50);
      for (const [what, pick] of [
        ['server-side init', (round: Round) => round.init],
        ['end to end', (round: Round) => round.endToEnd],
      ] as const) {
        const first = median((round) => pick(round)[0]!);
        const second = median((round) => pick(round)[1]!);
        const tenth = median((round) => pick(round)[INSTANCES - 1]!);
        rows.push([
          `${what}, code cache ${codeCache ? 'on' : 'off'}`,
          fmt(first, 3),
          fmt(second, 3),
          fmt(tenth, 3),
          `${fmt(first / tenth, 1)}x`,
        ]);
      }
    } finally {
      await server.stop();
    }
  }
  console.log(
    `\n${machine()}, a ${fmt(bundleKb, 0)} KB bundle, instances started one at a time while the earlier ones are busy, medians of ${ROUNDS} rounds\n`,
  );
  console.log(table(['what (ms)', '1st instance', '2nd', '10th', '1st / 10th'], rows));
}

await main();
