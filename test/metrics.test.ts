import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformMetrics } from '../src/observe/metrics.js';
import { parseExposition, valueOf, type Sample } from './helpers/prometheus-text.js';
import { deploySource, invokeJson, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  // A short queue wait, so a call over a function's concurrency is refused quickly.
  server = await startTestServer({ maxQueueWait: 50 });
});
afterAll(async () => {
  await server.stop();
});

async function scrape(): Promise<Sample[]> {
  const response = await server.authedFetch(`${server.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

/**
 * Scrapes until `read` reaches `expected` (an invocation is counted when it settles, which may be just after
 * its caller got the response), then asserts the exact value: a counter that overshoots fails.
 */
async function expectMetric(read: (samples: Sample[]) => number, expected: number): Promise<void> {
  const deadline = Date.now() + 3000;
  let value = read(await scrape());
  while (value < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = read(await scrape());
  }
  expect(value).toBe(expected);
}

const invocations =
  (name: string, outcome: string, version = '1') =>
  (samples: Sample[]) =>
    valueOf(samples, 'strato_invocations_total', { function: name, version, outcome, trigger: 'invoke' });

describe('GET /metrics', () => {
  it('counts successes, one cold start, and their durations', async () => {
    const name = uniqueName('metrics-ok');
    await deploySource(server.client, name, `export default async () => ({ ok: true });`);
    const before = await scrape();
    expect(invocations(name, 'success')(before)).toBe(0);
    expect(valueOf(before, 'strato_cold_starts_total', { function: name })).toBe(0);

    for (let i = 0; i < 3; i++) expect((await invokeJson(server.client, name)).status).toBe(200);

    await expectMetric(invocations(name, 'success'), 3);
    const after = await scrape();
    expect(valueOf(after, 'strato_cold_starts_total', { function: name, tier: 'isolate' })).toBe(1);
    expect(
      valueOf(after, 'strato_invocation_duration_seconds_count', { function: name, outcome: 'success' }),
    ).toBe(3);
    const inf = { function: name, outcome: 'success', le: '+Inf' };
    expect(valueOf(after, 'strato_invocation_duration_seconds_bucket', inf)).toBe(3);
    expect(valueOf(after, 'strato_init_duration_seconds_count', { function: name, tier: 'isolate' })).toBe(1);
    expect(valueOf(after, 'strato_init_duration_seconds_sum', { function: name })).toBeGreaterThan(0);
    expect(invocations(name, 'error')(after)).toBe(0);
    expect(valueOf(after, 'strato_throttles_total', { function: name })).toBe(0);
    // The instance is back in its pool after the call.
    expect(valueOf(after, 'strato_instances', { tier: 'isolate', state: 'idle' })).toBeGreaterThan(0);
    expect(valueOf(after, 'strato_instance_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(after, 'strato_instance_memory_budget_bytes')).toBeGreaterThan(0);
  });

  it('counts errors by outcome', async () => {
    const name = uniqueName('metrics-throw');
    await deploySource(server.client, name, `export default async () => { throw new Error('no'); };`);
    for (let i = 0; i < 2; i++) expect((await invokeJson(server.client, name)).status).toBe(500);

    await expectMetric(invocations(name, 'error'), 2);
    const after = await scrape();
    expect(invocations(name, 'success')(after)).toBe(0);
    expect(valueOf(after, 'strato_cold_starts_total', { function: name })).toBe(1);
    expect(
      valueOf(after, 'strato_invocation_duration_seconds_count', { function: name, outcome: 'error' }),
    ).toBe(2);
  });

  it('counts a timeout, and the cold start of the instance that replaced the timed-out one', async () => {
    const name = uniqueName('metrics-spin');
    await deploySource(
      server.client,
      name,
      `export default async (e: { spin: boolean }) => { if (e.spin) for (;;) {} return 'done'; };`,
      { timeout: 200 },
    );
    expect((await invokeJson(server.client, name, { spin: true })).status).toBe(504);
    await expectMetric(invocations(name, 'timeout'), 1);
    const afterTimeout = await scrape();
    expect(valueOf(afterTimeout, 'strato_cold_starts_total', { function: name })).toBe(1);
    const timeoutDuration = { function: name, outcome: 'timeout' };
    expect(valueOf(afterTimeout, 'strato_invocation_duration_seconds_count', timeoutDuration)).toBe(1);
    expect(valueOf(afterTimeout, 'strato_invocation_duration_seconds_sum', timeoutDuration)).toBeGreaterThan(
      0.15,
    );

    // A timed-out instance is discarded: the next call starts a new one.
    expect((await invokeJson(server.client, name, { spin: false })).status).toBe(200);
    await expectMetric(invocations(name, 'success'), 1);
    const after = await scrape();
    expect(valueOf(after, 'strato_cold_starts_total', { function: name })).toBe(2);
    expect(invocations(name, 'timeout')(after)).toBe(1);
  });

  it('counts calls refused over the concurrency as throttles, not invocations', async () => {
    const name = uniqueName('metrics-busy');
    await deploySource(
      server.client,
      name,
      `export default async () => { await new Promise((r) => setTimeout(r, 500)); return 'slow'; };`,
      { maxConcurrency: 1 },
    );
    const statuses = await Promise.all(
      [0, 1, 2].map(async () => (await invokeJson(server.client, name)).status),
    );
    expect(statuses.sort()).toEqual([200, 429, 429]);

    await expectMetric(invocations(name, 'success'), 1);
    const after = await scrape();
    expect(valueOf(after, 'strato_throttles_total', { function: name, reason: 'concurrency' })).toBe(2);
    expect(valueOf(after, 'strato_throttles_total', { function: name, reason: 'rate' })).toBe(0);
    expect(valueOf(after, 'strato_cold_starts_total', { function: name })).toBe(1);
  });

  it('counts calls refused by the rate limit as throttles', async () => {
    const name = uniqueName('metrics-rate');
    await deploySource(server.client, name, `export default async () => 'ok';`);
    const patched = await server.authedFetch(`${server.url}/v1/functions/${name}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rateLimit: { rate: 1, burst: 1 } }),
    });
    expect(patched.status, await patched.text()).toBe(200);

    // One token: the first call runs (version 2, the one the PATCH published), the next two are refused.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await invokeJson(server.client, name)).status);
    expect(statuses).toEqual([200, 429, 429]);

    await expectMetric(invocations(name, 'success', '2'), 1);
    const after = await scrape();
    expect(valueOf(after, 'strato_throttles_total', { function: name, reason: 'rate' })).toBe(2);
    expect(valueOf(after, 'strato_throttles_total', { function: name, reason: 'concurrency' })).toBe(0);
    expect(invocations(name, 'success', '1')(after)).toBe(0);
  });

  it('counts async invocations and a dead-lettered one in the DLQ gauges', async () => {
    const name = uniqueName('metrics-async');
    await deploySource(server.client, name, `export default async () => { throw new Error('no'); };`, {
      asyncRetries: 0,
    });
    const before = await scrape();
    const deadBefore = valueOf(before, 'strato_dlq_size');
    expect(valueOf(before, 'strato_async_queue_depth', { state: 'dead' })).toBe(deadBefore);

    await server.client.invokeAsync(name, '{}');
    await expectMetric((samples) => valueOf(samples, 'strato_dlq_size'), deadBefore + 1);
    const after = await scrape();
    expect(valueOf(after, 'strato_async_queue_depth', { state: 'dead' })).toBe(deadBefore + 1);
    const asyncErrors = { function: name, version: '1', outcome: 'error', trigger: 'async' };
    expect(valueOf(after, 'strato_invocations_total', asyncErrors)).toBe(1);
    expect(valueOf(after, 'strato_async_queue_depth', { state: 'ready' })).toBe(0);
    expect(valueOf(after, 'strato_async_queue_oldest_age_seconds')).toBe(0);
  });

  it('reports the async queue, the DLQ and the process metrics', async () => {
    const samples = await scrape();
    const names = new Set(samples.map((sample) => sample.name));
    for (const state of ['ready', 'delayed', 'running', 'dead']) {
      expect(samples.some((s) => s.name === 'strato_async_queue_depth' && s.labels.state === state)).toBe(
        true,
      );
    }
    expect(names).toContain('strato_async_queue_oldest_age_seconds');
    expect(names).toContain('strato_dlq_size');
    expect(names).toContain('strato_process_cpu_user_seconds_total');
    expect(names).toContain('strato_nodejs_heap_size_used_bytes');
  });
});

