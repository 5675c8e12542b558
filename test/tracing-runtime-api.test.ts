import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent, toXRayTraceHeader } from '../src/core/trace-context.js';
import { detectConfinement } from '../src/sandbox/process/index.js';
import { startTestServer, uniqueName, type TestServer } from './helpers/server.js';
import { zipOf } from './helpers/zip.js';

const support = await detectConfinement();
const TRACE_ID = '5759e988bd862e3fe1be46a994272793';
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('trace context in the Runtime API tiers', () => {
  it.runIf(support.ok)(
    'gives a Lambda-style Node handler the span as _X_AMZN_TRACE_ID (X-Ray) and TRACEPARENT (W3C)',
    async () => {
      const name = uniqueName('trace-node');
      const zip = await zipOf({
        'index.js': `exports.handler = async () => ({ xray: process.env._X_AMZN_TRACE_ID, w3c: process.env.TRACEPARENT });`,
      });
      const deployed = await fetch(`${server.url}/v1/functions/${name}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          zipFile: zip.toString('base64'),
          runtime: 'nodejs20.x',
          handler: 'index.handler',
        }),
      });
      expect(deployed.status, await deployed.clone().text()).toBe(201);
      const response = await fetch(`${server.url}/v1/functions/${name}/invoke`, {
        method: 'POST',
        headers: { traceparent: `00-${TRACE_ID}-53995c3f42cd8ad8-01` },
        body: '{}',
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { xray: string; w3c: string };
      const span = parseTraceparent(response.headers.get('traceparent') ?? undefined);
      expect(span?.traceId).toBe(TRACE_ID);
      expect(body.w3c).toBe(response.headers.get('traceparent'));
      expect(body.xray).toBe(`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=${span?.parentId};Sampled=1`);
      expect(body.xray).toBe(toXRayTraceHeader({ traceId: TRACE_ID, spanId: span!.parentId, flags: 1 }));
    },
  );
});
