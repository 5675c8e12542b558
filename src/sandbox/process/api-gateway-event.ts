import { fromApiGatewayResult as mapResult, type Base64TextCodec } from '../../core/api-gateway.js';
import type { HttpResponsePayload } from '../../core/sandbox.js';

export { toApiGatewayEvent } from '../../core/api-gateway.js';

/** The host's side of the API Gateway mapping: Buffers do the base64. */
export const hostCodec: Base64TextCodec = {
  base64ToText: (base64) => Buffer.from(base64, 'base64').toString('utf8'),
  textToBase64: (text) => Buffer.from(text).toString('base64'),
};

/**
 * A runtime's response body as API Gateway turns it into an HTTP response (see core/api-gateway.ts); a
 * body that is not JSON at all is passed through as a 200. Returns a message instead when `statusCode`
 * is invalid.
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
  try {
    return mapResult(result, hostCodec);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