describe('health endpoints', () => {
  it('answers liveness and readiness (store and queue)', async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});

describe('PlatformMetrics', () => {
  const sources = {
    instances: () => [
      { tier: 'isolate', state: 'idle' },
      { tier: 'isolate', state: 'idle' },
      { tier: 'process', state: 'busy' },
    ],
    memoryUsedMb: () => 4,
    memoryBudgetMb: () => 1024,
    queueDepth: () => Promise.reject(new Error('queue closed')),
  };

  it('keeps one registry per server, sharing the process metrics', async () => {
    const first = new PlatformMetrics(sources);
    const second = new PlatformMetrics(sources);
    first.throttle('f', 'rate');
    const [a, b] = await Promise.all([first.scrape(), second.scrape()]);
    const firstSamples = parseExposition(a.body);
    const secondSamples = parseExposition(b.body);
    expect(valueOf(firstSamples, 'strato_throttles_total', { function: 'f' })).toBe(1);
    expect(valueOf(secondSamples, 'strato_throttles_total', { function: 'f' })).toBe(0);
    expect(secondSamples.some((s) => s.name === 'strato_process_cpu_user_seconds_total')).toBe(true);
    expect(valueOf(firstSamples, 'strato_instances', { tier: 'isolate', state: 'idle' })).toBe(2);
    expect(valueOf(firstSamples, 'strato_instances', { tier: 'process', state: 'busy' })).toBe(1);
    expect(valueOf(firstSamples, 'strato_instances', { tier: 'isolate', state: 'busy' })).toBe(0);
    expect(valueOf(firstSamples, 'strato_instance_memory_bytes')).toBe(4 * 1024 * 1024);
    // A queue that cannot be read leaves its gauges out; the rest of the scrape still answers.
    expect(firstSamples.some((s) => s.name === 'strato_async_queue_depth')).toBe(false);
  });
});

describe('metrics: false', () => {
  it('serves no /metrics route and still invokes', async () => {
    const bare = await startTestServer({ metrics: false });
    try {
      const name = uniqueName('bare');
      await bare.client.deploy(name, { code: 'module.exports = async () => ({ ok: true });' });
      expect((await bare.client.invoke(name, '{}')).status).toBe(200);
      const scrape = await bare.authedFetch(`${bare.url}/metrics`);
      expect(scrape.status).toBe(404);
      expect(((await scrape.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND');
    } finally {
      await bare.stop();
    }
  });
});
