import type { FunctionImage } from './container-image.js';

/** Function names: what Lambda and URLs both accept. */
export const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The runtime settings of a version. Immutable once a version is published. */
export interface FunctionConfig {
  /** Memory limit of one instance, in MB. */
  memoryMb: number;
  /** Wall-clock limit of one invocation, in ms. */
  timeoutMs: number;
  /** Environment variables handed to the function (`env` / `process.env`-like bag). */
  env: Record<string, string>;
  /** Maximum invocations of this function running at once on a node (in-flight requests, not instances). */
  concurrency: number;
  /**
   * Invocations one instance serves at once. Above 1 only for isolate bundles with a `fetch` handler
   * (module workers), which deploy checks; absent: 1, one request per instance as Lambda does.
   */
  instanceConcurrency?: number;
  /**
   * A Lambda runtime id (`provided.al2023`, `provided.al2`): the code is a zip run by the process tier.
   * Absent for JavaScript bundles, which run in the isolate tier.
   */
  runtime?: string;
  /** Lambda's `Handler` setting, handed to the runtime as `_HANDLER`. */
  handler?: string;
  /** A container-image function (the container tier): the image the version pins, by digest. */
  image?: FunctionImage;
  /** How async invocations of this version are delivered; absent: Lambda's defaults. */
  async?: AsyncPolicy;
  /** Invocations per second the function accepts (a token bucket); absent: no rate limit. */
  rateLimit?: RateLimitPolicy;
  /**
   * Executions guaranteed to this function out of the node's total concurrency, and its cap (Lambda's
   * reserved concurrency). Absent: it shares the unreserved pool.
   */
  reservedConcurrency?: number;
  /** Instances of the latest version kept warm at all times (provisioned concurrency). */
  minInstances?: number;
  /**
   * Hosts the function may reach (`api.example.com`, `*.example.com`, optionally with `:port`): the isolate
   * tier's `fetch`, the process and container tiers' egress proxy. Absent or empty: egress is denied. Private, loopback and link-local addresses stay blocked
   * whatever the pattern (src/sandbox/egress/egress-policy.ts; every tier).
   */
  egress?: string[];
  /**
   * Who may call the HTTP trigger (`/fn/<name>`): `key` needs an API key with the `invoke` scope of the
   * function's namespace; absent means `public`, like a Cloudflare Worker route or a Lambda function URL
   * with auth type NONE. The invoke API (`/v1/functions/<name>/invoke`) always needs a key.
   */
  httpAuth?: 'key';
}

/** The `httpAuth` setting as the API takes it. */
export type HttpTriggerAuth = 'public' | 'key';

/** One egress host pattern: a DNS name or IP literal, or `*.` and a domain, with an optional `:port`. */
export const EGRESS_PATTERN =
  /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[1-9][0-9]{0,4})?$/;

/** A function's invocation rate limit, as a token bucket (src/ratelimit) enforces it. */
export interface RateLimitPolicy {
  /** Sustained invocations per second (> 0). */
  ratePerSecond: number;
  /** The bucket's size: invocations accepted at once after a quiet period (>= 1). */
  burst: number;
  /** One-time extra invocations on top of `burst` when the bucket is new; never refilled. */
  initialBurst: number;
}

/** Per-function delivery of async invocations (Lambda's "asynchronous invocation" settings). */
export interface AsyncPolicy {
  /** Retries after a failed attempt (0-10); Lambda's default is 2. */
  retries: number;
  /** Past this age an event is dead-lettered instead of run; Lambda's default is 6 h. */
  maxEventAgeMs: number;
  /** Gets the invocation record after a success: a function name or an http(s) URL. */
  onSuccess?: string;
  /** Gets the invocation record once it is dead-lettered. */
  onFailure?: string;
}

export const DEFAULT_ASYNC_POLICY: AsyncPolicy = { retries: 2, maxEventAgeMs: 6 * 60 * 60 * 1000 };

export const DEFAULT_FUNCTION_CONFIG: FunctionConfig = {
  memoryMb: 128,
  timeoutMs: 10_000,
  env: {},
  concurrency: 10,
};

export interface FunctionRecord {
  name: string;
  /** The number `$LATEST` points at. */
  latestVersion: number;
  createdAt: string;
  updatedAt: string;
}

export interface VersionRecord {
  functionName: string;
  version: number;
  /** sha256 (hex) of the bundle, the content address of the artifact. */
  codeSha256: string;
  codeSize: number;
  /** sha256 of the source map artifact, when the bundle came with one. */
  sourceMapSha256: string | null;
  config: FunctionConfig;
  description: string;
  createdAt: string;
}

/** `$LATEST`, a version number, or an alias name. */
export type Qualifier = string;
export const LATEST = '$LATEST';

/**
 * Alias names, as Lambda has them: 1-128 of A-Z, a-z, 0-9, - and _, and not all digits (a qualifier of
 * digits is a version number). `$LATEST` can never match: `$` is not allowed.
 */
export const ALIAS_NAME_PATTERN = /^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$/;

/**
 * A named pointer to a published version, optionally splitting traffic with a second version
 * (Lambda's weighted alias). Invoking the alias runs `functionVersion` except for the share of
 * requests the weights send elsewhere.
 */
export interface AliasRecord {
  functionName: string;
  name: string;
  /** The version that gets every request the weights do not send elsewhere. */
  functionVersion: number;
  /**
   * Extra version (its number as a string, as Lambda's `AdditionalVersionWeights` keys it) → share of
   * requests in [0, 1] sent to it (Lambda: at most one entry). Empty: everything goes to `functionVersion`.
   */
  additionalVersionWeights: Record<string, number>;
  description: string;
  createdAt: string;
  updatedAt: string;
}
