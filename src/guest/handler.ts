import type { HttpResponsePayload, InvokePayload } from '../core/sandbox.js';
import type { GuestInitConfig } from './protocol.js';
import type { WebGlobals } from './web-globals.js';
import { base64ToBytes, bytesToBase64, type Utf8 } from './bytes.js';
import { fromApiGatewayResult, toApiGatewayEvent, type Base64TextCodec } from '../core/api-gateway.js';

type LambdaHandler = (
  event: unknown,
  context: unknown,
  callback?: (error: unknown, result?: unknown) => void,
) => unknown;
interface FetchHandler {
  fetch(request: unknown, env: unknown, ctx: unknown): unknown;
}

/** One invocation as the runtime hands it to a handler adapter. */
export interface GuestInvocation {
  invocationId: string;
  payload: InvokePayload;
  /** Epoch ms. */
  deadline: number;
  /** The invocation span's W3C traceparent, or '' when it has none. */
  traceparent: string;
}

export type GuestResponse = { kind: 'json'; json: string } | { kind: 'http'; response: HttpResponsePayload };

export type ResolvedHandler = { kind: 'lambda'; fn: LambdaHandler } | { kind: 'fetch'; target: FetchHandler };

/** Thrown when a module exports nothing Strato can call. */
export class HandlerNotFoundError extends Error {
  override name = 'HandlerNotFound';
}

/**
 * Finds the handler among a module's exports: `export default fn`, `export const handler`,
 * `module.exports = fn`, or `export default { fetch }`.
 */
export function resolveHandler(exports: unknown): ResolvedHandler {
  const record =
    (typeof exports === 'object' || typeof exports === 'function') && exports !== null ? exports : {};
  const named = record as { default?: unknown; handler?: unknown };
  if (typeof exports === 'function') return { kind: 'lambda', fn: exports as LambdaHandler };
  if (typeof named.default === 'function') return { kind: 'lambda', fn: named.default as LambdaHandler };
  const defaultObject = named.default as { fetch?: unknown } | undefined;
  if (
    typeof defaultObject === 'object' &&
    defaultObject !== null &&
    typeof defaultObject.fetch === 'function'
  ) {
    return { kind: 'fetch', target: defaultObject as FetchHandler };
  }
  if (typeof named.handler === 'function') return { kind: 'lambda', fn: named.handler as LambdaHandler };
  throw new HandlerNotFoundError(
    'the module exports no handler: export a default function, a `handler` function, or a default object with a `fetch` method',
  );
}

export interface InvocationEnvironment {
  config: GuestInitConfig;
  web: WebGlobals;
  utf8: Utf8;
  /** Registers `ctx.waitUntil` work of the current invocation. */
  waitUntil(promise: unknown): void;
}

/** Runs one invocation through the handler and returns its response. */
export async function runHandler(
  handler: ResolvedHandler,
  invocation: GuestInvocation,
  environment: InvocationEnvironment,
): Promise<GuestResponse> {
  switch (handler.kind) {
    case 'lambda':
      return runLambda(handler.fn, invocation, environment);
    case 'fetch':
      return runFetch(handler.target, invocation, environment);
    default: {
      const unknownKind: never = handler;
      throw new Error(`unknown handler kind ${String(unknownKind)}`);
    }
  }
}

async function runLambda(
  fn: LambdaHandler,
  invocation: GuestInvocation,
  environment: InvocationEnvironment,
): Promise<GuestResponse> {
  const { config, utf8 } = environment;
  const codec: Base64TextCodec = {
    base64ToText: (base64) => utf8.decode(base64ToBytes(base64)),
    textToBase64: (text) => bytesToBase64(utf8.encode(text)),
  };
  const payload = invocation.payload;
  const event: unknown =
    payload.kind === 'event'
      ? JSON.parse(payload.eventJson)
      : toApiGatewayEvent(
          payload.request,
          { requestId: invocation.invocationId, functionName: config.functionName },
          codec,
        );
  const context = {
    awsRequestId: invocation.invocationId,
    functionName: config.functionName,
    functionVersion: String(config.version),
    memoryLimitInMB: String(config.memoryMb),
    invokedFunctionArn: `arn:strato:lambda:local:000000000000:function:${config.functionName}:${config.version}`,
    logGroupName: `/strato/${config.functionName}`,
    logStreamName: `${config.version}`,
    callbackWaitsForEmptyEventLoop: true,
    env: config.env,
    getRemainingTimeInMillis: () => Math.max(0, invocation.deadline - Date.now()),
    ...traceFields(invocation.traceparent),
  };
  const result = await callLambda(fn, event, context);
  if (payload.kind === 'http') return { kind: 'http', response: fromApiGatewayResult(result, codec) };
  return { kind: 'json', json: JSON.stringify(result) ?? 'null' };
}

/** `traceId` and `traceparent` of the invocation's span; both undefined when it has none. */
function traceFields(traceparent: string): { traceId: string | undefined; traceparent: string | undefined } {
  // The host formatted it (version 00): the trace id is at a fixed place.
  return traceparent === ''
    ? { traceId: undefined, traceparent: undefined }
    : { traceId: traceparent.slice(3, 35), traceparent };
}

/** Lambda handlers are async functions, or take a Node-style callback as their third argument. */
function callLambda(fn: LambdaHandler, event: unknown, context: unknown): Promise<unknown> {
  if (fn.length < 3) return Promise.resolve(fn(event, context));
  return new Promise((resolve, reject) => {
    // A callback's error is whatever the user passed: reject with it as is, like Lambda reports it.
    const returned = fn(event, context, (error, result) =>
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- user values pass through
      error ? reject(error) : resolve(result),
    );
    if (
      typeof returned === 'object' &&
      returned !== null &&
      typeof (returned as PromiseLike<unknown>).then === 'function'
    ) {
      (returned as PromiseLike<unknown>).then(resolve, reject);
    }
  });
}

async function runFetch(
  target: FetchHandler,
  invocation: GuestInvocation,
  environment: InvocationEnvironment,
): Promise<GuestResponse> {
  const { config, web } = environment;
  const payload = invocation.payload;
  let request: unknown;
  if (payload.kind === 'http') {
    const { method, url, headers, bodyBase64 } = payload.request;
    const body =
      bodyBase64 === null || method === 'GET' || method === 'HEAD' ? null : base64ToBytes(bodyBase64);
    request = new web.Request(url, { method, headers, body });
  } else {
    request = new web.Request(`https://${config.functionName}.strato.invalid/`, {
      method: 'POST',
      headers: [['content-type', 'application/json']],
      body: payload.eventJson,
    });
  }
  const ctx = {
    waitUntil: (promise: unknown) => environment.waitUntil(promise),
    passThroughOnException: () => undefined,
    props: {},
    ...traceFields(invocation.traceparent),
  };
  const response = await target.fetch(request, config.env, ctx);
  if (!(response instanceof web.Response)) {
    throw new TypeError('the fetch handler must return a Response (or a Promise of one)');
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const headers: Array<[string, string]> = [];
  for (const [name, value] of response.headers) headers.push([name, value]);
  return { kind: 'http', response: { status: response.status, headers, bodyBase64: bytesToBase64(bytes) } };
}
