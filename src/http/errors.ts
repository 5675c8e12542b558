import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
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

/** Validates a request part with zod; failures are VALIDATION_FAILED with the issues as details. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new StratoError('VALIDATION_FAILED', `invalid ${what}: ${z.prettifyError(parsed.error)}`, {
      details: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
  }
  return parsed.data;
}
