import type { HttpResponsePayload } from '../core/sandbox.js';
import { StratoError } from '../core/strato-error.js';
import { formatTraceparent } from '../core/trace-context.js';
import type { InvocationResponse } from '../invoke/invoker.js';

/** Headers a function may not set: they belong to the connection, or are computed by the server. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
]);

export interface ReplyParts {
  status: number;
  headers: Array<[string, string]>;
  body: string | Buffer;
}

/** `{ "error": { code, message, requestId } }` with the code's status. */
export function errorReply(error: StratoError, requestId: string): ReplyParts {
  const headers: Array<[string, string]> = [['content-type', 'application/json; charset=utf-8']];
  if (error.code === 'TOO_MANY_REQUESTS' || error.code === 'RATE_LIMITED') {
    const details = error.details as { retryAfterSeconds?: number } | undefined;
    headers.push(['retry-after', String(details?.retryAfterSeconds ?? 1)]);
  }
  return { status: error.status, headers, body: JSON.stringify({ error: error.toBody(requestId) }) };
}

/**
 * An invocation's outcome as an HTTP response: the function's response on success; `FUNCTION_ERROR`
 * (500) with the function's error type, message and source-mapped stack when it threw; the platform
 * codes for timeout (504), memory limit (502) and a crashed sandbox (502).
 */
export function invocationReply(invocation: InvocationResponse, requestId: string): ReplyParts {
  const { result } = invocation;
  const reply = (parts: ReplyParts): ReplyParts => {
    parts.headers.push(
      ['x-strato-invocation-id', invocation.invocationId],
      ['x-strato-version', String(invocation.version.version)],
      ['x-strato-cold', invocation.cold ? 'true' : 'false'],
      ['traceparent', formatTraceparent(invocation.trace)],
    );
    return parts;
  };
  switch (result.outcome) {
    case 'success': {
      const response = result.response;
      if (response.kind === 'json') {
        return reply({
          status: 200,
          headers: [['content-type', 'application/json; charset=utf-8']],
          body: response.json,
        });
      }
      return reply(httpReply(response.response));
    }
    case 'error':
      return reply({
        status: 500,
        headers: [['content-type', 'application/json; charset=utf-8']],
        body: JSON.stringify({
          error: {
            code: 'FUNCTION_ERROR',
            type: result.error.type,
            message: result.error.message,
            stack: result.error.stack,
            phase: result.phase,
            invocationId: invocation.invocationId,
            requestId,
          },
        }),
      });
    case 'timeout':
      return reply(errorReply(new StratoError('INVOCATION_TIMEOUT', result.error.message), requestId));
    case 'out_of_memory':
      return reply(errorReply(new StratoError('OUT_OF_MEMORY', result.error.message), requestId));
    case 'crashed':
      return reply(errorReply(new StratoError('SANDBOX_CRASHED', result.error.message), requestId));
    default: {
      const unknownResult: never = result;
      throw new Error(`unknown outcome ${JSON.stringify(unknownResult)}`);
    }
  }
}

function httpReply(response: HttpResponsePayload): ReplyParts {
  const headers: Array<[string, string]> = [];
  for (const [name, value] of response.headers)
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push([name, value]);
  return { status: response.status, headers, body: Buffer.from(response.bodyBase64, 'base64') };
}
