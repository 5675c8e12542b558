import { FUNCTION_NAME_PATTERN } from '../core/function.js';
import { StratoError } from '../core/strato-error.js';

/** The function name from a path, or INVALID_NAME: the same check and code on every route. */
export function checkFunctionName(name: unknown): string {
  if (typeof name !== 'string' || !FUNCTION_NAME_PATTERN.test(name)) {
    throw new StratoError('INVALID_NAME', 'function names are 1-64 characters of A-Z, a-z, 0-9, - and _');
  }
  return name;
}
