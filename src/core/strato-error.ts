import { errorCodes, isErrorCode, type ErrorCode } from './error-codes.js';

/** The JSON shape of every platform error on the wire: `{ "error": StratoErrorBody }`. */
export interface StratoErrorBody {
  code: ErrorCode;
  message: string;
  requestId?: string;
  details?: unknown;
}

/**
 * The one error type of the platform. Every failure a caller can see carries a stable `code`.
 * Errors cross process and sandbox boundaries as {@link StratoErrorBody} and are matched by `code`,
 * never by `instanceof`.
 */
export class StratoError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StratoError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.details = options.details;
  }

  toBody(requestId?: string): StratoErrorBody {
    const body: StratoErrorBody = { code: this.code, message: this.message };
    if (requestId !== undefined) body.requestId = requestId;
    if (this.details !== undefined) body.details = this.details;
    return body;
  }

  /** Rebuilds an error that crossed a boundary; unknown codes become INTERNAL. */
  static fromBody(body: { code?: unknown; message?: unknown; details?: unknown }): StratoError {
    const code = isErrorCode(body.code) ? body.code : 'INTERNAL';
    const message = typeof body.message === 'string' ? body.message : 'unknown error';
    return new StratoError(code, message, { details: body.details });
  }
}

export function isStratoError(value: unknown): value is StratoError {
  return value instanceof Error && (value as { name?: unknown }).name === 'StratoError' && 'code' in value;
}
