import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FunctionErrorInfo } from '../../core/invocation.js';
import { StratoError } from '../../core/strato-error.js';
import {
  functionErrorTypeOf,
  headerValue,
  matchRoute,
  nextInvocationHeaders,
  parseLambdaError,
  readBoundedBody,
  sendAccepted,
  sendInternalError,
  sendInvalidRequestId,
  sendLambdaError,
  sendTooLarge,
} from './runtime-api-wire.js';

/** Where the endpoint listens: TCP (default `127.0.0.1`, port 0), or a Unix socket. */
export type RuntimeApiListen =
  | { host?: string; port?: number }
  /**
   * A Unix socket, for a tier that bridges it into the instance's network namespace. `advertisedAddress`
   * is the `host:port` the runtime reaches the bridge at. @default '127.0.0.1:9001' (Lambda's own)
   */
  | { path: string; advertisedAddress?: string };

export interface RuntimeApiEndpointOptions {
  /**
   * Sent to the runtime as `Lambda-Runtime-Invoked-Function-Arn`. May be left out and set later with
   * {@link RuntimeApiEndpoint.setFunctionArn} (an endpoint started before its instance has a function).
   */
  functionArn?: string;
  /** Largest response or error body the runtime may post. @default 6 MiB (Lambda's) */
  maxResponseBytes?: number;
  /** @default { host: '127.0.0.1', port: 0 } */
  listen?: RuntimeApiListen;
}

/** One invocation handed to the runtime by `GET /runtime/invocation/next`. */
export interface RuntimeInvocationRequest {
  invocationId: string;
  /** The event, as the body of `/next`. */
  payload: Buffer;
  /** Epoch ms; sent as `Lambda-Runtime-Deadline-Ms`. */
  deadline: number;
  /** X-Ray trace header; one is made up when absent, as Lambda always sends one. */
  traceId?: string;
  /** W3C traceparent of the invocation's span (`Lambda-Runtime-Traceparent`, Strato's addition). */
  traceparent?: string;
  /** Client context JSON (`Lambda-Runtime-Client-Context`). */
  clientContext?: string;
  /** Cognito identity JSON (`Lambda-Runtime-Cognito-Identity`). */
  cognitoIdentity?: string;
}

/** How the runtime answered one invocation. */
export type RuntimeInvocationResult =
  | { outcome: 'success'; body: Buffer; contentType: string | undefined }
  | { outcome: 'error'; error: FunctionErrorInfo; functionErrorType: string | undefined };

interface InFlight {
  request: RuntimeInvocationRequest;
  headers: Record<string, string | number>;
  /** The `/next` response that carried it; cleared if that poll died before the event was written. */
  deliveredTo: ServerResponse | undefined;
  resolve: (result: RuntimeInvocationResult) => void;
  reject: (error: StratoError) => void;
}

/**
 * The AWS Lambda Runtime API of ONE instance, so an unmodified Lambda runtime client can run in a
 * non-isolate tier. Each instance gets its own listener: a runtime can only ever poll its own invocations.
 * Lambda semantics: one invocation in flight at a time; timeouts are the tier's job (it must kill the
 * instance anyway), so an invocation waits here until the runtime answers or the endpoint is closed.
 */
export class RuntimeApiEndpoint {
  /** `host:port` for `AWS_LAMBDA_RUNTIME_API`. */
  readonly address: string;
  private readonly maxResponseBytes: number;
  private current: InFlight | undefined;
  /** `/next` requests waiting for an invocation, oldest first. */
  private readonly polls: ServerResponse[] = [];
  private polled = false;
  private closed = false;
  private initFailure: FunctionErrorInfo | undefined;
  private readonly initErrorListeners = new Set<(error: FunctionErrorInfo) => void>();
  private readonly pollListeners: Array<{ resolve: () => void; reject: (error: StratoError) => void }> = [];
  private readonly firstPoll: Promise<void>;
  private settleFirstPoll!: (error?: StratoError) => void;

  private constructor(
    private readonly server: Server,
    address: string,
    private functionArn: string | undefined,
    maxResponseBytes: number,
  ) {
    this.address = address;
    this.maxResponseBytes = maxResponseBytes;
    this.firstPoll = new Promise<void>((resolve, reject) => {
      this.settleFirstPoll = (error) => (error === undefined ? resolve() : reject(error));
    });
    // Nobody has to wait for readiness; an unobserved rejection must not crash the gateway.
    this.firstPoll.catch(() => undefined);
  }

