import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent } from '../src/core/trace-context.js';
import {
  deploySource,
  startTestServer,
  uniqueName,
  waitForInvocations,
  type TestServer,
} from './helpers/server.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

/** Echoes what its context says about the trace. */
const ECHO_CONTEXT = `export const handler = async (_event: unknown, context: { traceId?: string; traceparent?: string }) => ({
  traceId: context.traceId,
  traceparent: context.traceparent,
});`;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ asyncRetryBaseDelay: 20 });
});
afterAll(async () => {
  await server.stop();
});

function invoke(name: string, headers: Record<string, string>, path = `/v1/functions/${name}/invoke`) {
  return server.authedFetch(`${server.url}${path}`, { method: 'POST', headers, body: '{}' });
}

describe('trace context on invoke', () => {
  it('continues the caller trace: context, response traceparent and record agree', async () => {
    const name = uniqueName('trace-sync');
    await deploySource(server.client, name, ECHO_CONTEXT);
    const response = await invoke(name, { traceparent: TRACEPARENT, tracestate: 'vendor=1' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { traceId: string; traceparent: string };
    const returned = parseTraceparent(response.headers.get('traceparent') ?? undefined);
    expect(returned?.traceId).toBe(TRACE_ID);
    // The response names the invocation's own span, a child of the caller's.
    expect(returned?.parentId).not.toBe(CALLER_SPAN);
    expect(returned?.flags).toBe(1);
    expect(body.traceId).toBe(TRACE_ID);
    expect(body.traceparent).toBe(response.headers.get('traceparent'));
    const [record] = await waitForInvocations(server.client, name, 1);
    expect(record?.traceId).toBe(TRACE_ID);
    expect(record?.spanId).toBe(returned?.parentId);
  });

  it('starts a new trace for an invalid or absent traceparent, without failing the request', async () => {
    const name = uniqueName('trace-new');
    await deploySource(server.client, name, ECHO_CONTEXT);
    const invalid = await invoke(name, { traceparent: `00-${'0'.repeat(32)}-${CALLER_SPAN}-01` });
    const absent = await invoke(name, {});
    expect([invalid.status, absent.status]).toEqual([200, 200]);
    const ids = [invalid, absent].map((r) => parseTraceparent(r.headers.get('traceparent') ?? undefined));
    expect(ids[0]?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ids[1]?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ids[0]?.traceId).not.toBe(ids[1]?.traceId);
    expect(((await invalid.json()) as { traceId: string }).traceId).toBe(ids[0]?.traceId);
    const records = await waitForInvocations(server.client, name, 2);
    expect(new Set(records.map((r) => r.traceId))).toEqual(new Set(ids.map((id) => id?.traceId)));
  });

  it('hands the trace to a fetch handler behind the HTTP trigger', async () => {
    const name = uniqueName('trace-fn');
    await deploySource(
      server.client,
      name,
      `export default { fetch: (_r: Request, _env: unknown, ctx: { traceId: string; traceparent: string }) =>
        Response.json({ traceId: ctx.traceId, traceparent: ctx.traceparent }) };`,
    );
    const response = await invoke(name, { traceparent: TRACEPARENT }, `/fn/${name}/x`);
    const body = (await response.json()) as { traceId: string; traceparent: string };
    expect(body.traceId).toBe(TRACE_ID);
    expect(body.traceparent).toBe(response.headers.get('traceparent'));
    expect((await waitForInvocations(server.client, name, 1))[0]?.traceId).toBe(TRACE_ID);
  });

  it('keeps an async invocation and its retries in the trace that queued it', async () => {
    const name = uniqueName('trace-async');
    // Fails its first attempt, so the retry must land in the same trace.
    await deploySource(
      server.client,
      name,
      `let runs = 0;
       export const handler = async () => { if (++runs === 1) throw new Error('first attempt fails'); return 'ok'; };`,
    );
    const response = await invoke(name, { traceparent: TRACEPARENT, prefer: 'respond-async' });
    expect(response.status).toBe(202);
    expect(response.headers.get('traceparent')).toBe(TRACEPARENT);
    const records = await waitForInvocations(server.client, name, 2);
    expect(records.map((r) => r.outcome).sort()).toEqual(['error', 'success']);
    for (const record of records) expect(record.traceId).toBe(TRACE_ID);
    expect(records[0]?.spanId).not.toBe(records[1]?.spanId);
  });

  it('starts one trace at acceptance for an async invocation sent without one', async () => {
    const name = uniqueName('trace-async-new');
    await deploySource(server.client, name, ECHO_CONTEXT);
    const response = await invoke(name, { prefer: 'respond-async' });
    const accepted = parseTraceparent(response.headers.get('traceparent') ?? undefined);
    expect(accepted).toBeDefined();
    expect((await waitForInvocations(server.client, name, 1))[0]?.traceId).toBe(accepted?.traceId);
  });
});
