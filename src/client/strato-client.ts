import type { AliasRecord, FunctionRecord, VersionRecord } from '../core/function.js';
import type { InvocationOutcome, InvocationRecord, LogLine } from '../core/invocation.js';
import type { InvocationStatsBucket } from '../core/invocation-stats.js';
import type { MissedSlotPolicy, TriggerView } from '../core/trigger.js';
import type { QueueDepth, QueuedInvocation } from '../core/invocation-queue.js';
import type { SecretRecord } from '../core/secret.js';
import type { ApiKeyRecord, ApiKeyScope } from '../core/api-key.js';
import { StratoError, type StratoErrorBody } from '../core/strato-error.js';
import type { CostReport } from '../cost/cost-report.js';

export type { CostReport, CostSeriesPoint, FunctionCost } from '../cost/cost-report.js';

/** `GET /v1/cost` options; absent ones take the server's defaults (docs/api.md). */
export interface CostReportOptions {
  /** ISO time, epoch ms, or a duration ago (`7d`, `24h`). @default '7d' */
  since?: string;
  /** Same forms as `since`. @default now */
  until?: string;
  /** @default 'hour' */
  granularity?: 'hour' | 'day';
  /** @default 0.0000166667 */
  priceGbSecond?: number;
  /** Per 1M requests. @default 0.2 */
  priceRequest?: number;
  /** @default 0.0416 */
  vmHourly?: number;
  /** @default 4096 */
  vmMemoryMb?: number;
  /** Only this function. */
  function?: string;
}

/** The code of a version: a JavaScript bundle (the isolate tier) or a container image (the container tier). */
export type DeployCode =
  | { code: string; sourceMap?: string | null }
  | {
      /** A registry reference (`127.0.0.1:5000/team/fn:tag`, pinned to its digest now) or an `imageId`. */
      image: string;
      /** Credentials for this pull only (never stored). */
      registryAuth?: { username: string; password: string };
    };

export type DeployRequest = DeployCode & FunctionSettingsRequest;

/** An image pulled or imported on the server (`imageId` is what a deploy may name). */
export interface ImageSummaryView {
  imageId: string;
  reference: string;
  manifestDigest: string;
  layers: number;
  bytes: number;
}

/** One line of a pull's progress. */
export type ImageProgressView =
  | { kind: 'resolved'; manifestDigest: string; layers: number; bytes: number }
  | { kind: 'layer'; digest: string; size: number; state: 'cached' | 'fetched' | 'unpacked' }
  | { kind: 'done'; manifestDigest: string };

export interface FunctionSettingsRequest {
  memoryMb?: number;
  timeout?: string | number;
  env?: Record<string, string>;
  concurrency?: number;
  /** Same as `concurrency`. */
  maxConcurrency?: number;
  reservedConcurrency?: number | null;
  minInstances?: number;
  /** Requests one instance serves at once (1-1000); above 1 only for isolate `fetch` handlers. */
  instanceConcurrency?: number;
  /** Invocations per second as a token bucket; null removes the limit. */
  rateLimit?: { rate: number; burst?: number; initialBurst?: number } | null;
  /** Hosts outbound `fetch` may reach (`api.example.com`, `*.example.com`, `host:8443`); null or [] removes. */
  egress?: string[] | null;
  /** Who may call `/fn/<name>`: anyone, or API keys with the invoke scope. @default 'public' */
  httpAuth?: 'public' | 'key';
  description?: string;
  /** Async delivery: retries after a failed attempt, maximum event age, destinations (null clears one). */
  asyncRetries?: number;
  maxEventAge?: string | number;
  onSuccess?: string | null;
  onFailure?: string | null;
}

export interface FunctionResponse {
  function: FunctionRecord;
  version: VersionRecord;
}

export interface CreateAliasRequest {
  name: string;
  functionVersion: number;
  /** Extra version (as a string) → share of requests in [0, 1]; at most one entry. */
  additionalVersionWeights?: Record<string, number>;
  description?: string;
}

