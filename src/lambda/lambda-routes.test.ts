import { describe, expect, it } from 'vitest';
import { matchLambdaRoute } from './lambda-routes.js';

describe('matchLambdaRoute', () => {
  it.each([
    ['POST', '/2015-03-31/functions', { op: 'CreateFunction' }],
    ['GET', '/2015-03-31/functions/', { op: 'ListFunctions' }],
    ['GET', '/2015-03-31/functions/fn', { op: 'GetFunction', functionName: 'fn' }],
    ['DELETE', '/2015-03-31/functions/fn', { op: 'DeleteFunction', functionName: 'fn' }],
    ['PUT', '/2015-03-31/functions/fn/code', { op: 'UpdateFunctionCode', functionName: 'fn' }],
    [
      'PUT',
      '/2015-03-31/functions/fn/configuration',
      { op: 'UpdateFunctionConfiguration', functionName: 'fn' },
    ],
    ['POST', '/2015-03-31/functions/fn/versions', { op: 'PublishVersion', functionName: 'fn' }],
    [
      'GET',
      '/2015-03-31/functions/fn/aliases/live',
      { op: 'GetAlias', functionName: 'fn', aliasName: 'live' },
    ],
    [
      'POST',
      '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Afn/invocations',
      { op: 'Invoke', functionName: 'arn:aws:lambda:us-east-1:000000000000:function:fn' },
    ],
  ])('%s %s', (method, path, route) => {
    expect(matchLambdaRoute(method, path)).toEqual(route);
  });

  it.each([
    ['PATCH', '/2015-03-31/functions/fn'],
    ['GET', '/2015-03-31/functions/fn/policy'],
    ['GET', '/2015-03-31/functions/fn/aliases/live/extra'],
    ['GET', '/2015-03-31/functions//code'],
    ['GET', '/2015-03-31/functions/%E0%A4%A'],
    ['GET', '/2015-03-31/layers'],
  ])('does not serve %s %s', (method, path) => {
    expect(matchLambdaRoute(method, path)).toBeUndefined();
  });
});