  /** Starts the endpoint's own HTTP server. */
  static async start(options: RuntimeApiEndpointOptions): Promise<RuntimeApiEndpoint> {
    const maxResponseBytes = options.maxResponseBytes ?? 6 * 1024 * 1024;
    if (options.functionArn !== undefined) checkArn(options.functionArn);
    // keepAliveTimeout 0: runtime clients keep pooled connections idle while another one long-polls
    // `/next`; Node's 5 s default would close them under the client (a reset on its next POST). The only
    // peer is the instance itself, and close() drops every connection.
    const server = createServer({ keepAliveTimeout: 0 });
    const listen = options.listen ?? {};
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const onListening = () => {
        server.off('error', reject);
        resolve();
      };
      if ('path' in listen) server.listen(listen.path, onListening);
      else server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', onListening);
    }).catch((error: unknown) => {
      throw new StratoError('INTERNAL', 'the runtime API endpoint could not listen', { cause: error });
    });
    const bound = server.address();
    const address =
      'path' in listen || bound === null || typeof bound === 'string'
        ? ('advertisedAddress' in listen && listen.advertisedAddress) || '127.0.0.1:9001'
        : bound.family === 'IPv6'
          ? `[${bound.address}]:${bound.port}`
          : `${bound.address}:${bound.port}`;
    const endpoint = new RuntimeApiEndpoint(server, address, options.functionArn, maxResponseBytes);
    server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      endpoint.route(request, response),
    );
    // Answer `Expect: 100-continue` ourselves, so a body declared too large is refused before it is sent.
    server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
      if (Number(request.headers['content-length'] ?? 0) <= maxResponseBytes) response.writeContinue();
      endpoint.route(request, response);
    });
    return endpoint;
  }

  /** Names the function the endpoint serves, once; before that, invoke() refuses. */
  setFunctionArn(functionArn: string): void {
    if (this.functionArn !== undefined) throw new StratoError('INTERNAL', 'the function ARN is already set');
    checkArn(functionArn);
    this.functionArn = functionArn;
  }

  /**
   * Resolves once the runtime has a `/next` poll waiting here (at once if it has): it is done with its last
   * invocation. Rejects when the endpoint closes first.
   */
  nextPoll(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.polls.some((poll) => !poll.destroyed)) return Promise.resolve();
    return new Promise((resolve, reject) => this.pollListeners.push({ resolve, reject }));
  }

  /**
   * Queues an invocation for the runtime's next poll and resolves with its answer. Rejects when an
   * invocation is already in flight (the scheduler never does that) or the endpoint closes first.
   */
  invoke(request: RuntimeInvocationRequest): Promise<RuntimeInvocationResult> {
    if (this.closed) return Promise.reject(closedError());
    if (this.functionArn === undefined) {
      return Promise.reject(new StratoError('INTERNAL', 'the endpoint has no function yet'));
    }
    if (this.current !== undefined) {
      const inFlight = this.current.request.invocationId;
      return Promise.reject(
        new StratoError('INTERNAL', `invocation ${inFlight} is still in flight on this instance`),
      );
    }
    const headers = nextInvocationHeaders(request, this.functionArn);
    if (typeof headers === 'string') {
      return Promise.reject(new StratoError('INTERNAL', `${headers} cannot be sent to a Lambda runtime`));
    }
    return new Promise((resolve, reject) => {
      this.current = { request, headers, deliveredTo: undefined, resolve, reject };
      this.dispatch();
    });
  }

  /** Resolves when the runtime first asks for an invocation: it has initialised. Rejects on init error or close. */
  waitForFirstPoll(): Promise<void> {
    return this.firstPoll;
  }

  /** The runtime's `POST /runtime/init/error`. Called at once when it already happened. Returns an unsubscribe. */
  onInitError(listener: (error: FunctionErrorInfo) => void): () => void {
    const failure = this.initFailure;
    if (failure !== undefined) queueMicrotask(() => listener(failure));
    else this.initErrorListeners.add(listener);
    return () => this.initErrorListeners.delete(listener);
  }

  /** Closes the server: a pending invoke rejects, a waiting long poll gets a 500 (Lambda's "exit now"). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.current?.reject(closedError());
    this.current = undefined;
    this.settleFirstPoll(closedError());
    for (const listener of this.pollListeners.splice(0)) listener.reject(closedError());
    for (const poll of this.polls.splice(0)) {
      sendLambdaError(poll, 500, 'InternalServerError', 'the instance is shutting down', true);
    }
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // Idle keep-alive connections go at once; a body still uploading goes after this turn's writes.
      this.server.closeIdleConnections();
      setImmediate(() => this.server.closeAllConnections());
    });
  }

  private route(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const route = matchRoute(path);
    if (route === undefined) {
      sendLambdaError(response, 404, 'NotFound', `no Runtime API route ${request.method ?? ''} ${path}`);
      return;
    }
    const method = route.name === 'next' ? 'GET' : 'POST';
    if (request.method !== method) {
      response.setHeader('allow', method);
      sendLambdaError(response, 405, 'MethodNotAllowed', `${path} only accepts ${method}`);
      return;
    }
    if (this.closed) {
      sendLambdaError(response, 500, 'InternalServerError', 'the instance is shutting down', true);
      return;
    }
    switch (route.name) {
      case 'next':
        return this.onNext(response);
      case 'response':
      case 'error':
        return void this.onAnswer(request, response, route.name, route.invocationId).catch((error: unknown) =>
          sendInternalError(response, error),
        );
      case 'init-error':
        return void this.onInitErrorPost(request, response).catch((error: unknown) =>
          sendInternalError(response, error),
        );
    }
  }

  private onNext(response: ServerResponse): void {
    // A long poll may wait for minutes. Node's request/headers timeouts stop counting once the request is
    // received, so only the socket's idle timeout could cut it: keep that off for this route.
    response.socket?.setTimeout(0);
    if (!this.polled) {
      this.polled = true;
      this.settleFirstPoll();
    }
    response.once('close', () => {
      const waiting = this.polls.indexOf(response);
      if (waiting !== -1) this.polls.splice(waiting, 1);
      // The runtime went away before the event was written: keep it for the next poll.
      const invocation = this.current;
      if (invocation?.deliveredTo === response && !response.writableFinished) {
        invocation.deliveredTo = undefined;
        this.dispatch();
      }
    });
    this.polls.push(response);
    this.dispatch();
    for (const listener of this.pollListeners.splice(0)) listener.resolve();
  }

  /** Hands the in-flight invocation to the oldest live poll, if it is not with a runtime already. */
  private dispatch(): void {
    const invocation = this.current;
    if (invocation === undefined || invocation.deliveredTo !== undefined) return;
    for (let poll = this.polls.shift(); poll !== undefined; poll = this.polls.shift()) {
      if (poll.destroyed) continue;
      invocation.deliveredTo = poll;
      poll.writeHead(200, invocation.headers).end(invocation.request.payload);
      return;
    }
  }

  private async onAnswer(
    request: IncomingMessage,
    response: ServerResponse,
    kind: 'response' | 'error',
    invocationId: string,
  ): Promise<void> {
    if (!this.awaitsAnswer(invocationId)) return sendInvalidRequestId(response);
    const read = await readBoundedBody(request, this.maxResponseBytes);
    if (read.kind === 'aborted') return;
    if (!this.awaitsAnswer(invocationId)) return sendInvalidRequestId(response);
    if (read.kind === 'too_large') {
      // As Lambda: the caller gets this error, the runtime a 413, and the invocation is over.
      this.settle({
        outcome: 'error',
        error: {
          type: 'Function.ResponseSizeTooLarge',
          message: `Response payload size exceeded maximum allowed payload size (${this.maxResponseBytes} bytes).`,
          stack: undefined,
        },
        functionErrorType: undefined,
      });
      return sendTooLarge(response, this.maxResponseBytes);
    }
    const functionErrorType = functionErrorTypeOf(request);
    this.settle(
      kind === 'response'
        ? { outcome: 'success', body: read.body, contentType: request.headers['content-type'] }
        : { outcome: 'error', error: parseLambdaError(read.body, functionErrorType), functionErrorType },
    );
    sendAccepted(response);
  }

  private async onInitErrorPost(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const message = 'init/error is only accepted once, before the runtime first polls /invocation/next';
    if (this.polled || this.initFailure !== undefined) {
      return sendLambdaError(response, 403, 'InvalidStateTransition', message);
    }
    const read = await readBoundedBody(request, this.maxResponseBytes);
    if (read.kind === 'aborted') return;
    // Checked again: the runtime may have polled (or posted twice) while this body arrived.
    if (this.polled || this.initFailure !== undefined) {
      return sendLambdaError(response, 403, 'InvalidStateTransition', message);
    }
    if (read.kind === 'too_large') return sendTooLarge(response, this.maxResponseBytes);
    const failure = parseLambdaError(read.body, functionErrorTypeOf(request));
    this.initFailure = failure;
    this.settleFirstPoll(new StratoError('FUNCTION_ERROR', failure.message, { details: failure }));
    for (const listener of this.initErrorListeners) listener(failure);
    this.initErrorListeners.clear();
    sendAccepted(response);
  }

  private awaitsAnswer(invocationId: string): boolean {
    const invocation = this.current;
    return invocation?.request.invocationId === invocationId && invocation.deliveredTo !== undefined;
  }

  private settle(result: RuntimeInvocationResult): void {
    const invocation = this.current;
    this.current = undefined;
    invocation?.resolve(result);
  }
}

function checkArn(functionArn: string): void {
  if (!headerValue.test(functionArn)) {
    throw new StratoError('INTERNAL', `function ARN ${JSON.stringify(functionArn)} is not a header value`);
  }
}

function closedError(): StratoError {
  return new StratoError('SANDBOX_CRASHED', 'the runtime API endpoint of this instance was closed');
}
