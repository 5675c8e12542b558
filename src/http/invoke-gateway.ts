import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HttpRequestPayload, InvokePayload } from '../core/sandbox.js';
import type { HttpTriggerAuth } from '../core/function.js';
import { StratoError } from '../core/strato-error.js';
import { checkNamespace, ownedBy, qualifiedName } from '../core/namespace.js';
import type { Gatekeeper } from './gatekeeper.js';
import { parseTraceparent } from '../core/trace-context.js';
import type { AsyncInvocations } from '../invoke/async-invocations.js';
import type { Invoker } from '../invoke/invoker.js';
import { toStratoError } from './errors.js';
import { checkFunctionName } from './function-name.js';
import { errorReply, invocationReply, type ReplyParts } from './invocation-reply.js';
import { readBody } from './read-body.js';
import { nextRequestId } from './request-id.js';

const INVOKE_PREFIX = '/v1/functions/';
const INVOKE_SUFFIX = '/invoke';
const TRIGGER_PREFIX = '/fn/';

/** Who may invoke: the invoke API always needs a key, an HTTP trigger when its function says `key`. */
export interface InvokeAccess {
  gate: Gatekeeper;
  /** The `httpAuth` setting of the version a trigger request resolves to. */
  triggerAuth(functionName: string, qualifier: string | undefined): Promise<HttpTriggerAuth>;
}

/**
 * The data plane on raw node:http: `POST /v1/functions/:name/invoke` (JSON event in, JSON out) and the
 * HTTP trigger `ANY /fn/:name[@qualifier]/*`. It sits in front of Fastify (which serves everything
 * else) because the invoke path is the hot path: plain request handling here costs about half of what
 * a Fastify route does (measured: bench/). Returns false for requests that are not its own.
 */
export function createInvokeGateway(
  invoker: Invoker,
  asyncInvocations: AsyncInvocations,
  maxPayloadBytes: number,
  logger: Logger,
  access: InvokeAccess,
) {
  /**
   * Before the body is read (an unauthenticated caller never gets to make us buffer one): who may call,
   * and which function, as Strato names it. The invoke API names a function of the key's namespace; an
   * HTTP trigger names its function fully (`/fn/<name>` in the default namespace, `/fn/<ns>.<name>` in
   * another), and one that needs a key takes only a key of that namespace.
   */
  const admit = async (request: IncomingMessage, route: Route): Promise<string> => {
    if (route.kind === 'invoke') {
      const principal = await access.gate.admit(request.headers.authorization, 'invoke');
      return qualifiedName(principal.namespace, checkFunctionName(route.functionName));
    }
    const functionName = checkTriggerTarget(route.functionName);
    if ((await access.triggerAuth(functionName, route.qualifier)) === 'key') {
      const principal = await access.gate.admit(request.headers.authorization, 'invoke');
      if (!ownedBy(principal.namespace, functionName)) {
        throw new StratoError(
          'FORBIDDEN',
          `this key's namespace does not own function '${route.functionName}'`,
        );
      }
    }
    return functionName;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, route: Route): Promise<void> => {
    const requestId = nextRequestId();
    let reply: ReplyParts;
    try {
      const functionName = await admit(request, route);
      const body = await readBody(request, maxPayloadBytes);
      // Invalid or absent: a new trace starts; a bad header never fails the request.
      const traceParent = parseTraceparent(request.headers.traceparent, request.headers.tracestate);
      if (route.kind === 'invoke' && wantsAsync(request)) {
        const accepted = await asyncInvocations.enqueue({
          functionName,
          qualifier: route.qualifier,
          eventJson: eventJson(body),
          idempotencyKey: singleHeader(request, 'idempotency-key'),
          callbackUrl: singleHeader(request, 'x-callback-url'),
          traceParent,
        });
        reply = acceptedReply(accepted.invocationId, accepted.duplicate, accepted.traceparent);
        send(response, reply, requestId);
        return;
      }
      const payload: InvokePayload =
        route.kind === 'invoke'
          ? { kind: 'event', eventJson: eventJson(body) }
          : { kind: 'http', request: httpPayload(request, route, body) };
      const invocation = await invoker.invoke({
        functionName,
        qualifier: route.qualifier,
        payload,
        trigger: route.kind === 'invoke' ? 'invoke' : 'http',
        traceParent,
      });
      reply = invocationReply(invocation, requestId);
    } catch (error) {
      const stratoError = toStratoError(error);
      if (stratoError.code === 'INTERNAL') logger.error({ err: error, requestId }, 'invoke failed');
      reply = errorReply(stratoError, requestId);
      // The rest of a refused body (too large, or refused before reading it) was not read: this connection
      // cannot carry another request, and an unauthenticated caller must not make us drain it.
      if (stratoError.code === 'PAYLOAD_TOO_LARGE' || !request.complete) {
        reply.headers.push(['connection', 'close']);
      }
    }
    send(response, reply, requestId);
  };

  return (request: IncomingMessage, response: ServerResponse): boolean => {
    const route = matchRoute(request);
    if (route === undefined) return false;
    handle(request, response, route).catch((error: unknown) => {
      logger.error({ err: error }, 'invoke gateway failed');
      if (!response.headersSent) response.writeHead(500).end();
    });
    return true;
  };
}

