import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deploySource, startTestServer, uniqueName, type TestServer } from './helpers/server.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  flags?: number;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number; message?: string };
}

interface OtlpKeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** What a collector needs of a span's place: its resource's attributes and its scope's name. */
interface OtlpOrigin {
  resource: Record<string, unknown>;
  scope: string | undefined;
}

/** An OTLP/HTTP JSON collector on port 0 that keeps every span it is sent (or answers `status`). */
async function startCollector(status = 200): Promise<{
  url: string;
  spans: OtlpSpan[];
  origins: OtlpOrigin[];
  requests: string[];
  close(): Promise<void>;
}> {
  const spans: OtlpSpan[] = [];
  const origins: OtlpOrigin[] = [];
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
      // Parsed strictly as JSON: a malformed document fails the test here.
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{
          resource?: { attributes: OtlpKeyValue[] };
          scopeSpans: Array<{ scope?: { name: string }; spans: OtlpSpan[] }>;
        }>;
      };
      for (const resource of body.resourceSpans)
        for (const scope of resource.scopeSpans) {
          origins.push({
            resource: keyValues(resource.resource?.attributes),
            scope: scope.scope?.name,
          });
          spans.push(...scope.spans);
        }
      response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    origins,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The exporter's agent keeps its connection alive; do not wait out its idle timeout.
        server.closeAllConnections();
      }),
  };
}

function keyValues(list: OtlpKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) out[key] = Object.values(value)[0];
  return out;
}

const attributes = (span: OtlpSpan | undefined) => keyValues(span?.attributes);

