import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HttpResponsePayload } from '../core/sandbox.js';
import { StratoError } from '../core/strato-error.js';
import type { InvocationResponse } from '../invoke/invoker.js';
import { sendError } from './errors.js';

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

/**
 * Sends an invocation's outcome: the function's response on success; `FUNCTION_ERROR` (500) with the
 * function's error type, message and source-mapped stack when it threw; the platform codes for
 * timeout (504), memory limit (502) and a crashed sandbox (502).
 */
export function sendInvocation(
  request: FastifyRequest,
  reply: FastifyReply,
  invocation: InvocationResponse,
): FastifyReply {
  const { result } = invocation;
  void reply.header('x-strato-invocation-id', invocation.invocationId);
  void reply.header('x-strato-version', String(invocation.version.version));
  void reply.header('x-strato-cold', invocation.cold ? 'true' : 'false');
  switch (result.outcome) {
    case 'success': {
      const response = result.response;
      if (response.kind === 'json')
        return reply.code(200).header('content-type', 'application/json').send(response.json);
      return sendHttpResponse(request, reply, response.response);
    }
    case 'error':
      return reply.code(500).send({
        error: {
          code: 'FUNCTION_ERROR',
          type: result.error.type,
          message: result.error.message,
          stack: result.error.stack,
          phase: result.phase,
          invocationId: invocation.invocationId,
          requestId: request.id,
        },
      });
    case 'timeout':
      return sendError(request, reply, new StratoError('INVOCATION_TIMEOUT', result.error.message));
    case 'out_of_memory':
      return sendError(request, reply, new StratoError('OUT_OF_MEMORY', result.error.message));
    case 'crashed':
      return sendError(request, reply, new StratoError('SANDBOX_CRASHED', result.error.message));
    default: {
      const unknownResult: never = result;
      throw new Error(`unknown outcome ${JSON.stringify(unknownResult)}`);
    }
  }
}

function sendHttpResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  response: HttpResponsePayload,
): FastifyReply {
  try {
    reply.code(response.status);
    for (const [name, value] of response.headers) {
      if (!HOP_BY_HOP.has(name.toLowerCase())) void reply.header(name, value);
    }
  } catch (error) {
    return sendError(
      request,
      reply.removeHeader('content-type'),
      new StratoError(
        'INVALID_FUNCTION_RESPONSE',
        `the function returned an invalid response: ${(error as Error).message}`,
      ),
    );
  }
  return reply.send(Buffer.from(response.bodyBase64, 'base64'));
}