type Route =
  | { kind: 'invoke'; functionName: string; qualifier: string | undefined }
  | { kind: 'trigger'; functionName: string; qualifier: string | undefined; prefix: string; rest: string };

function matchRoute(request: IncomingMessage): Route | undefined {
  const url = request.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (path.startsWith(INVOKE_PREFIX) && path.endsWith(INVOKE_SUFFIX) && request.method === 'POST') {
    const functionName = decodeSegment(path.slice(INVOKE_PREFIX.length, path.length - INVOKE_SUFFIX.length));
    if (functionName.includes('/')) return undefined;
    const qualifier =
      queryAt === -1 ? undefined : (new URLSearchParams(url.slice(queryAt + 1)).get('version') ?? undefined);
    return { kind: 'invoke', functionName, qualifier };
  }
  if (path.startsWith(TRIGGER_PREFIX) && path.length > TRIGGER_PREFIX.length) {
    const slash = path.indexOf('/', TRIGGER_PREFIX.length);
    const target =
      slash === -1 ? path.slice(TRIGGER_PREFIX.length) : path.slice(TRIGGER_PREFIX.length, slash);
    const at = target.indexOf('@');
    const prefix = `${TRIGGER_PREFIX}${target}`;
    return {
      kind: 'trigger',
      functionName: decodeSegment(at === -1 ? target : target.slice(0, at)),
      qualifier: at === -1 ? undefined : decodeSegment(target.slice(at + 1)),
      prefix,
      rest: url.slice(prefix.length),
    };
  }
  return undefined;
}

/** `/fn/<name>` or `/fn/<namespace>.<name>`: INVALID_NAME unless it is one of those. */
function checkTriggerTarget(target: string): string {
  const dot = target.indexOf('.');
  if (dot === -1) return checkFunctionName(target);
  return qualifiedName(checkNamespace(target.slice(0, dot)), checkFunctionName(target.slice(dot + 1)));
}

/** RFC 7240: `Prefer: respond-async` asks for a 202 and the result later. */
function wantsAsync(request: IncomingMessage): boolean {
  const prefer = request.headers.prefer;
  if (prefer === undefined) return false;
  const value = Array.isArray(prefer) ? prefer.join(',') : prefer;
  return /(?:^|[,;\s])respond-async(?:$|[,;\s])/i.test(value);
}

function singleHeader(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value) || value.length > 1024) {
    throw new StratoError(
      'VALIDATION_FAILED',
      `the ${name} header must be one value of at most 1024 characters`,
    );
  }
  return value;
}

/** `traceparent` is the queued invocation's parent: the runs it causes are its children. */
function acceptedReply(invocationId: string, duplicate: boolean, traceparent: string): ReplyParts {
  return {
    status: 202,
    headers: [
      ['content-type', 'application/json; charset=utf-8'],
      ['location', `/v1/invocations/${invocationId}`],
      ['x-strato-invocation-id', invocationId],
      ['preference-applied', 'respond-async'],
      ['traceparent', traceparent],
    ],
    body: JSON.stringify({ invocationId, status: 'queued', duplicate }),
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The invoke body as JSON text: validated here, parsed again only inside the sandbox. */
function eventJson(body: Buffer): string {
  if (body.length === 0) return '{}';
  if (!isUtf8(body)) throw new StratoError('INVALID_JSON', 'the body is not valid UTF-8');
  const text = body.toString('utf8');
  try {
    JSON.parse(text);
  } catch (error) {
    throw new StratoError('INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
  return text;
}

function httpPayload(
  request: IncomingMessage,
  route: Extract<Route, { kind: 'trigger' }>,
  body: Buffer,
): HttpRequestPayload {
  const path = route.rest.length === 0 || route.rest[0] === '?' ? `/${route.rest}` : route.rest;
  const rawHeaders = request.rawHeaders;
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) headers.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  headers.push(['x-forwarded-prefix', route.prefix]);
  const encrypted = (request.socket as { encrypted?: boolean }).encrypted === true;
  return {
    method: request.method ?? 'GET',
    url: `${encrypted ? 'https' : 'http'}://${request.headers.host ?? 'localhost'}${path}`,
    path,
    headers,
    bodyBase64: body.length === 0 ? null : body.toString('base64'),
    sourceIp: request.socket.remoteAddress ?? '',
  };
}

function send(response: ServerResponse, reply: ReplyParts, requestId: string): void {
  try {
    for (const [name, value] of reply.headers) response.appendHeader(name, value);
  } catch (error) {
    for (const name of response.getHeaderNames()) response.removeHeader(name);
    const invalid = new StratoError(
      'INVALID_FUNCTION_RESPONSE',
      `the function returned an invalid response: ${(error as Error).message}`,
    );
    const fallback = errorReply(invalid, requestId);
    response.writeHead(fallback.status, fallback.headers.flat());
    response.end(fallback.body);
    return;
  }
  response.statusCode = reply.status;
  response.end(reply.body);
}
