import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FUNCTION_NAME_PATTERN } from '../../core/function.js';
import type { HttpRequestPayload } from '../../core/sandbox.js';
import { StratoError } from '../../core/strato-error.js';
import type { Invoker } from '../../invoke/invoker.js';
import { sendInvocation } from '../invocation-reply.js';

/**
 * The data plane: `POST /v1/functions/:name/invoke` (JSON event in, JSON out) and the HTTP trigger
 * `ANY /fn/:name[@qualifier]/*`. Bodies arrive as raw bytes whatever their content type (curl -d sends
 * form-urlencoded), capped at the payload limit before they are buffered whole.
 */
export async function registerInvokeRoutes(
  app: FastifyInstance,
  invoker: Invoker,
  maxPayloadBytes: number,
): Promise<void> {
  await app.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: maxPayloadBytes },
      (_request, body, parsed) => parsed(null, body),
    );

    scope.post('/v1/functions/:name/invoke', async (request, reply) => {
      const { name } = request.params as { name: string };
      const { version } = request.query as { version?: string };
      const invocation = await invoker.invoke({
        functionName: checkName(name),
        qualifier: version,
        payload: { kind: 'event', eventJson: eventJson(request.body) },
        trigger: 'invoke',
      });
      return sendInvocation(request, reply, invocation);
    });

    const trigger = async (request: FastifyRequest, reply: Parameters<typeof sendInvocation>[1]) => {
      const { target } = request.params as { target: string };
      const at = target.indexOf('@');
      const functionName = checkName(at === -1 ? target : target.slice(0, at));
      const qualifier = at === -1 ? undefined : target.slice(at + 1);
      const invocation = await invoker.invoke({
        functionName,
        qualifier,
        payload: { kind: 'http', request: toHttpPayload(request, `/fn/${target}`) },
        trigger: 'http',
      });
      return sendInvocation(request, reply, invocation);
    };
    scope.all('/fn/:target', trigger);
    scope.all('/fn/:target/*', trigger);
    done();
  });
}

function checkName(name: string): string {
  if (!FUNCTION_NAME_PATTERN.test(name)) {
    throw new StratoError('INVALID_NAME', 'function names are 1-64 characters of A-Z, a-z, 0-9, - and _');
  }
  return name;
}

/** The invoke body as JSON text: validated here, parsed again only inside the sandbox. */
function eventJson(body: unknown): string {
  if (!Buffer.isBuffer(body) || body.length === 0) return '{}';
  if (!isUtf8(body)) throw new StratoError('INVALID_JSON', 'the body is not valid UTF-8');
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
  } catch (error) {
    throw new StratoError('INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
  return text;
}

function toHttpPayload(request: FastifyRequest, prefix: string): HttpRequestPayload {
  const rest = request.url.slice(prefix.length);
  const path = rest.length === 0 || rest[0] === '?' ? `/${rest}` : rest;
  const rawHeaders = request.raw.rawHeaders;
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) headers.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  headers.push(['x-forwarded-prefix', prefix]);
  const body =
    Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body.toString('base64') : null;
  return {
    method: request.method,
    url: `${request.protocol}://${request.host}${path}`,
    path,
    headers,
    bodyBase64: body,
    sourceIp: request.ip,
  };
}
