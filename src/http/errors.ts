import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StratoError, isStratoError } from '../core/strato-error.js';
import { errorReply } from './invocation-reply.js';

/** Fastify's own error codes, mapped to ours. */
const FASTIFY_CODES: Record<string, StratoError['code']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
};

/** Turns anything thrown while serving a request into a StratoError. */
export function toStratoError(error: unknown): StratoError {
  if (isStratoError(error)) return error;
  const fastifyError = error as Partial<FastifyError>;
  const mapped = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (mapped !== undefined) return new StratoError(mapped, fastifyError.message ?? mapped);
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return new StratoError('INVALID_JSON', `the body is not valid JSON: ${error.message}`);
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    return new StratoError('VALIDATION_FAILED', fastifyError.message ?? 'bad request');
  }
  return new StratoError('INTERNAL', 'internal error', { cause: error });
}

/** The one place platform errors become HTTP responses: `{ "error": { code, message, requestId } }`. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const stratoError = toStratoError(error);
  if (stratoError.code === 'INTERNAL') request.log.error({ err: error }, 'internal error');
  const parts = errorReply(stratoError, request.id);
  for (const [name, value] of parts.headers) void reply.header(name, value);
  return reply.code(parts.status).send(parts.body);
}
