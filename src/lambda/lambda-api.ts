import type { Logger } from 'pino';
import { isStratoError, StratoError } from '../core/strato-error.js';
import { LambdaAliasOperations } from './lambda-aliases.js';
import type { OperationContext, OperationReply } from './lambda-context.js';
import { lambdaErrorReply, lambdaSignatureErrorReply, type LambdaErrorReply } from './lambda-errors.js';
import { LambdaFunctionOperations } from './lambda-functions.js';
import { lambdaInvoke, type LambdaInvokeDeps } from './lambda-invoke.js';
import { LAMBDA_API_PREFIX, matchLambdaRoute, type LambdaRoute } from './lambda-routes.js';
import { verifySigV4 } from './sigv4.js';

export interface LambdaApiDeps extends LambdaInvokeDeps {
  credentials: ReadonlyArray<{ accessKeyId: string; secretAccessKey: string }>;
  /** Largest body of a sync Invoke (Lambda: 6 MB). */
  maxPayloadBytes: number;
  /** Largest body of the other operations (a base64 zip in JSON). */
  maxRequestBytes: number;
  logger: Logger;
  /** @default Date.now */
  now?: () => number;
}

/** A request as the HTTP layer read it. */
export interface LambdaRequest {
  method: string;
  /** Path and query exactly as received. */
  rawPath: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  requestId: string;
}

export interface LambdaReply {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

/**
 * The AWS Lambda REST API (`/2015-03-31/functions/...`) over Strato's functions, so the unmodified AWS SDK
 * and tools drive Strato. Protocol only: the HTTP layer reads the body (with `bodyLimit`) and writes the
 * reply. Every request must carry a valid Signature V4 by a key pair from the config; there is no
 * anonymous access.
 */
export class LambdaApi {
  private readonly secrets: Map<string, string>;
  private readonly functionOps: LambdaFunctionOperations;
  private readonly aliasOps: LambdaAliasOperations;

  constructor(private readonly deps: LambdaApiDeps) {
    this.secrets = new Map(deps.credentials.map((pair) => [pair.accessKeyId, pair.secretAccessKey]));
    this.functionOps = new LambdaFunctionOperations(deps);
    this.aliasOps = new LambdaAliasOperations(deps);
  }

  static handles(rawPath: string): boolean {
    return rawPath.startsWith(LAMBDA_API_PREFIX);
  }

  /** Invoke bodies are payloads; the others may carry a whole deployment package. */
  bodyLimit(rawPath: string): number {
    const path = rawPath.split('?', 1)[0]!;
    return path.endsWith('/invocations') ? this.deps.maxPayloadBytes : this.deps.maxRequestBytes;
  }

  /** A request without any signature is refused before its body is read. */
  refuseUnsigned(
    rawPath: string,
    headers: LambdaRequest['headers'],
    requestId: string,
  ): LambdaReply | undefined {
    if (headers.authorization !== undefined || rawPath.includes('X-Amz-Signature=')) return undefined;
    return this.errorReply(
      lambdaSignatureErrorReply({ ok: false, reason: 'missing', message: 'Missing Authentication Token' }),
      requestId,
    );
  }

  /** The reply for an error raised while the HTTP layer read the body (too large, broken connection). */
  errorFor(error: unknown, requestId: string): LambdaReply {
    const stratoError = toStratoError(error);
    if (stratoError.code === 'INTERNAL')
      this.deps.logger.error({ err: error, requestId }, 'Lambda API request failed');
    return this.errorReply(lambdaErrorReply(stratoError), requestId);
  }

