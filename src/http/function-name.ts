import type { FastifyRequest } from 'fastify';
import { FUNCTION_NAME_PATTERN } from '../core/function.js';
import { qualifiedName } from '../core/namespace.js';
import { StratoError } from '../core/strato-error.js';
import { principalOf } from './authentication.js';

/** The function name from a path, or INVALID_NAME: the same check and code on every route. */
export function checkFunctionName(name: unknown): string {
  if (typeof name !== 'string' || !FUNCTION_NAME_PATTERN.test(name)) {
    throw new StratoError('INVALID_NAME', 'function names are 1-64 characters of A-Z, a-z, 0-9, - and _');
  }
  return name;
}

/**
 * The function a control-plane request names in its `:name`, in the caller's namespace: the only way
 * a route gets a function name, so no route can reach another namespace's function.
 */
export function functionNameOf(request: FastifyRequest): string {
  return inCallerNamespace(request, (request.params as { name?: unknown }).name);
}

/** `name` (from a path, a body or a query) checked and qualified with the caller's namespace. */
export function inCallerNamespace(request: FastifyRequest, name: unknown): string {
  return qualifiedName(principalOf(request).namespace, checkFunctionName(name));
}
