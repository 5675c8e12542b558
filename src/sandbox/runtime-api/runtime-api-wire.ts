// The Lambda Runtime API on the wire: routes, bounded bodies, Lambda's error shape and headers, apart from
// the endpoint's state machine (which invocation is where).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { FunctionErrorInfo } from '../../core/invocation.js';
import type { RuntimeInvocationRequest } from './runtime-api-endpoint.js';

export type Route =
  { name: 'next' } | { name: 'init-error' } | { name: 'response' | 'error'; invocationId: string };

export type BodyRead = { kind: 'body'; body: Buffer } | { kind: 'too_large' } | { kind: 'aborted' };

const base = '/2018-06-01/runtime';
const answerPath = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;
/** Header values Node accepts; checked up front so a bad value fails at `invoke`, not inside a poll. */
export const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/;

export function matchRoute(path: string): Route | undefined {
  if (path === `${base}/invocation/next`) return { name: 'next' };
  if (path === `${base}/init/error`) return { name: 'init-error' };
  const match = answerPath.exec(path);
  if (match === null) return undefined;
  let invocationId: string;
  try {
    invocationId = decodeURIComponent(match[1] ?? '');
  } catch {
    return undefined;
  }
  return { name: match[2] === 'error' ? 'error' : 'response', invocationId };
}

/**
 * Reads a body up to `limit` bytes: a declared length over the limit is refused unread, and a streamed body
 * stops being kept the moment it passes the limit (the rest is discarded as it arrives).
 */
export function readBoundedBody(request: IncomingMessage, limit: number): Promise<BodyRead> {
  if (Number(request.headers['content-length'] ?? 0) > limit) return Promise.resolve({ kind: 'too_large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (read: BodyRead) => {
      request.off('data', onData).off('end', onEnd).off('close', onAbort).off('error', onAbort);
      resolve(read);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) finish({ kind: 'too_large' });
      else chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: 'body', body: Buffer.concat(chunks, size) });
    const onAbort = () => finish({ kind: 'aborted' });
    request.on('data', onData).on('end', onEnd).on('close', onAbort).on('error', onAbort);
  });
}

/** Lambda's error body. Not strict: runtimes add their own fields (`requestId`, `cause`, ...). */
const lambdaErrorBody = z.object({
  errorMessage: z.string().optional().catch(undefined),
  errorType: z.string().optional().catch(undefined),
  stackTrace: z
    .union([z.array(z.string()), z.string()])
    .optional()
    .catch(undefined),
  // The Node runtime client (aws-lambda-ric, AWS's own) names the stack `trace`.
  trace: z
    .union([z.array(z.string()), z.string()])
    .optional()
    .catch(undefined),
});

/** Lenient, as Lambda is: a body that is not Lambda's JSON still becomes an error with its text as message. */
export function parseLambdaError(body: Buffer, functionErrorType: string | undefined): FunctionErrorInfo {
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = lambdaErrorBody.safeParse(json);
  const fields = parsed.success ? parsed.data : undefined;
  const trace = fields?.stackTrace ?? fields?.trace;
  return {
    type: fields?.errorType ?? functionErrorType ?? 'Unhandled',
    message: fields?.errorMessage ?? (fields === undefined ? text : ''),
    // Python's frames end in a newline of their own; Node's and Java's do not.
    stack: Array.isArray(trace) ? trace.map((frame) => frame.replace(/\n$/, '')).join('\n') : trace,
  };
}

export function functionErrorTypeOf(request: IncomingMessage): string | undefined {
  const value = request.headers['lambda-runtime-function-error-type'];
  return Array.isArray(value) ? value[0] : value;
}

export function sendLambdaError(
  response: ServerResponse,
  status: number,
  errorType: string,
  errorMessage: string,
  closeConnection = false,
): void {
  if (response.headersSent || response.destroyed) return;
  const body = JSON.stringify({ errorMessage, errorType });
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(closeConnection ? { connection: 'close' } : {}),
  });
  response.end(body);
}

export function sendAccepted(response: ServerResponse): void {
  const body = '{"status":"OK"}';
  response.writeHead(202, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
}

export function sendInvalidRequestId(response: ServerResponse): void {
  sendLambdaError(response, 400, 'InvalidRequestID', 'Invalid request ID');
}

/** Closes the connection: the rest of an oversized body is not worth reading. */
export function sendTooLarge(response: ServerResponse, limit: number): void {
  const message = `Exceeded maximum allowed payload size (${limit} bytes).`;
  sendLambdaError(response, 413, 'RequestEntityTooLarge', message, true);
}

export function sendInternalError(response: ServerResponse, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  sendLambdaError(response, 500, 'InternalServerError', message, true);
}

/**
 * The headers of the `/next` response that carries `request`, or the name of the field that cannot be sent
 * (a value Node would refuse as a header, or an id that would be ambiguous in the URL path the runtime
 * builds from it).
 */
export function nextInvocationHeaders(
  request: RuntimeInvocationRequest,
  functionArn: string,
): Record<string, string | number> | string {
  if (!/^[\w.:-]{1,256}$/.test(request.invocationId)) return 'invocationId';
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': request.payload.length,
    'lambda-runtime-aws-request-id': request.invocationId,
    'lambda-runtime-deadline-ms': String(Math.floor(request.deadline)),
    'lambda-runtime-invoked-function-arn': functionArn,
    'lambda-runtime-trace-id': request.traceId ?? newTraceId(),
  };
  if (request.traceparent !== undefined) headers['lambda-runtime-traceparent'] = request.traceparent;
  if (request.clientContext !== undefined) headers['lambda-runtime-client-context'] = request.clientContext;
  if (request.cognitoIdentity !== undefined)
    headers['lambda-runtime-cognito-identity'] = request.cognitoIdentity;
  const invalid = Object.entries(headers).find(
    ([, value]) => typeof value === 'string' && !headerValue.test(value),
  );
  return invalid === undefined ? headers : invalid[0];
}

/** An X-Ray trace header as Lambda sends it when the caller passed none (not sampled). */
function newTraceId(): string {
  const epochSeconds = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0');
  return `Root=1-${epochSeconds}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}