/** Absent fields keep their value; `additionalVersionWeights: {}` removes the split. */
export type UpdateAliasRequest = Partial<Omit<CreateAliasRequest, 'name'>>;

export interface CreateCronTriggerRequest {
  /** Cron expression: 5 fields, or 6 with seconds first (`* * * * * *`). */
  schedule: string;
  /** IANA time zone. @default 'UTC' */
  timezone?: string;
  /** The event's `detail`. @default {} */
  payload?: unknown;
  /** Version number or alias. @default '$LATEST' */
  qualifier?: string;
  /** @default 'catch-up-once' */
  missed?: MissedSlotPolicy;
  /** @default true */
  enabled?: boolean;
}

export interface TriggerResponse {
  trigger: TriggerView;
  /** The next few slots (ISO times). */
  nextFireTimes: string[];
}

export interface InvokeResponse {
  status: number;
  invocationId: string | null;
  version: number | null;
  cold: boolean;
  headers: Headers;
  /** The body as text (JSON for JSON handlers and errors). */
  body: string;
}

export interface InstanceInfoView {
  id: string;
  functionName: string;
  version: number;
  tier: string;
  state: string;
  createdAt: number;
  lastUsedAt: number;
  invocations: number;
  /** Invocations it serves right now. */
  inFlight: number;
  /** Invocations it may serve at once. */
  instanceConcurrency: number;
  /** The instance's memory limit. */
  memoryMb: number;
  /** Kept warm by `minInstances`. */
  provisioned: boolean;
}

/** Filters of {@link StratoClient.listInvocations}; times are ISO dates, epoch ms or "ago" durations (`10m`). */
export interface InvocationFilter {
  limit?: number;
  cursor?: string;
  outcome?: InvocationOutcome;
  cold?: boolean;
  since?: string;
  until?: string;
}

/** A function's invocations per time bucket (`GET /v1/functions/{name}/stats`). */
export interface FunctionStatsView {
  functionName: string;
  since: string;
  until: string;
  bucketMs: number;
  records: number;
  truncated: boolean;
  buckets: InvocationStatsBucket[];
}

export interface StratoClientOptions {
  /** The fetch to use (tests, or a browser's bound `fetch`). @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Sent as `Authorization: Bearer <key>` on every request; read per request so a key can change. */
  apiKey?: () => string | undefined;
}

/** Typed client of the control-plane and invoke API; what the CLI, the console and tests use. */
export class StratoClient {
  readonly baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #apiKey: () => string | undefined;

  constructor(baseUrl: string, options: StratoClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    // Called unbound: a browser's fetch throws "Illegal invocation" when called as a method of another object.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#apiKey = options.apiKey ?? (() => undefined);
  }

  deploy(name: string, request: DeployRequest): Promise<FunctionResponse> {
    return this.json('PUT', `/v1/functions/${encodeURIComponent(name)}`, request);
  }

  updateSettings(name: string, settings: FunctionSettingsRequest): Promise<FunctionResponse> {
    return this.json('PATCH', `/v1/functions/${encodeURIComponent(name)}`, settings);
  }

