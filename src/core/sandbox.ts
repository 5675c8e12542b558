import type { PreparedImage } from './container-image.js';
import type { FunctionConfig } from './function.js';
import type { FunctionErrorInfo, InvocationOutcome, LogLine } from './invocation.js';

export type SandboxTier = 'isolate' | 'process' | 'container';

/** What a sandbox needs to start an instance of one function version. */
export interface InstanceSpec {
  functionName: string;
  version: number;
  /** Content address of the code; sandboxes cache compiled code by it. */
  codeSha256: string;
  /** Loads the bundle; called only when the sandbox has not cached this code yet. */
  loadCode: () => Promise<string>;
  /** The version's settings; `config.env` already holds the function's secrets (src/secrets/). */
  config: FunctionConfig;
  /**
   * Which state of the function's secrets `config.env` holds: an instance started with another one is not
   * reused, so a changed secret reaches every instance started after the change. @default 0 (none)
   */
  secretsGeneration?: number;
  /** Lambda runtime id (`provided.al2023`, `provided.al2`) for tiers that run Lambda runtimes. */
  runtime?: string;
  /** The function's handler setting, handed to the runtime as `_HANDLER`. */
  handler?: string;
  /** Loads the deployment zip (content-addressed by `codeSha256`); needed by the process tier. */
  loadArtifact?: () => Promise<Uint8Array>;
  /**
   * Container-image functions: makes the pinned image's root file system ready on this node (layers pulled
   * and unpacked once per node, shared by every instance) and resolves to it. Present exactly when
   * `config.image` is.
   */
  prepareImage?: () => Promise<PreparedImage>;
}

/** An HTTP request handed to a function (HTTP trigger, or an invoke of a `fetch` handler). */
export interface HttpRequestPayload {
  method: string;
  /** Absolute URL as the client asked for it. */
  url: string;
  /** Path after the trigger prefix, with the query string. */
  path: string;
  headers: Array<[string, string]>;
  bodyBase64: string | null;
  sourceIp: string;
}

export interface HttpResponsePayload {
  status: number;
  headers: Array<[string, string]>;
  bodyBase64: string;
}

export type InvokePayload =
  /** `POST /v1/functions/:name/invoke`: a JSON event. */
  | { kind: 'event'; eventJson: string }
  /** `ANY /fn/:name/*`: an HTTP request. */
  | { kind: 'http'; request: HttpRequestPayload };

export interface InvokeRequest {
  invocationId: string;
  payload: InvokePayload;
  /** Epoch ms by which the invocation must have ended. */
  deadline: number;
  /** The invocation's span, for the function's context and its outbound calls. @default none */
  trace?: InvocationTrace | undefined;
}

/** The W3C ids of an invocation's span (core/trace-context.ts formats them for each tier). */
export interface InvocationTrace {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** The invocation's own span id: 16 lowercase hex digits. */
  spanId: string;
  /** trace-flags (bit 0: sampled). */
  flags: number;
  /** The caller's tracestate, passed through. */
  tracestate: string | undefined;
}

export interface InvokeResultBase {
  outcome: InvocationOutcome;
  logs: Array<Pick<LogLine, 'ts' | 'level' | 'message'>>;
  logBytes: number;
  logTruncated: boolean;
  /** Time the sandbox spent in this invocation (handler start to end), in ms. */
  durationMs: number;
  /** Instance creation and module load time, when this invocation started the instance. */
  initDurationMs: number;
}

export type InvokeResult =
  | (InvokeResultBase & { outcome: 'success'; response: SuccessfulResponse })
  | (InvokeResultBase & { outcome: 'error'; error: FunctionErrorInfo; phase: 'init' | 'invoke' })
  | (InvokeResultBase & { outcome: 'timeout' | 'out_of_memory' | 'crashed'; error: FunctionErrorInfo });

export type SuccessfulResponse =
  /** The handler returned a value; JSON text (`undefined` becomes `null`). */
  | { kind: 'json'; json: string }
  /** The handler produced an HTTP response (a `Response`, or an API Gateway-style result). */
  | { kind: 'http'; response: HttpResponsePayload };

export interface InvokeOptions {
  onResponse?: (result: InvokeResult) => void;
}

/**
 * One running sandbox of a function version. Serves one invocation at a time, or up to the version's
 * `instanceConcurrency` at once on the isolate tier (the scheduler never lends it more).
 */
export interface SandboxInstance {
  readonly id: string;
  readonly tier: SandboxTier;
  /**
   * Runs one invocation and resolves when it has settled, with all its logs. Never rejects for the
   * function's own failures: those are outcomes. When the response is ready before the invocation
   * settles (`waitUntil` work still running), `onResponse` gets it early.
   */
  invoke(request: InvokeRequest, options?: InvokeOptions): Promise<InvokeResult>;
  /** True once the instance can no longer serve (crashed, timed out, OOM, disposed). */
  readonly dead: boolean;
  dispose(): Promise<void>;
}

/**
 * What a bundle exports, found by loading it once (as a cold start does): a Lambda-style `handler`, a module
 * worker's `fetch`, or nothing usable because its module failed to load.
 */
export type HandlerInspection =
  { kind: 'lambda' | 'fetch' } | { kind: 'unloadable'; error: FunctionErrorInfo };

/** A sandbox tier: creates instances. */
export interface Sandbox {
  readonly tier: SandboxTier;
  /**
   * Loads the code in a throwaway instance and reports its handler kind; only tiers that run JavaScript
   * bundles (the isolate tier) have it. Used at deploy to check settings that depend on the kind.
   */
  inspectHandler?(spec: InstanceSpec): Promise<HandlerInspection>;
  /**
   * Makes a just-published version's first cold start cheaper by doing now, at deploy, what does not depend
   * on the call: the isolate tier ships the bundle to its host, so the first invoke reads nothing from the
   * store and sends only the start. Optional; failures only lose the head start.
   */
  prepare?(spec: InstanceSpec): Promise<void>;
  /**
   * Starts an instance. Returns at once: the first invoke waits for the start, so a cold start
   * costs one round trip to the sandbox host, not two.
   */
  startInstance(spec: InstanceSpec): SandboxInstance;
  close(): Promise<void>;
}
