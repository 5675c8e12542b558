import type { HttpRequestPayload, HttpResponsePayload } from './sandbox.js';

/**
 * Text <-> base64 conversion, supplied by whoever runs the mapping: the guest runtime (inside an isolate,
 * no Buffer) and the process tier (on the host) each bring their own.
 */
export interface Base64TextCodec {
  /** The UTF-8 text of base64-encoded bytes. */
  base64ToText(base64: string): string;
  /** Base64 of a text's UTF-8 bytes. */
  textToBase64(text: string): string;
}

const TEXTUAL =
  /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml))/i;

/**
 * The API Gateway HTTP API (payload format 2.0) event that Lambda-style handlers receive for HTTP
 * triggers, so handlers written for Lambda behind API Gateway run unchanged.
 */
export function toApiGatewayEvent(
  request: HttpRequestPayload,
  context: { requestId: string; functionName: string },
  codec: Base64TextCodec,
): Record<string, unknown> {
  const questionMark = request.path.indexOf('?');
  const rawPath = questionMark === -1 ? request.path : request.path.slice(0, questionMark);
  const rawQueryString = questionMark === -1 ? '' : request.path.slice(questionMark + 1);
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of request.headers) {
    const key = name.toLowerCase();
    if (key === 'cookie') {
      cookies.push(...value.split(/;\s*/).filter((c) => c.length > 0));
      continue;
    }
    headers[key] = key in headers ? `${headers[key]},${value}` : value;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const pair of rawQueryString.split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
    queryStringParameters[key] =
      key in queryStringParameters ? `${queryStringParameters[key]},${value}` : value;
  }
  const now = new Date();
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'strato',
      apiId: context.functionName,
      domainName: headers['host'] ?? 'localhost',
      domainPrefix: (headers['host'] ?? 'localhost').split('.')[0],
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
  if (Object.keys(queryStringParameters).length > 0) event['queryStringParameters'] = queryStringParameters;
  if (request.bodyBase64 !== null) {
    const textual = TEXTUAL.test(headers['content-type'] ?? '');
    event['body'] = textual ? codec.base64ToText(request.bodyBase64) : request.bodyBase64;
    event['isBase64Encoded'] = !textual;
  }
  return event;
}

/**
 * A Lambda handler's result as API Gateway (format 2.0) turns it into an HTTP response: an object with
 * `statusCode` is taken field by field; anything else is a 200 JSON body (a string is the body as is).
 */
export function fromApiGatewayResult(result: unknown, codec: Base64TextCodec): HttpResponsePayload {
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
      throw new TypeError(`statusCode must be an integer from 100 to 599, got ${String(shaped.statusCode)}`);
    }
    const headers: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(shaped.headers ?? {})) headers.push([name, String(value)]);
    for (const [name, values] of Object.entries(shaped.multiValueHeaders ?? {})) {
      if (Array.isArray(values)) for (const value of values) headers.push([name, String(value)]);
    }
    for (const cookie of shaped.cookies ?? []) headers.push(['set-cookie', String(cookie)]);
    const body =
      shaped.body === undefined || shaped.body === null
        ? ''
        : typeof shaped.body === 'string'
          ? shaped.body
          : (JSON.stringify(shaped.body) ?? '');
    const bodyBase64 = shaped.isBase64Encoded === true ? body : codec.textToBase64(body);
    return { status, headers, bodyBase64 };
  }
  const body = typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null');
  return {
    status: 200,
    headers: [['content-type', 'application/json']],
    bodyBase64: codec.textToBase64(body),
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
