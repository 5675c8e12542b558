import type { VersionRecord } from '../core/function.js';
import { parseFunctionReference } from '../core/lambda-arn.js';
import { StratoError } from '../core/strato-error.js';
import type { FunctionService } from '../control/function-service.js';
import type { RuntimeDescription } from './function-configuration.js';

/** What every Lambda operation gets besides its body. */
export interface OperationContext {
  /** The region the request was signed for; ARNs in replies carry it, as Lambda's do. */
  region: string;
  query: URLSearchParams;
  requestId: string;
}

/** A successful reply before it is serialised: a JSON value, JSON text already made, or nothing. */
export interface OperationReply {
  status: number;
  body?: unknown;
  raw?: string;
  headers?: Array<[string, string]>;
}

export interface LambdaOperationDeps {
  functions: FunctionService;
  describeRuntime: (runtime: string) => RuntimeDescription | undefined;
}

/**
 * The function a path label names, with the qualifier from the ARN or the `Qualifier` query parameter
 * (both given and different: refused, as Lambda does).
 */
export function functionTarget(
  label: string,
  query: URLSearchParams | undefined,
): { functionName: string; qualifier: string | undefined } {
  const reference = parseFunctionReference(label);
  if (reference === undefined) {
    throw new StratoError('INVALID_NAME', `'${label}' is not a function name or function ARN`);
  }
  const fromQuery = query?.get('Qualifier') ?? undefined;
  if (fromQuery !== undefined && reference.qualifier !== undefined && fromQuery !== reference.qualifier) {
    throw new StratoError(
      'INVALID_QUALIFIER',
      `the ARN's qualifier '${reference.qualifier}' and Qualifier '${fromQuery}' differ`,
    );
  }
  return { functionName: reference.functionName, qualifier: reference.qualifier ?? fromQuery };
}

/** An unqualified name: for operations on the whole function, where a qualifier would be ignored silently. */
export function unqualifiedTarget(label: string): string {
  const target = functionTarget(label, undefined);
  if (target.qualifier !== undefined) {
    throw new StratoError('INVALID_QUALIFIER', 'this operation takes an unqualified function name or ARN');
  }
  return target.functionName;
}

/** The version a qualifier names: `$LATEST` (or none), a version number, or an alias. */
export async function resolveQualifier(
  functions: FunctionService,
  functionName: string,
  qualifier: string | undefined,
): Promise<{ version: VersionRecord; view: '$LATEST' | 'version' }> {
  if (qualifier === undefined || qualifier === '$LATEST') {
    return { version: (await functions.get(functionName)).latest, view: '$LATEST' };
  }
  if (/^[1-9]\d{0,9}$/.test(qualifier)) {
    return { version: await functions.getVersion(functionName, Number(qualifier)), view: 'version' };
  }
  const alias = await functions.getAlias(functionName, qualifier);
  return { version: await functions.getVersion(functionName, alias.functionVersion), view: 'version' };
}

/** Reads `MaxItems` the way Lambda pages: 50 by default, and at most what one store page holds. */
export function pageSize(maxItems: number | undefined): number {
  return Math.min(maxItems ?? 50, 1000);
}
