import { FUNCTION_NAME_PATTERN } from './function.js';

/** Strato has no AWS account: ARNs carry a placeholder account of the right shape (runtimes and SDKs parse ARNs). */
export const LAMBDA_ACCOUNT_ID = '000000000000';
export const DEFAULT_LAMBDA_REGION = 'us-east-1';

/**
 * A function's ARN as Lambda writes it, e.g. in `Lambda-Runtime-Invoked-Function-Arn` or `FunctionArn`.
 * @param qualifier the version or alias; omitted for the unqualified ARN
 */
export function lambdaFunctionArn(options: {
  functionName: string;
  qualifier?: string;
  /** @default 'us-east-1' */
  region?: string;
  /** @default '000000000000' */
  accountId?: string;
}): string {
  const base = `arn:aws:lambda:${options.region ?? DEFAULT_LAMBDA_REGION}:${options.accountId ?? LAMBDA_ACCOUNT_ID}:function:${options.functionName}`;
  return options.qualifier === undefined ? base : `${base}:${options.qualifier}`;
}

/** What a Lambda `FunctionName` parameter names: the function, and a qualifier when an ARN carried one. */
export interface FunctionReference {
  functionName: string;
  qualifier: string | undefined;
}

// Lambda accepts `my-function[:qualifier]`, `123456789012:function:my-function[:qualifier]` and the full ARN.
const FULL_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([^:]+)(?::([^:]+))?$/;
const PARTIAL_ARN = /^\d{12}:function:([^:]+)(?::([^:]+))?$/;
const NAME = /^([^:]+)(?::([^:]+))?$/;

/** Parses a Lambda `FunctionName` (name, partial ARN or ARN); undefined when it is none of them. */
export function parseFunctionReference(value: string): FunctionReference | undefined {
  const match = FULL_ARN.exec(value) ?? PARTIAL_ARN.exec(value) ?? NAME.exec(value);
  if (match === null || !FUNCTION_NAME_PATTERN.test(match[1]!)) return undefined;
  return { functionName: match[1]!, qualifier: match[2] };
}
