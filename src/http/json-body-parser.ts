import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { StratoError } from '../core/strato-error.js';

/**
 * JSON bodies of the control plane: Fastify's own parser (with its `__proto__`/`constructor` poisoning
 * checks) behind a UTF-8 check. Fastify would decode invalid bytes to U+FFFD and parse the result, so a
 * non-UTF-8 body surfaced as a validation error about a mangled key; it is INVALID_JSON, as on invoke.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    if (!isUtf8(body)) {
      done(new StratoError('INVALID_JSON', 'the body is not valid UTF-8'), undefined);
      return;
    }
    void parseJson(request, body.toString('utf8'), done);
  });
}
