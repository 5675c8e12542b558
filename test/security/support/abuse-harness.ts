import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvokeResponse } from '../../../src/client/strato-client.js';
import { uniqueName, type TestServer } from '../../helpers/server.js';

/** One abuser: what it does, how to deploy it, and the outcome the docs promise for it. */
export interface AbuseCase {
  id: string;
  /** Deploys the abusing function as `name`. */
  deploy(server: TestServer, name: string): Promise<void>;
  expectedStatus: number;
  /** The error code of the outcome (`INVOCATION_TIMEOUT`, `OUT_OF_MEMORY`, ...); null for a 200. */
  expectedCode: string | null;
  /** A limited abuser answers 200 with what stopped it; this checks that body. */
  expectedBody?: RegExp;
  /**
   * `apart`: the abuser must not share the neighbour's isolate host process (see the corpus' `nameFor`).
   * @default together, when the tier has such a notion
   */
  placement?: 'apart';
  /** More checks once it ran (log flood: the logs were cut). */
  after?(server: TestServer, name: string, response: InvokeResponse): Promise<void>;
}

export interface AbuseCorpus {
  tier: string;
  /** Why the tier cannot run here; the corpus is skipped with this reason. */
  unavailable: string | undefined;
  startServer(): Promise<TestServer>;
  /** Deploys the neighbour: a trivial function of the same tier whose latency is measured. */
  deployNeighbour(server: TestServer, name: string): Promise<void>;
  cases: AbuseCase[];
  /** Names the neighbour and each abuser (placing them on hosts); @default uniqueName(prefix) */
  nameFor?: (role: 'neighbour' | 'abuser', prefix: string, placement: 'together' | 'apart') => string;
}

interface LatencyRow {
  tier: string;
  abuse: string;
  outcome: string;
  samples: number;
  'p50 ms': number;
  'p99 ms': number;
  'p99 / baseline': number;
}

const BASELINE_SAMPLES = 60;
const MIN_SAMPLES_DURING = 30;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * Runs each abuser once while a neighbour function of the same tier is invoked back to back, and asserts
 * containment only: the abuser gets its documented outcome, the neighbour keeps answering 200, the
 * server's /healthz stays up. The neighbour's p50/p99 before and during each abuse are printed as a table
 * (docs/security.md quotes a run); no latency is asserted, since shared machines are noisy.
 */
export function describeAbuseCorpus(corpus: AbuseCorpus): void {
  const title = `${corpus.tier} tier: resource abuse is contained`;
  describe.skipIf(corpus.unavailable !== undefined)(
    corpus.unavailable === undefined ? title : `${title} (skipped: ${corpus.unavailable})`,
    () => {
      let server: TestServer;
      let neighbour: string;
      const rows: LatencyRow[] = [];
      let baselineP99 = Number.NaN;

      /** Invokes the neighbour back to back until `until` settles (and at least `minimum` times). */
      async function sampleNeighbour(
        until: Promise<unknown> | undefined,
        minimum: number,
      ): Promise<number[]> {
        let settled = until === undefined;
        void until?.finally(() => (settled = true)).catch(() => undefined);
        const latencies: number[] = [];
        while (!settled || latencies.length < minimum) {
          const startedAt = performance.now();
          const response = await server.client.invoke(neighbour, '{}');
          latencies.push(performance.now() - startedAt);
          expect(response.status, response.body).toBe(200);
        }
        return latencies.sort((a, b) => a - b);
      }

      function record(abuse: string, outcome: string, latencies: number[]): void {
        const p99 = percentile(latencies, 99);
        rows.push({
          tier: corpus.tier,
          abuse,
          outcome,
          samples: latencies.length,
          'p50 ms': round(percentile(latencies, 50)),
          'p99 ms': round(p99),
          'p99 / baseline': Number.isNaN(baselineP99) ? 1 : round(p99 / baselineP99),
        });
      }

      beforeAll(async () => {
        server = await corpus.startServer();
        const nameFor = corpus.nameFor ?? ((_role, prefix) => uniqueName(prefix));
        neighbour = nameFor('neighbour', `abuse-neighbour-${corpus.tier}`, 'together');
        await corpus.deployNeighbour(server, neighbour);
        const baseline = await sampleNeighbour(undefined, BASELINE_SAMPLES);
        baselineP99 = percentile(baseline, 99);
        record('(none: baseline)', '-', baseline);
      }, 120_000);

      afterAll(async () => {
        if (rows.length > 0) console.table(rows);
        await server?.stop();
      });

      it.each(corpus.cases.map((abuse) => [abuse.id, abuse] as const))(
        '%s',
        async (_id, abuse) => {
          const nameFor = corpus.nameFor ?? ((_role, prefix) => uniqueName(prefix));
          const name = nameFor('abuser', `abuse-${abuse.id}`.slice(0, 40), abuse.placement ?? 'together');
          await abuse.deploy(server, name);
          const attack = server.client.invoke(name, '{}');
          const latencies = await sampleNeighbour(attack, MIN_SAMPLES_DURING);
          const response = await attack;
          const code = response.status === 200 ? null : errorCode(response.body);
          record(abuse.id, code ?? `200 ${response.body.slice(0, 40)}`, latencies);
          expect({ status: response.status, code }, response.body.slice(0, 300)).toEqual({
            status: abuse.expectedStatus,
            code: abuse.expectedCode,
          });
          if (abuse.expectedBody !== undefined) expect(response.body).toMatch(abuse.expectedBody);
          await abuse.after?.(server, name, response);
          expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
        },
        90_000,
      );
    },
  );
}

function errorCode(body: string): string | null {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? null;
  } catch {
    return null;
  }
}

/** A log flood: the abuser prints far more than `logLimitBytes` and answers "flooded"; its logs are cut. */
export function logFloodCase(deploy: AbuseCase['deploy'], logLimitBytes: number): AbuseCase {
  return {
    id: 'log-flood',
    deploy,
    expectedStatus: 200,
    expectedCode: null,
    expectedBody: /flooded/,
    after: async (server, name) => {
      const logs = await logTextOf(server, name);
      expect(logs).toContain('[strato] log output truncated');
      expect(logs.length).toBeLessThan(2 * logLimitBytes);
    },
  };
}

/** The function's stored log text (every line of its invocations), once the recorder has written some. */
export async function logTextOf(server: TestServer, name: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const response = await server.authedFetch(`${server.url}/v1/functions/${name}/logs?limit=1000`);
    const { logs } = (await response.json()) as { logs: Array<{ message: string }> };
    // Records are written off the request path: the first read may come before them.
    if (logs.length > 0 || attempt === 50) return logs.map((line) => line.message).join('\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
