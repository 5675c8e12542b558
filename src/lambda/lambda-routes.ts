/** The Lambda REST operations Strato serves, as `@aws-sdk/client-lambda` addresses them. */
export type LambdaRoute =
  | { op: 'CreateFunction' }
  | { op: 'ListFunctions' }
  | { op: 'GetFunction'; functionName: string }
  | { op: 'DeleteFunction'; functionName: string }
  | { op: 'GetFunctionConfiguration'; functionName: string }
  | { op: 'UpdateFunctionConfiguration'; functionName: string }
  | { op: 'UpdateFunctionCode'; functionName: string }
  | { op: 'PublishVersion'; functionName: string }
  | { op: 'ListVersionsByFunction'; functionName: string }
  | { op: 'CreateAlias'; functionName: string }
  | { op: 'ListAliases'; functionName: string }
  | { op: 'GetAlias'; functionName: string; aliasName: string }
  | { op: 'UpdateAlias'; functionName: string; aliasName: string }
  | { op: 'DeleteAlias'; functionName: string; aliasName: string }
  | { op: 'Invoke'; functionName: string };

export const LAMBDA_API_PREFIX = '/2015-03-31/';
const FUNCTIONS = '/2015-03-31/functions';

type FunctionOp = Extract<LambdaRoute, { functionName: string }>['op'];

/** `{FunctionName}/<sub>` operations by method and sub-resource. */
const FUNCTION_OPS: Record<
  string,
  Partial<Record<string, Exclude<FunctionOp, 'GetAlias' | 'UpdateAlias' | 'DeleteAlias'>>>
> = {
  '': { GET: 'GetFunction', DELETE: 'DeleteFunction' },
  configuration: { GET: 'GetFunctionConfiguration', PUT: 'UpdateFunctionConfiguration' },
  code: { PUT: 'UpdateFunctionCode' },
  versions: { POST: 'PublishVersion', GET: 'ListVersionsByFunction' },
  aliases: { POST: 'CreateAlias', GET: 'ListAliases' },
  invocations: { POST: 'Invoke' },
};
const ALIAS_OPS: Partial<Record<string, 'GetAlias' | 'UpdateAlias' | 'DeleteAlias'>> = {
  GET: 'GetAlias',
  PUT: 'UpdateAlias',
  DELETE: 'DeleteAlias',
};

/**
 * Matches a request path (without its query) to an operation. Path labels arrive percent-encoded (an ARN's
 * `:` as `%3A`) and are decoded here. Undefined: not an operation Strato serves.
 */
export function matchLambdaRoute(method: string, path: string): LambdaRoute | undefined {
  if (path === FUNCTIONS || path === `${FUNCTIONS}/`) {
    if (method === 'POST') return { op: 'CreateFunction' };
    if (method === 'GET') return { op: 'ListFunctions' };
    return undefined;
  }
  if (!path.startsWith(`${FUNCTIONS}/`)) return undefined;
  const segments = path
    .slice(FUNCTIONS.length + 1)
    .split('/')
    .map(decode);
  if (segments.some((segment) => segment === undefined || segment === '')) return undefined;
  const [functionName, sub = '', aliasName, ...rest] = segments as string[];
  if (functionName === undefined || rest.length > 0) return undefined;
  if (aliasName !== undefined) {
    const op = sub === 'aliases' ? ALIAS_OPS[method] : undefined;
    return op === undefined ? undefined : { op, functionName, aliasName };
  }
  const op = FUNCTION_OPS[sub]?.[method];
  return op === undefined ? undefined : { op, functionName };
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
