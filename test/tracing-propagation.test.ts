import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent } from '../src/core/trace-context.js';
import {
  deploySource,
  startTestServer,
  uniqueName,
  waitForInvocations,
  type TestServer,
} from './helpers/server.js';

const TRACE_ID = 'a3ce929d0e0e47364bf92f3577b34da6';
const CALLER_SPAN = '0ba902b700f067aa';

/** Calls Strato's async invoke of `event.child` and the sink, both over the guest's fetch. */
const CALLER = `export const handler = async (
  event: { strato: string; key: string; child: string; sink: string; ownTraceparent?: string },
  context: { traceId: string; traceparent: string },
) => {
  const queued = await fetch(event.strato + '/v1/functions/' + event.child + '/invoke', {
    method: 'POST',
    headers: { prefer: 'respond-async', 'content-type': 'application/json', authorization: 'Bearer ' + event.key },
    body: '{}',
  });
  const sunk = await fetch(event.sink, event.ownTraceparent ? { headers: { traceparent: event.ownTraceparent } } : {});
  return { traceId: context.traceId, traceparent: context.traceparent, queued: queued.status, sunk: await sunk.text() };
};`;

let server: TestServer;
let sink: Server;
let sinkUrl: string;
const sunk: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  // Loopback is blocked for functions unless the operator opens it: the sink and Strato itself live there.
  server = await startTestServer({ egressAllowedNetworks: ['127.0.0.1/32'] });
  sink = createServer((request, response) => {
    sunk.push(request.headers);
    response.end('sunk');
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await server.stop();
  sink.closeAllConnections();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
});

describe('trace propagation through a function', () => {
  it('carries the caller trace onto outbound fetch calls and into the async child they cause', async () => {
    const caller = uniqueName('trace-parent');
    const child = uniqueName('trace-child');
    await deploySource(server.client, caller, CALLER, { egress: ['127.0.0.1'] });
    await deploySource(server.client, child, `export default async () => 'child ran';`);
    const before = sunk.length;
    const response = await server.authedFetch(`${server.url}/v1/functions/${caller}/invoke`, {
      method: 'POST',
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
      body: JSON.stringify({ strato: server.url, key: server.apiKey, child, sink: sinkUrl }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      traceId: string;
      traceparent: string;
      queued: number;
      sunk: string;
    };
    expect(body).toMatchObject({ traceId: TRACE_ID, queued: 202, sunk: 'sunk' });

    // The sink saw the trace, with a span id of the outbound call's own (a child of the invocation's span).
    const outbound = parseTraceparent(sunk[before]?.traceparent);
    expect(outbound?.traceId).toBe(TRACE_ID);
    const invocationSpan = parseTraceparent(body.traceparent)?.parentId;
    expect(outbound?.parentId).not.toBe(invocationSpan);
    expect(outbound?.parentId).not.toBe(CALLER_SPAN);

    const [callerRecord] = await waitForInvocations(server.client, caller, 1);
    const [childRecord] = await waitForInvocations(server.client, child, 1);
    expect(callerRecord?.traceId).toBe(TRACE_ID);
    expect(callerRecord?.spanId).toBe(invocationSpan);
    expect(childRecord).toMatchObject({ traceId: TRACE_ID, trigger: 'async', outcome: 'success' });
  });

  it('leaves a traceparent the function set itself alone', async () => {
    const caller = uniqueName('trace-own');
    const child = uniqueName('trace-own-child');
    await deploySource(server.client, caller, CALLER, { egress: ['127.0.0.1'] });
    await deploySource(server.client, child, `export default async () => null;`);
    const own = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`;
    const before = sunk.length;
    const response = await server.authedFetch(`${server.url}/v1/functions/${caller}/invoke`, {
      method: 'POST',
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` },
      body: JSON.stringify({
        strato: server.url,
        key: server.apiKey,
        child,
        sink: sinkUrl,
        ownTraceparent: own,
      }),
    });
    expect(response.status).toBe(200);
    expect(sunk[before]?.traceparent).toBe(own);
  });
});
