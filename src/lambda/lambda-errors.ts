import type { ErrorCode } from '../core/error-codes.js';
import type { StratoError } from '../core/strato-error.js';
import type { SigV4Failure } from './sigv4.js';

/** An error as AWS Lambda's REST API sends it: status, `X-Amzn-ErrorType` header and JSON body. */
export interface LambdaErrorReply {
  status: number;
  errorType: string;
  body: { Type: 'User' | 'Service'; message: string; Reason?: string; retryAfterSeconds?: string };
}

/**
 * Our stable codes → the exception names Lambda uses, so the unmodified AWS SDK throws its typed
 * exceptions (it reads the type from `X-Amzn-ErrorType`). Codes not listed are a ServiceException.
 */
const LAMBDA_TYPES: Partial<Record<ErrorCode, { status: number; type: string }>> = {
  FUNCTION_NOT_FOUND: { status: 404, type: 'ResourceNotFoundException' },
  VERSION_NOT_FOUND: { status: 404, type: 'ResourceNotFoundException' },
  ALIAS_NOT_FOUND: { status: 404, type: 'ResourceNotFoundException' },
  FUNCTION_EXISTS: { status: 409, type: 'ResourceConflictException' },
  ALIAS_EXISTS: { status: 409, type: 'ResourceConflictException' },
  VALIDATION_FAILED: { status: 400, type: 'InvalidParameterValueException' },
  INVALID_NAME: { status: 400, type: 'InvalidParameterValueException' },
  INVALID_QUALIFIER: { status: 400, type: 'InvalidParameterValueException' },
  INVALID_ZIP: { status: 400, type: 'InvalidParameterValueException' },
  ZIP_TOO_LARGE: { status: 400, type: 'InvalidParameterValueException' },
  BUILD_FAILED: { status: 400, type: 'InvalidParameterValueException' },
  INVALID_JSON: { status: 400, type: 'InvalidRequestContentException' },
  PAYLOAD_TOO_LARGE: { status: 413, type: 'RequestTooLargeException' },
  TOO_MANY_REQUESTS: { status: 429, type: 'TooManyRequestsException' },
  RATE_LIMITED: { status: 429, type: 'TooManyRequestsException' },
  UNAUTHORIZED: { status: 403, type: 'UnrecognizedClientException' },
  FORBIDDEN: { status: 403, type: 'AccessDeniedException' },
  ROUTE_NOT_FOUND: { status: 404, type: 'UnknownOperationException' },
  SHUTTING_DOWN: { status: 503, type: 'ServiceException' },
  STORE_UNAVAILABLE: { status: 503, type: 'ServiceException' },
};

export function lambdaErrorReply(error: StratoError): LambdaErrorReply {
  const mapped = LAMBDA_TYPES[error.code];
  const status = mapped?.status ?? 500;
  const reply: LambdaErrorReply = {
    status,
    errorType: mapped?.type ?? 'ServiceException',
    body: { Type: status < 500 ? 'User' : 'Service', message: error.message },
  };
  if (error.code === 'TOO_MANY_REQUESTS') {
    const details = error.details as { retryAfterSeconds?: number } | undefined;
    reply.body.Reason = 'ReservedFunctionConcurrentInvocationLimitExceeded';
    reply.body.retryAfterSeconds = String(details?.retryAfterSeconds ?? 1);
  }
  if (error.code === 'RATE_LIMITED') {
    // Lambda's reasons for a rate (not a concurrency) limit: the function's, or the caller's own.
    const details = error.details as { retryAfterSeconds?: number; scope?: string } | undefined;
    reply.body.Reason =
      details?.scope === 'caller' ? 'CallerRateLimitExceeded' : 'FunctionInvocationRateLimitExceeded';
    reply.body.retryAfterSeconds = String(details?.retryAfterSeconds ?? 1);
  }
  return reply;
}

/** How AWS answers a request whose signature does not check out (always 403). */
export function lambdaSignatureErrorReply(failure: SigV4Failure): LambdaErrorReply {
  const errorType =
    failure.reason === 'missing'
      ? 'MissingAuthenticationTokenException'
      : failure.reason === 'unknown-key'
        ? 'UnrecognizedClientException'
        : failure.reason === 'malformed'
          ? 'IncompleteSignatureException'
          : 'InvalidSignatureException';
  return { status: 403, errorType, body: { Type: 'User', message: failure.message } };
}