/** Epoch nanoseconds, as OTLP/JSON writes its fixed64 times: a decimal string. */
function nanos(text: string | undefined): bigint {
  expect(text).toMatch(/^[1-9][0-9]{18}$/);
  return BigInt(text!);
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('OpenTelemetry export', () => {
  it('exports one SERVER span per invocation, child of the caller, flushed when the server stops', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    // JSON is the default encoding.
    const server: TestServer = await startTestServer({ otlpEndpoint: collector.url });
    let stopped = false;
    cleanups.push(() => (stopped ? Promise.resolve() : server.stop()));
    const name = uniqueName('otlp');
    await deploySource(
      server.client,
      name,
      `export const handler = async (event: { fail?: boolean }) => { if (event.fail) throw new Error('asked to fail'); return 1; };`,
    );
    const call = (body: string) =>
      server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
        method: 'POST',
        headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: 'vendor=1' },
        body,
      });
    const before = BigInt(Date.now() - 1) * 1_000_000n;
    const ok = await call('{}');
    const failed = await call('{"fail":true}');
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    expect([ok.status, failed.status]).toEqual([200, 500]);
    // Stopping flushes the batch (its export delay is longer than this test waits for anything).
    await server.stop();
    stopped = true;

    expect(collector.requests[0]).toMatch(/^POST \/v1\/traces application\/json/);
    expect(collector.spans).toHaveLength(2);
    const okSpanId = ok.headers.get('traceparent')?.slice(36, 52);
    const okSpan = collector.spans.find((span) => span.spanId === okSpanId);
    expect(okSpan).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN, name, kind: 2 });
    expect(okSpan?.traceState).toBe('vendor=1');
    // Sampled (0x01), with a parent known to be remote (0x100 | 0x200).
    expect(okSpan?.flags).toBe(0x301);
    expect(okSpan?.status?.code ?? 0).toBe(0);
    // Times: epoch nanoseconds inside the calls' window, the end not before the start.
    const start = nanos(okSpan?.startTimeUnixNano);
    const end = nanos(okSpan?.endTimeUnixNano);
    expect(start >= before && end <= after && end >= start).toBe(true);
    expect(collector.origins[0]).toEqual({ resource: { 'service.name': 'strato' }, scope: 'strato' });
    expect(attributes(okSpan)).toMatchObject({
      'faas.name': name,
      'faas.version': '1',
      'faas.coldstart': true,
      'strato.outcome': 'success',
      'strato.trigger': 'invoke',
    });
    const failedSpan = collector.spans.find((span) => span.spanId !== okSpanId);
    expect(failedSpan).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN, name });
    expect(failedSpan?.spanId).toBe(failed.headers.get('traceparent')?.slice(36, 52));
    expect(failedSpan?.status).toMatchObject({ code: 2, message: 'asked to fail' });
    expect(attributes(failedSpan)).toMatchObject({ 'faas.coldstart': false, 'strato.outcome': 'error' });
  });

  it('samples parent-based: a new trace by otlpSampleRatio, a caller trace by its sampled flag', async () => {
    const collector = await startCollector();
    cleanups.push(() => collector.close());
    const ratioOne = await startTestServer({ otlpEndpoint: collector.url });
    const ratioZero = await startTestServer({ otlpEndpoint: collector.url, otlpSampleRatio: 0 });
    const name = uniqueName('otlp-sample');
    for (const server of [ratioOne, ratioZero])
      await deploySource(server.client, name, 'export default async () => 1;');
    const call = (server: TestServer, flags?: string) =>
      server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
        method: 'POST',
        headers: flags === undefined ? {} : { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-${flags}` },
        body: '{}',
      });
    const root = await call(ratioOne);
    const notSampled = await call(ratioOne, '00');
    const unsampledRoot = await call(ratioZero);
    const sampledCaller = await call(ratioZero, '01');
    await ratioOne.stop();
    await ratioZero.stop();
    const spanIdOf = (response: Response) => response.headers.get('traceparent')!.slice(36, 52);
    expect(collector.spans.map((span) => span.spanId).sort()).toEqual(
      [spanIdOf(root), spanIdOf(sampledCaller)].sort(),
    );
    const rootSpan = collector.spans.find((span) => span.spanId === spanIdOf(root));
    // A root span: a new trace id, no parent, parent not remote (0x100 only).
    expect(rootSpan?.traceId).toBe(root.headers.get('traceparent')!.slice(3, 35));
    expect(rootSpan?.traceId).not.toBe(TRACE_ID);
    expect(rootSpan?.parentSpanId).toBeUndefined();
    expect(rootSpan?.flags).toBe(0x101);
    // What is not exported is not claimed as sampled downstream either.
    expect(notSampled.headers.get('traceparent')).toMatch(/-00$/);
    expect(unsampledRoot.headers.get('traceparent')).toMatch(/-00$/);
    expect(sampledCaller.headers.get('traceparent')).toMatch(/-01$/);
  });

  it('counts the spans a failing collector did not take, and the invocation does not notice', async () => {
    const collector = await startCollector(400);
    cleanups.push(() => collector.close());
    const server = await startTestServer({ otlpEndpoint: collector.url });
    cleanups.push(() => server.stop());
    const name = uniqueName('otlp-down');
    await deploySource(server.client, name, 'export default async () => 1;');
    const invoked = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
      method: 'POST',
      body: '{}',
    });
    expect(invoked.status).toBe(200);
    // The batch goes on the export timer (1 s); a 400 is final (not retried), so its span is dropped.
    await expect
      .poll(
        async () =>
          (await (await server.authedFetch(`${server.url}/metrics`)).text()).match(
            /^strato_trace_spans_dropped_total\{reason="export_failed"\} (\d+)$/m,
          )?.[1],
        {
          timeout: 5000,
          interval: 200,
        },
      )
      .toBe('1');
    expect(collector.spans).toHaveLength(1);
  });

  it("exports protobuf when asked (OTLP's own default encoding), with the invocation's ids in the message", async () => {
    const bodies: Array<{ type: string | undefined; body: Buffer }> = [];
    const collector: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        bodies.push({ type: request.headers['content-type'], body: Buffer.concat(chunks) });
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    const server = await startTestServer({
      otlpEndpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      otlpProtocol: 'http/protobuf',
    });
    const name = uniqueName('otlp-proto');
    await deploySource(server.client, name, 'export default async () => 1;');
    const invoked = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
      method: 'POST',
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
      body: '{}',
    });
    expect(invoked.status).toBe(200);
    const spanId = invoked.headers.get('traceparent')!.slice(36, 52);
    await server.stop();
    const all = Buffer.concat(bodies.map((entry) => entry.body));
    expect(bodies[0]?.type).toBe('application/x-protobuf');
    // Raw bytes of the ids, as protobuf carries them (trace_id 16 bytes, span_id and parent 8 bytes).
    expect(all.includes(Buffer.from(TRACE_ID, 'hex'))).toBe(true);
    expect(all.includes(Buffer.from(spanId, 'hex'))).toBe(true);
    expect(all.includes(Buffer.from(CALLER_SPAN, 'hex'))).toBe(true);
    expect(all.includes(Buffer.from(name))).toBe(true);
  });
});