  getFunction(name: string): Promise<FunctionResponse> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}`);
  }

  listFunctions(
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ functions: FunctionRecord[]; next: string | null }> {
    return this.json('GET', `/v1/functions${query(options)}`);
  }

  async deleteFunction(name: string): Promise<void> {
    await this.json('DELETE', `/v1/functions/${encodeURIComponent(name)}`);
  }

  listVersions(
    name: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ versions: VersionRecord[]; next: string | null }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/versions${query(options)}`);
  }

  createAlias(name: string, request: CreateAliasRequest): Promise<{ alias: AliasRecord }> {
    return this.json('POST', `/v1/functions/${encodeURIComponent(name)}/aliases`, request);
  }

  updateAlias(name: string, alias: string, request: UpdateAliasRequest): Promise<{ alias: AliasRecord }> {
    return this.json('PUT', aliasPath(name, alias), request);
  }

  getAlias(name: string, alias: string): Promise<{ alias: AliasRecord }> {
    return this.json('GET', aliasPath(name, alias));
  }

  listAliases(name: string): Promise<{ aliases: AliasRecord[] }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/aliases`);
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.json('DELETE', aliasPath(name, alias));
  }

  createCronTrigger(name: string, request: CreateCronTriggerRequest): Promise<TriggerResponse> {
    return this.json('POST', `/v1/functions/${encodeURIComponent(name)}/triggers`, {
      type: 'cron',
      ...request,
    });
  }

  listTriggers(name: string): Promise<{ triggers: TriggerView[] }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/triggers`);
  }

  getTrigger(id: string): Promise<TriggerResponse> {
    return this.json('GET', `/v1/triggers/${encodeURIComponent(id)}`);
  }

  async deleteTrigger(id: string): Promise<void> {
    await this.json('DELETE', `/v1/triggers/${encodeURIComponent(id)}`);
  }

  /** Creates or replaces a secret; its value is never returned. */
  setSecret(name: string, secret: string, value: string): Promise<SecretRecord> {
    return this.json('PUT', secretPath(name, secret), { value });
  }

  listSecrets(name: string): Promise<{ secrets: SecretRecord[] }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/secrets`);
  }

  async deleteSecret(name: string, secret: string): Promise<void> {
    await this.json('DELETE', secretPath(name, secret));
  }

  /** A new API key of the caller's namespace (admin scope); `token` is shown in this reply only. */
  createKey(input: {
    scopes: ApiKeyScope[];
    description?: string;
    /** Requests per second this key may make (token bucket). @default no limit */
    rateLimit?: { rate: number; burst?: number; initialBurst?: number };
    /** Another namespace (only an admin of the default namespace may name one). @default the caller's */
    namespace?: string;
  }): Promise<{ key: ApiKeyRecord; token: string }> {
    return this.json('POST', '/v1/keys', input);
  }

  /** The namespace's keys, revoked ones included; never their tokens. */
  listKeys(namespace?: string): Promise<{ keys: ApiKeyRecord[] }> {
    const query = namespace === undefined ? '' : `?namespace=${encodeURIComponent(namespace)}`;
    return this.json('GET', `/v1/keys${query}`);
  }

  async revokeKey(id: string): Promise<void> {
    await this.json('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
  }

  /** Newest first, narrowed by the filters. */
  listInvocations(
    name: string,
    options: InvocationFilter = {},
  ): Promise<{ invocations: InvocationRecord[]; next: string | null }> {
    const { cold, ...rest } = options;
    const params = { ...rest, cold: cold === undefined ? undefined : String(cold) };
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/invocations${query(params)}`);
  }

  /** Requests, errors, cold starts and p50/p99 duration per bucket (`bucket` a duration, default 1m). */
  stats(
    name: string,
    options: { since?: string; until?: string; bucket?: string } = {},
  ): Promise<FunctionStatsView> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/stats${query(options)}`);
  }

  getInvocation(id: string): Promise<{ invocation: InvocationRecord; logs: LogLine[] }> {
    return this.json('GET', `/v1/invocations/${encodeURIComponent(id)}`);
  }

  logs(
    name: string,
    options: { invocationId?: string; since?: string; until?: string; q?: string; limit?: number } = {},
  ): Promise<{ logs: LogLine[] }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/logs${query(options)}`);
  }

  /**
   * Live log lines of a function (Server-Sent Events), until `signal` aborts. Yields `{ dropped }` when the
   * server had to skip lines because this reader was too slow.
   */
  async *followLogs(
    name: string,
    signal: AbortSignal,
  ): AsyncGenerator<{ line: LogLine } | { dropped: number }, void, undefined> {
    const response = await this.#fetch(
      `${this.baseUrl}/v1/functions/${encodeURIComponent(name)}/logs/follow`,
      {
        signal,
        headers: this.#headers({ accept: 'text/event-stream' }),
      },
    );
    if (!response.ok || response.body === null) {
      const parsed = (await response.json().catch(() => ({}))) as { error?: Partial<StratoErrorBody> };
      throw StratoError.fromBody(parsed.error ?? {});
    }
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          const event = parseSseEvent(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
          if (event?.type === 'log') yield { line: JSON.parse(event.data) as LogLine };
          else if (event?.type === 'dropped')
            yield { dropped: (JSON.parse(event.data) as { lines: number }).lines };
        }
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  instances(name: string): Promise<{ instances: InstanceInfoView[] }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/instances`);
  }

  /**
   * Invokes with a JSON event; `version` is a version number, an alias name or `$LATEST`. Function
   * errors are not thrown: read `status` and `body`.
   */
  async invoke(name: string, event: string, options: { version?: string } = {}): Promise<InvokeResponse> {
    const response = await this.send(
      'POST',
      `/v1/functions/${encodeURIComponent(name)}/invoke${query(options)}`,
      { headers: { 'content-type': 'application/json' }, body: event },
    );
    const version = response.headers.get('x-strato-version');
    return {
      status: response.status,
      invocationId: response.headers.get('x-strato-invocation-id'),
      version: version === null ? null : Number(version),
      cold: response.headers.get('x-strato-cold') === 'true',
      headers: response.headers,
      body: await response.text(),
    };
  }

  /**
   * Queues an invocation (`Prefer: respond-async`): resolves once the event is durable. With an
   * `idempotencyKey` seen before for this function, answers the first invocation's id.
   */
  invokeAsync(
    name: string,
    event: string,
    options: { version?: string; idempotencyKey?: string } = {},
  ): Promise<{ invocationId: string; status: 'queued'; duplicate: boolean }> {
    return this.json(
      'POST',
      `/v1/functions/${encodeURIComponent(name)}/invoke${query({ version: options.version })}`,
      JSON.parse(event) as unknown,
      {
        prefer: 'respond-async',
        ...(options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey }),
      },
    );
  }

  /** Status, attempts and result of an async invocation. */
  async getAsyncInvocation(id: string): Promise<QueuedInvocation> {
    const reply = await this.json<{ async?: QueuedInvocation }>(
      'GET',
      `/v1/invocations/${encodeURIComponent(id)}`,
    );
    if (reply.async === undefined) {
      throw new StratoError('INVOCATION_NOT_FOUND', `'${id}' is a synchronous invocation, not an async one`);
    }
    return reply.async;
  }

  /**
   * Pulls an image onto the server (tag resolved to its digest), reporting progress as it goes; resolves with
   * the image, or rejects with the pull's error (IMAGE_NOT_FOUND, REGISTRY_AUTH_FAILED, IMAGE_PULL_FAILED, ...).
   */
  async pullImage(
    image: string,
    options: {
      registryAuth?: { username: string; password: string };
      onProgress?: (event: ImageProgressView) => void;
    } = {},
  ): Promise<ImageSummaryView> {
    const body = {
      image,
      ...(options.registryAuth === undefined ? {} : { registryAuth: options.registryAuth }),
    };
    const response = await this.send('POST', '/v1/images/pull', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok || response.body === null) throw await errorOf(response, this.baseUrl);
    let buffered = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() === '') continue;
        const event = JSON.parse(line) as
          | ImageProgressView
          | { kind: 'pulled'; image: ImageSummaryView }
          | { kind: 'error'; error: Partial<StratoErrorBody> };
        if (event.kind === 'pulled') return event.image;
        if (event.kind === 'error') throw StratoError.fromBody(event.error);
        options.onProgress?.(event);
      }
    }
    throw new StratoError('IMAGE_PULL_FAILED', 'the server ended the pull without a result');
  }

  /** Uploads a `docker save` or OCI-layout tarball (streamed) and imports it as an image. */
  async importImageArchive(tarball: Uint8Array | ReadableStream<Uint8Array>): Promise<ImageSummaryView> {
    const response = await this.send('POST', '/v1/images/archive', {
      headers: { 'content-type': 'application/x-tar' },
      // A Uint8Array is a valid body; DOM's typings want one backed by an ArrayBuffer specifically.
      body: tarball as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>,
      duplex: 'half',
    });
    if (!response.ok) throw await errorOf(response, this.baseUrl);
    return ((await response.json()) as { image: ImageSummaryView }).image;
  }

  /** Removes cached layers and root file systems no version pins, once unused for `grace` (default 10m). */
  collectImageGarbage(options: { grace?: string | number } = {}): Promise<{
    collected: { removedLayers: string[]; removedRootfs: string[]; freedBytes: number };
  }> {
    return this.json('POST', '/v1/images/gc', options);
  }

  /** A function's async invocations by state, and the age of the oldest ready one. */
  async queueDepth(name: string): Promise<QueueDepth> {
    return (await this.json<{ depth: QueueDepth }>('GET', `/v1/functions/${encodeURIComponent(name)}/queue`))
      .depth;
  }

  /** The measured workload priced on Strato's metering versus always-on VMs sized for its peak. */
  getCostReport(options: CostReportOptions = {}): Promise<CostReport> {
    return this.json('GET', `/v1/cost${query({ ...options })}`);
  }

  /** A function's dead-lettered async invocations, oldest first. */
  listDeadLetters(
    name: string,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ invocations: QueuedInvocation[]; next: string | null }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/dlq${query(options)}`);
  }

  getDeadLetter(name: string, id: string): Promise<{ invocation: QueuedInvocation }> {
    return this.json('GET', `/v1/functions/${encodeURIComponent(name)}/dlq/${encodeURIComponent(id)}`);
  }

  /** Back into the queue: one dead-lettered invocation (`id`), or all of the function's. */
  redriveDeadLetters(name: string, id?: string): Promise<{ redriven: number }> {
    return this.json(
      'POST',
      `/v1/functions/${encodeURIComponent(name)}/dlq/redrive`,
      id === undefined ? {} : { id },
    );
  }

  purgeDeadLetters(name: string): Promise<{ purged: number }> {
    return this.json('DELETE', `/v1/functions/${encodeURIComponent(name)}/dlq`);
  }

  /** `headers` plus the API key, when there is one. */
  #headers(headers: Record<string, string> = {}): Record<string, string> {
    const key = this.#apiKey();
    return key === undefined || key === '' ? headers : { ...headers, authorization: `Bearer ${key}` };
  }

  private async send(
    method: string,
    path: string,
    // `duplex` (a streamed body) is in Node's RequestInit, not yet in the DOM's.
    init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string>; duplex?: 'half' },
  ): Promise<Response> {
    try {
      return await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        ...init,
        headers: this.#headers(init.headers),
      });
    } catch (error) {
      throw new StratoError(
        'INTERNAL',
        `cannot reach Strato at ${this.baseUrl}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  private async json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const response = await this.send(method, path, {
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new StratoError(
        'INTERNAL',
        `unexpected response from ${this.baseUrl}${path} (${response.status}): ${text.slice(0, 200)}`,
      );
    }
    if (!response.ok) {
      const error = (parsed as { error?: Partial<StratoErrorBody> }).error ?? {};
      throw StratoError.fromBody(error);
    }
    return parsed as T;
  }
}

/** The platform error a failed response carries. */
async function errorOf(response: Response, baseUrl: string): Promise<StratoError> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { error?: Partial<StratoErrorBody> };
    return StratoError.fromBody(parsed.error ?? {});
  } catch {
    return new StratoError(
      'INTERNAL',
      `unexpected response from ${baseUrl} (${response.status}): ${text.slice(0, 200)}`,
    );
  }
}

function secretPath(name: string, secret: string): string {
  return `/v1/functions/${encodeURIComponent(name)}/secrets/${encodeURIComponent(secret)}`;
}

function aliasPath(name: string, alias: string): string {
  return `/v1/functions/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`;
}

function query(options: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(options)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text.length === 0 ? '' : `?${text}`;
}

/** One SSE event block: its `event:` type and joined `data:` lines; undefined for comments only. */
function parseSseEvent(block: string): { type: string; data: string } | undefined {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  return data.length === 0 ? undefined : { type, data: data.join('\n') };
}
