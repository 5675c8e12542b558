import type { IncomingMessage, ServerResponse } from 'node:http';
import { LambdaApi, type LambdaReply } from '../lambda/lambda-api.js';
import { readBody } from './read-body.js';
import { nextRequestId } from './request-id.js';

/**
 * Serves the Lambda REST API (`/2015-03-31/...`) on raw node:http: Signature V4 covers the exact bytes of
 * the body, so it is read here as bytes, never parsed by Fastify first. Returns false for other requests.
 */
export function createLambdaGateway(api: LambdaApi) {
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = nextRequestId();
    const rawPath = request.url ?? '/';
    const refused = api.refuseUnsigned(rawPath, request.headers, requestId);
    if (refused !== undefined) {
      // The unread body cannot be followed by another request on this connection.
      send(response, refused, true);
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(request, api.bodyLimit(rawPath));
    } catch (error) {
      send(response, api.errorFor(error, requestId), true);
      return;
    }
    const reply = await api.handle({
      method: request.method ?? 'GET',
      rawPath,
      headers: request.headers,
      body,
      requestId,
    });
    send(response, reply, false);
  };

  return (request: IncomingMessage, response: ServerResponse): boolean => {
    if (!LambdaApi.handles(request.url ?? '/')) return false;
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500).end();
    });
    return true;
  };
}

function send(response: ServerResponse, reply: LambdaReply, closeConnection: boolean): void {
  for (const [name, value] of reply.headers) response.setHeader(name, value);
  if (closeConnection) response.setHeader('connection', 'close');
  response.statusCode = reply.status;
  response.end(reply.body);
}
