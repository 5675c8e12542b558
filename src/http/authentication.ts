import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULT_NAMESPACE, type ApiKeyScope, type Principal } from '../core/api-key.js';
import { StratoError } from '../core/strato-error.js';
import type { Gatekeeper } from './gatekeeper.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent a control-plane request; set before any /v1 route runs. */
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** The scope a route needs when its method's default (GET: read, others: deploy) is not it. */
    scope?: ApiKeyScope;
  }
}

/**
 * The control plane always requires a key: every `/v1` route and `/metrics` authenticate the Bearer key
 * before the body is read, then check the route's scope and the key's rate limit. Health checks and the
 * console's static files are open (the console itself sends the key the user enters).
 */
export function registerAuthentication(app: FastifyInstance, gate: Gatekeeper): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    if (!needsKey(request)) return;
    const principal = await gate.admit(request.headers.authorization, scopeOf(request));
    if (platformOnly(request) && principal.namespace !== DEFAULT_NAMESPACE) {
      throw new StratoError(
        'FORBIDDEN',
        "node metrics and the node's image cache belong to the platform: they need a key of the default namespace",
      );
    }
    request.principal = principal;
  });
}

/** The principal of an authenticated request (routes under /v1 always have one). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === undefined) throw new Error(`no principal on ${request.method} ${request.url}`);
  return request.principal;
}

function needsKey(request: FastifyRequest): boolean {
  const url = request.url;
  return url.startsWith('/v1/') || url === '/v1' || isMetrics(url);
}

/** What the node shares between namespaces: its metrics and its image cache. */
function platformOnly(request: FastifyRequest): boolean {
  return isMetrics(request.url) || request.url.startsWith('/v1/images/');
}

function isMetrics(url: string): boolean {
  return url === '/metrics' || url.startsWith('/metrics?');
}

function scopeOf(request: FastifyRequest): ApiKeyScope {
  const configured = request.routeOptions.config.scope;
  if (configured !== undefined) return configured;
  return request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'deploy';
}
