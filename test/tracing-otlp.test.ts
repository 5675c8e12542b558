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
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number; message?: string };
}

/** An OTLP/HTTP JSON collector on port 0 that keeps every span it is sent. */
async function startCollector(): Promise<{
  url: string;
  spans: OtlpSpan[];
  requests: string[];
  close(): Promise<void>;
}> {
  const spans: OtlpSpan[] = [];
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const resource of body.resourceSpans)
        for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The exporter's agent keeps its connection alive; do not wait out its idle timeout.
        server.closeAllConnections();
      }),
  };
}

function attributes(span: OtlpSpan | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of span?.attributes ?? []) out[key] = Object.values(value)[0];
  return out;
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
        headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
        body,
      });
    const ok = await call('{}');
    const failed = await call('{"fail":true}');
    expect([ok.status, failed.status]).toEqual([200, 500]);
    // Stopping flushes the batch (its export delay is longer than this test waits for anything).
    await server.stop();
    stopped = true;

    expect(collector.requests[0]).toMatch(/^POST \/v1\/traces application\/json/);
    expect(collector.spans).toHaveLength(2);
    const okSpanId = ok.headers.get('traceparent')?.slice(36, 52);
    const okSpan = collector.spans.find((span) => span.spanId === okSpanId);
    expect(okSpan).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN, name, kind: 2 });
    expect(okSpan?.status?.code ?? 0).toBe(0);
    expect(attributes(okSpan)).toMatchObject({
      'faas.name': name,
      'faas.version': '1',
      'faas.coldstart': true,
      'strato.outcome': 'success',
      'strato.trigger': 'invoke',
    });
    const failedSpan = collector.spans.find((span) => span.spanId !== okSpanId);
    expect(failedSpan).toMatchObject({ traceId: TRACE_ID, parentSpanId: CALLER_SPAN });
    expect(failedSpan?.status).toMatchObject({ code: 2, message: 'asked to fail' });
    expect(attributes(failedSpan)).toMatchObject({ 'faas.coldstart': false, 'strato.outcome': 'error' });
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
