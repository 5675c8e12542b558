// Registry authentication as Docker's distribution defines it: a 401 with a `WWW-Authenticate` challenge,
// answered with Basic credentials or with a bearer token from the challenge's realm (the token flow of
// https://distribution.github.io/distribution/spec/auth/token/). Tokens are cached per registry and scope
// until they expire; concurrent requests that meet the same challenge share one token request.
import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';
import { readBoundedBody } from './bounded-body.js';
import { isPlainHttpRegistry } from './image-reference.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export type AuthChallenge =
  | { scheme: 'basic' }
  | { scheme: 'bearer'; realm: string; service?: string | undefined; scope?: string | undefined };

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`; undefined for anything else. */
export function parseAuthChallenge(header: string | null): AuthChallenge | undefined {
  if (header === null) return undefined;
  const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  const scheme = match?.[1]?.toLowerCase();
  const params = new Map<string, string>();
  for (const param of (match?.[2] ?? '').matchAll(
    /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))/g,
  )) {
    const name = param[1]?.toLowerCase();
    const value = param[2] === undefined ? param[3] : param[2].replace(/\\(.)/g, '$1');
    if (name !== undefined && value !== undefined && !params.has(name)) params.set(name, value);
  }
  if (scheme === 'basic') return { scheme: 'basic' };
  if (scheme === 'bearer') {
    const realm = params.get('realm');
    if (realm === undefined) return undefined;
    return { scheme: 'bearer', realm, service: params.get('service'), scope: params.get('scope') };
  }
  return undefined;
}

const tokenResponseSchema = z.object({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().int().positive().optional(),
});

/** The token spec's default lifetime when a token service sends none. */
const DEFAULT_TOKEN_SECONDS = 60;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
/** Tokens are dropped this long before they expire, so none runs out in flight. */
const EXPIRY_MARGIN_MS = 5_000;

export interface RegistryAuthOptions {
  credentials?: ((registry: string) => RegistryCredentials | undefined) | undefined;
  insecureRegistries: readonly string[];
  timeoutMs: number;
  now?: () => number;
}

function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/** The Authorization values of one client: Basic per registry, bearer tokens per registry and scope. */
export class RegistryAuth {
  private readonly basic = new Map<string, string>();
  private readonly tokens = new Map<string, { authorization: string; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();
  private readonly now: () => number;

  constructor(private readonly options: RegistryAuthOptions) {
    this.now = options.now ?? Date.now;
  }

  /** What to send before any challenge: a live token for the scope, or Basic once the registry asked for it. */
  authorization(registry: string, scope: string): string | undefined {
    const token = this.tokens.get(`${registry} ${scope}`);
    if (token !== undefined && token.expiresAt > this.now()) return token.authorization;
    return this.basic.get(registry);
  }

  /**
   * The Authorization value answering a 401's challenge.
   * @throws StratoError REGISTRY_AUTH_FAILED (credentials needed but missing, or refused by the token
   *   service), IMAGE_PULL_FAILED (the token service failed or answered nonsense)
   */
  async answer(registry: string, scope: string, header: string | null): Promise<string> {
    const challenge = parseAuthChallenge(header);
    if (challenge === undefined) {
      throw new StratoError(
        'REGISTRY_AUTH_FAILED',
        `registry ${registry} requires an authentication scheme Strato does not speak`,
      );
    }
    const key = `${registry} ${scope}`;
    this.tokens.delete(key);
    if (challenge.scheme === 'basic') {
      const credentials = this.options.credentials?.(registry);
      if (credentials === undefined) {
        throw new StratoError(
          'REGISTRY_AUTH_FAILED',
          `registry ${registry} requires credentials and none are configured for it`,
        );
      }
      const authorization = basicAuthorization(credentials);
      this.basic.set(registry, authorization);
      return authorization;
    }
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const request = this.fetchToken(registry, challenge, scope).finally(() => this.pending.delete(key));
    this.pending.set(key, request);
    return request;
  }

  /** Drops what is cached for a registry (after it refused it). */
  forget(registry: string, scope: string): void {
    this.tokens.delete(`${registry} ${scope}`);
    this.basic.delete(registry);
  }

  private async fetchToken(
    registry: string,
    challenge: Extract<AuthChallenge, { scheme: 'bearer' }>,
    scope: string,
  ): Promise<string> {
    let url: URL;
    try {
      url = new URL(challenge.realm);
    } catch (error) {
      throw new StratoError('IMAGE_PULL_FAILED', `registry ${registry} named an invalid token realm`, {
        cause: error,
      });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new StratoError(
        'IMAGE_PULL_FAILED',
        `registry ${registry} named a token realm that is not http(s)`,
      );
    }
    if (challenge.service !== undefined) url.searchParams.set('service', challenge.service);
    url.searchParams.set('scope', challenge.scope ?? scope);
    const credentials = this.options.credentials?.(registry);
    // Credentials never travel in clear text to a realm that is not on this machine or explicitly trusted.
    const mayCarryCredentials =
      url.protocol === 'https:' || isPlainHttpRegistry(url.host, this.options.insecureRegistries);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (credentials !== undefined && mayCarryCredentials)
      headers.authorization = basicAuthorization(credentials);
    let response: Response;
    try {
      response = await fetch(url, {
        headers,
        signal: AbortSignal.timeout(this.options.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      throw new StratoError(
        'IMAGE_PULL_FAILED',
        `could not reach the token service of registry ${registry}`,
        { cause: error },
      );
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new StratoError(
        'REGISTRY_AUTH_FAILED',
        credentials === undefined
          ? `registry ${registry} requires credentials and none are configured for it`
          : `registry ${registry} refused the credentials`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new StratoError(
        'IMAGE_PULL_FAILED',
        `the token service of registry ${registry} answered ${response.status}`,
      );
    }
    const bytes = await readBoundedBody(
      response,
      MAX_TOKEN_RESPONSE_BYTES,
      () =>
        new StratoError(
          'IMAGE_PULL_FAILED',
          `the token service of registry ${registry} sent more than 1 MiB`,
        ),
    );
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw new StratoError('IMAGE_PULL_FAILED', `the token service of registry ${registry} sent no JSON`, {
        cause: error,
      });
    }
    const parsed = tokenResponseSchema.safeParse(body);
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (!parsed.success || token === undefined || token === '') {
      throw new StratoError('IMAGE_PULL_FAILED', `the token service of registry ${registry} sent no token`);
    }
    const lifetimeMs = (parsed.data.expires_in ?? DEFAULT_TOKEN_SECONDS) * 1000;
    const authorization = `Bearer ${token}`;
    this.tokens.set(`${registry} ${scope}`, {
      authorization,
      expiresAt: this.now() + lifetimeMs - EXPIRY_MARGIN_MS,
    });
    return authorization;
  }
}
