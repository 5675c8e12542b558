// The host-side twin of src/guest/api-gateway.ts for runtimes outside an isolate: the guest version works
// on the guest's own byte helpers, which the host cannot import (guest code imports nothing host-side and
// the reverse holds too), so the same mapping is done here on Buffers.
import type { HttpRequestPayload, HttpResponsePayload } from '../../core/sandbox.js';

const TEXTUAL =
  /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml))/i;

/** The API Gateway HTTP API (payload format 2.0) event for an HTTP-triggered invocation. */
export function toApiGatewayEvent(
  request: HttpRequestPayload,
  context: { requestId: string; functionName: string },
): Record<string, unknown> {
  const questionMark = request.path.indexOf('?');
  const rawPath = questionMark === -1 ? request.path : request.path.slice(0, questionMark);
  const rawQueryString = questionMark === -1 ? '' : request.path.slice(questionMark + 1);
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of request.headers) {
    const key = name.toLowerCase();
    if (key === 'cookie') {
      cookies.push(...value.split(/;\s*/).filter((cookie) => cookie.length > 0));
      continue;
    }
    headers[key] = key in headers ? `${headers[key]},${value}` : value;
  }
  const query: Record<string, string> = {};
  for (const pair of rawQueryString.split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
    query[key] = key in query ? `${query[key]},${value}` : value;
  }
  const now = new Date();
  const host = headers['host'] ?? 'localhost';
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'strato',
      apiId: context.functionName,
      domainName: host,
      domainPrefix: host.split('.')[0],
      http: {
        method: request.method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: context.requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies.length > 0) event['cookies'] = cookies;
  if (Object.keys(query).length > 0) event['queryStringParameters'] = query;
  if (request.bodyBase64 !== null) {
    const textual = TEXTUAL.test(headers['content-type'] ?? '');
    event['body'] = textual ? Buffer.from(request.bodyBase64, 'base64').toString('utf8') : request.bodyBase64;
    event['isBase64Encoded'] = !textual;
  }
  return event;
}

/**
 * A runtime's response body as API Gateway turns it into an HTTP response: a JSON object with `statusCode`
 * is taken field by field; anything else is a 200 JSON body (a JSON string is the body as is; a body that
 * is not JSON at all is passed through). Returns a message instead when `statusCode` is invalid.
 */
export function fromApiGatewayResult(body: Buffer): HttpResponsePayload | string {
  let result: unknown;
  try {
    result = JSON.parse(body.toString('utf8'));
  } catch {
    return {
      status: 200,
      headers: [['content-type', 'application/json']],
      bodyBase64: body.toString('base64'),
    };
  }
  if (typeof result === 'object' && result !== null && 'statusCode' in result) {
    const shaped = result as {
      statusCode: unknown;
      headers?: Record<string, unknown>;
      multiValueHeaders?: Record<string, unknown[]>;
      cookies?: unknown[];
      body?: unknown;
      isBase64Encoded?: unknown;
    };
    const status = Number(shaped.statusCode);
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      return `statusCode must be an integer from 100 to 599, got ${String(shaped.statusCode)}`;
    }
    const headers: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(shaped.headers ?? {})) headers.push([name, String(value)]);
    for (const [name, values] of Object.entries(shaped.multiValueHeaders ?? {})) {
      if (Array.isArray(values)) for (const value of values) headers.push([name, String(value)]);
    }
    for (const cookie of shaped.cookies ?? []) headers.push(['set-cookie', String(cookie)]);
    const text =
      shaped.body === undefined || shaped.body === null
        ? ''
        : typeof shaped.body === 'string'
          ? shaped.body
          : (JSON.stringify(shaped.body) ?? '');
    const bodyBase64 = shaped.isBase64Encoded === true ? text : Buffer.from(text).toString('base64');
    return { status, headers, bodyBase64 };
  }
  const text = typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null');
  return {
    status: 200,
    headers: [['content-type', 'application/json']],
    bodyBase64: Buffer.from(text).toString('base64'),
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
