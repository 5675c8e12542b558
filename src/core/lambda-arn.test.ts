import { describe, expect, it } from 'vitest';
import { lambdaFunctionArn, parseFunctionReference } from './lambda-arn.js';

describe('Lambda function references', () => {
  it.each([
    ['fn', { functionName: 'fn', qualifier: undefined }],
    ['fn:live', { functionName: 'fn', qualifier: 'live' }],
    ['fn:$LATEST', { functionName: 'fn', qualifier: '$LATEST' }],
    ['123456789012:function:fn', { functionName: 'fn', qualifier: undefined }],
    ['123456789012:function:fn:3', { functionName: 'fn', qualifier: '3' }],
    ['arn:aws:lambda:eu-west-1:123456789012:function:fn', { functionName: 'fn', qualifier: undefined }],
    ['arn:aws:lambda:eu-west-1:123456789012:function:fn:live', { functionName: 'fn', qualifier: 'live' }],
  ])('%s', (value, reference) => {
    expect(parseFunctionReference(value)).toEqual(reference);
  });

  it.each(['', 'a/b', 'fn:a:b', 'x'.repeat(65), 'arn:aws:lambda:eu-west-1:123:function:fn', 'fn:'])(
    'refuses %j',
    (value) => {
      expect(parseFunctionReference(value)).toBeUndefined();
    },
  );

  it('round-trips an ARN it built', () => {
    const arn = lambdaFunctionArn({ functionName: 'fn', qualifier: '7', region: 'ap-south-1' });
    expect(arn).toBe('arn:aws:lambda:ap-south-1:000000000000:function:fn:7');
    expect(parseFunctionReference(arn)).toEqual({ functionName: 'fn', qualifier: '7' });
  });
});
