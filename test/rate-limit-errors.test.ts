import { describe, expect, it } from 'vitest';
import { StratoError } from '../src/core/strato-error.js';
import { errorReply } from '../src/http/invocation-reply.js';
import { lambdaErrorReply } from '../src/lambda/lambda-errors.js';

const limited = (scope: string) =>
  new StratoError('RATE_LIMITED', 'over the limit', { details: { retryAfterSeconds: 2, scope } });

describe('RATE_LIMITED on the wire', () => {
  it('is a 429 with Retry-After on the native API', () => {
    const reply = errorReply(limited('function'), 'req-1');
    expect(reply.status).toBe(429);
    expect(reply.headers).toContainEqual(['retry-after', '2']);
    expect(JSON.parse(String(reply.body))).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: 'over the limit',
        requestId: 'req-1',
        details: { retryAfterSeconds: 2, scope: 'function' },
      },
    });
  });

  it("is Lambda's TooManyRequestsException with the rate-limit reasons", () => {
    expect(lambdaErrorReply(limited('function'))).toEqual({
      status: 429,
      errorType: 'TooManyRequestsException',
      body: {
        Type: 'User',
        message: 'over the limit',
        Reason: 'FunctionInvocationRateLimitExceeded',
        retryAfterSeconds: '2',
      },
    });
    expect(lambdaErrorReply(limited('caller')).body.Reason).toBe('CallerRateLimitExceeded');
  });
});
