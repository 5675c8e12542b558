import type { FastifyRequest } from 'fastify';
import { qualifiedName } from '../core/namespace.js';
import { principalOf } from './authentication.js';

/**
 * A deploy or settings body whose async destinations name functions of the caller's namespace: a
 * function-name destination is qualified like a path's `:name` (a URL stays as it is), so a function's
 * records can only be handed to a function of its own namespace.
 */
export function inNamespace<
  T extends { onSuccess?: string | null | undefined; onFailure?: string | null | undefined },
>(request: FastifyRequest, body: T): T {
  const namespace = principalOf(request).namespace;
  const qualify = (destination: string | null | undefined) =>
    typeof destination === 'string' && !destination.includes(':')
      ? qualifiedName(namespace, destination)
      : destination;
  return {
    ...body,
    ...(body.onSuccess === undefined ? {} : { onSuccess: qualify(body.onSuccess) }),
    ...(body.onFailure === undefined ? {} : { onFailure: qualify(body.onFailure) }),
  };
}