  async handle(request: LambdaRequest): Promise<LambdaReply> {
    if (this.secrets.size === 0) {
      return this.errorReply(
        {
          status: 403,
          errorType: 'UnrecognizedClientException',
          body: {
            Type: 'User',
            message:
              'the Lambda API has no access keys configured: set STRATO_LAMBDA_ACCESS_KEY_ID and STRATO_LAMBDA_SECRET_ACCESS_KEY (or lambdaCredentials in the config file)',
          },
        },
        request.requestId,
      );
    }
    const auth = verifySigV4(request, (id) => this.secrets.get(id), {
      service: 'lambda',
      now: this.deps.now ?? Date.now,
    });
    if (!auth.ok) return this.errorReply(lambdaSignatureErrorReply(auth), request.requestId);
    const queryAt = request.rawPath.indexOf('?');
    const path = queryAt === -1 ? request.rawPath : request.rawPath.slice(0, queryAt);
    const context: OperationContext = {
      region: auth.region,
      query: new URLSearchParams(queryAt === -1 ? '' : request.rawPath.slice(queryAt + 1)),
      requestId: request.requestId,
    };
    try {
      const route = matchLambdaRoute(request.method, path);
      if (route === undefined) {
        throw new StratoError('ROUTE_NOT_FOUND', `Strato does not serve ${request.method} ${path}`);
      }
      const reply = await this.dispatch(route, request, context);
      return this.successReply(reply, request.requestId);
    } catch (error) {
      return this.errorFor(error, request.requestId);
    }
  }

  private dispatch(
    route: LambdaRoute,
    request: LambdaRequest,
    context: OperationContext,
  ): Promise<OperationReply> {
    const json = () => parseJsonBody(request.body);
    switch (route.op) {
      case 'CreateFunction':
        return this.functionOps.createFunction(json(), context);
      case 'ListFunctions':
        return this.functionOps.listFunctions(context);
      case 'GetFunction':
        return this.functionOps.getFunction(route.functionName, context);
      case 'GetFunctionConfiguration':
        return this.functionOps.getFunctionConfiguration(route.functionName, context);
      case 'DeleteFunction':
        return this.functionOps.deleteFunction(route.functionName, context);
      case 'UpdateFunctionCode':
        return this.functionOps.updateFunctionCode(route.functionName, json(), context);
      case 'UpdateFunctionConfiguration':
        return this.functionOps.updateFunctionConfiguration(route.functionName, json(), context);
      case 'PublishVersion':
        return this.functionOps.publishVersion(route.functionName, json(), context);
      case 'ListVersionsByFunction':
        return this.functionOps.listVersionsByFunction(route.functionName, context);
      case 'CreateAlias':
        return this.aliasOps.createAlias(route.functionName, json(), context);
      case 'ListAliases':
        return this.aliasOps.listAliases(route.functionName, context);
      case 'GetAlias':
        return this.aliasOps.getAlias(route.functionName, route.aliasName, context);
      case 'UpdateAlias':
        return this.aliasOps.updateAlias(route.functionName, route.aliasName, json(), context);
      case 'DeleteAlias':
        return this.aliasOps.deleteAlias(route.functionName, route.aliasName);
      case 'Invoke':
        return lambdaInvoke(this.deps, route.functionName, request.headers, request.body, context);
    }
  }

  private successReply(reply: OperationReply, requestId: string): LambdaReply {
    const headers: Array<[string, string]> = [['x-amzn-requestid', requestId], ...(reply.headers ?? [])];
    // An operation may name its own request id (Invoke: the invocation's id); the last one wins.
    const deduplicated = [...new Map(headers.map(([name, value]) => [name, value])).entries()];
    if (reply.raw === undefined && reply.body === undefined)
      return { status: reply.status, headers: deduplicated, body: '' };
    deduplicated.push(['content-type', 'application/json']);
    return { status: reply.status, headers: deduplicated, body: reply.raw ?? JSON.stringify(reply.body) };
  }

  private errorReply(error: LambdaErrorReply, requestId: string): LambdaReply {
    return {
      status: error.status,
      headers: [
        ['x-amzn-requestid', requestId],
        ['x-amzn-errortype', error.errorType],
        ['content-type', 'application/json'],
      ],
      body: JSON.stringify(error.body),
    };
  }
}

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new StratoError('INVALID_JSON', `the request body is not JSON: ${(error as Error).message}`);
  }
}

function toStratoError(error: unknown): StratoError {
  return isStratoError(error) ? error : new StratoError('INTERNAL', 'internal error', { cause: error });
}
