/**
 * The registry of stable error codes. A code never changes meaning once shipped; clients match on it.
 * `status` is the HTTP status the code maps to; `fault` says whose fault it is (4xx = user, 5xx = ours
 * or the function's sandbox).
 */
export const errorCodes = {
  VALIDATION_FAILED: { status: 400, fault: 'user' },
  INVALID_JSON: { status: 400, fault: 'user' },
  INVALID_NAME: { status: 400, fault: 'user' },
  INVALID_QUALIFIER: { status: 400, fault: 'user' },
  BUILD_FAILED: { status: 400, fault: 'user' },
  /** An uploaded zip (Lambda `ZipFile`) is corrupt, encrypted, or holds unsafe entries. */
  INVALID_ZIP: { status: 400, fault: 'user' },
  /** An image reference that does not parse (`host[:port]/repo[:tag][@sha256:...]`). */
  INVALID_IMAGE_REFERENCE: { status: 400, fault: 'user' },
  /** An image (manifest, config, archive) that is malformed or not an OCI/Docker v2 image. */
  INVALID_IMAGE: { status: 400, fault: 'user' },
  /** An image for another platform, a schema-1 manifest, or a layer compression Strato cannot read. */
  UNSUPPORTED_IMAGE: { status: 400, fault: 'user' },
  /** A layer with an unsafe entry: `..`, an absolute path, a device file, or a link leaving the root. */
  INVALID_LAYER: { status: 400, fault: 'user' },
  /** The registry refused the credentials (or none were given for a private image). */
  REGISTRY_AUTH_FAILED: { status: 400, fault: 'user' },
  UNAUTHORIZED: { status: 401, fault: 'user' },
  FORBIDDEN: { status: 403, fault: 'user' },
  /**
   * A function's outbound connection its `egress` patterns do not allow, or to a blocked address (loopback,
   * private, link-local, metadata): the isolate tier's fetch rejects with it, the egress proxy of the process
   * and container tiers answers 403 with it in `X-Strato-Error`.
   */
  EGRESS_DENIED: { status: 403, fault: 'user' },
  FUNCTION_NOT_FOUND: { status: 404, fault: 'user' },
  VERSION_NOT_FOUND: { status: 404, fault: 'user' },
  INVOCATION_NOT_FOUND: { status: 404, fault: 'user' },
  ALIAS_NOT_FOUND: { status: 404, fault: 'user' },
  TRIGGER_NOT_FOUND: { status: 404, fault: 'user' },
  SECRET_NOT_FOUND: { status: 404, fault: 'user' },
  KEY_NOT_FOUND: { status: 404, fault: 'user' },
  /** The registry has no such repository, tag or digest. */
  IMAGE_NOT_FOUND: { status: 404, fault: 'user' },
  ROUTE_NOT_FOUND: { status: 404, fault: 'user' },
  METHOD_NOT_ALLOWED: { status: 405, fault: 'user' },
  /** A queue consumer's lease token is not the message's current lease (it expired or was taken over). */
  LEASE_LOST: { status: 409, fault: 'platform' },
  FUNCTION_EXISTS: { status: 409, fault: 'user' },
  ALIAS_EXISTS: { status: 409, fault: 'user' },
  PAYLOAD_TOO_LARGE: { status: 413, fault: 'user' },
  /** An uploaded zip exceeds an entry-count, size or compression-ratio limit. */
  ZIP_TOO_LARGE: { status: 413, fault: 'user' },
  /** An image or layer exceeds a size, entry-count or compression-ratio limit (a layer bomb). */
  IMAGE_TOO_LARGE: { status: 413, fault: 'user' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, fault: 'user' },
  TOO_MANY_REQUESTS: { status: 429, fault: 'user' },
  /** A function's (or a caller's) rate limit is exhausted; `details.retryAfterSeconds` says when to retry. */
  RATE_LIMITED: { status: 429, fault: 'user' },
  /** The function threw (or its module failed to load). Rendered with the function's own error. */
  FUNCTION_ERROR: { status: 500, fault: 'function' },
  INTERNAL: { status: 500, fault: 'platform' },
  /** The store lost a version's code: ours, not the caller's. */
  ARTIFACT_NOT_FOUND: { status: 500, fault: 'platform' },
  OUT_OF_MEMORY: { status: 502, fault: 'function' },
  /** The registry could not be reached, answered with an error, or served bytes that do not match their digest. */
  IMAGE_PULL_FAILED: { status: 502, fault: 'platform' },
  SANDBOX_CRASHED: { status: 502, fault: 'platform' },
  /**
   * A stored secret does not decrypt with this node's master key (the key changed, or the row was altered):
   * the function is not started without it.
   */
  SECRET_DECRYPT_FAILED: { status: 500, fault: 'platform' },
  /** The master key (STRATO_MASTER_KEY or its file) is malformed, or its file is readable by others. */
  MASTER_KEY_INVALID: { status: 500, fault: 'platform' },
  INVALID_FUNCTION_RESPONSE: { status: 502, fault: 'function' },
  SHUTTING_DOWN: { status: 503, fault: 'platform' },
  STORE_UNAVAILABLE: { status: 503, fault: 'platform' },
  QUEUE_UNAVAILABLE: { status: 503, fault: 'platform' },
  INVOCATION_TIMEOUT: { status: 504, fault: 'function' },
} as const satisfies Record<string, { status: number; fault: 'user' | 'platform' | 'function' }>;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}
