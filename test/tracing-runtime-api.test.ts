import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent, toXRayTraceHeader } from '../src/core/trace-context.js';
import { detectConfinement } from '../src/sandbox/process/index.js';
import {
  deploySource,
  startTestServer,
  uniqueName,
  waitForInvocations,
  type TestServer,
} from './helpers/server.js';
import { deployNodeZip } from './helpers/zip.js';

const support = await detectConfinement();
const TRACE_ID = '5759e988bd862e3fe1be46a994272793';
const credentials = { accessKeyId: 'STRATOTRACEKEY000001', secretAccessKey: 'strato-trace-secret-key-01' };
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ lambdaCredentials: [credentials] });
});
afterAll(async () => {
  await server.stop();
});

describe('trace context in the Runtime API tiers', () => {
  it.runIf(support.ok)(
    'gives a Lambda-style Node handler the span as _X_AMZN_TRACE_ID (X-Ray) and TRACEPARENT (W3C)',
    async () => {
      const name = uniqueName('trace-node');
      const deployed = await deployNodeZip(server, name, {
        'index.js': `exports.handler = async () => ({ xray: process.env._X_AMZN_TRACE_ID, w3c: process.env.TRACEPARENT });`,
      });
      expect(deployed.status, await deployed.clone().text()).toBe(201);
      const response = await server.authedFetch(`${server.url}/v1/functions/${name}/invoke`, {
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

  it('continues an X-Ray trace the AWS SDK sends from inside a Lambda function, sync and Event', async () => {
    const name = uniqueName('trace-sdk');
    await deploySource(server.client, name, `export default async () => 'ok';`);
    const lambda = new LambdaClient({
      endpoint: server.url,
      region: 'eu-central-1',
      credentials,
      maxAttempts: 1,
    });
    // The SDK's recursion detection sends X-Amzn-Trace-Id from _X_AMZN_TRACE_ID inside a Lambda function.
    const parentSpan = 'a2b3c4d5e6f70819';
    process.env['AWS_LAMBDA_FUNCTION_NAME'] = 'caller';
    process.env['_X_AMZN_TRACE_ID'] = toXRayTraceHeader({ traceId: TRACE_ID, spanId: parentSpan, flags: 1 });
    try {
      const payload = new TextEncoder().encode('{}');
      const sync = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: payload }));
      expect(sync.StatusCode).toBe(200);
      const queued = await lambda.send(
        new InvokeCommand({ FunctionName: name, Payload: payload, InvocationType: 'Event' }),
      );
      expect(queued.StatusCode).toBe(202);
    } finally {
      delete process.env['AWS_LAMBDA_FUNCTION_NAME'];
      delete process.env['_X_AMZN_TRACE_ID'];
      lambda.destroy();
    }
    const records = await waitForInvocations(server.client, name, 2);
    expect(records.map((r) => [r.trigger, r.traceId]).sort()).toEqual([
      ['async', TRACE_ID],
      ['invoke', TRACE_ID],
    ]);
  });
});
