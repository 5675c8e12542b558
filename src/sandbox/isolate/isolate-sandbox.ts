import { formatTraceparent } from '../../core/trace-context.js';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { FunctionErrorInfo } from '../../core/invocation.js';
import type {
  HandlerInspection,
  HttpResponsePayload,
  InstanceSpec,
  InvokeOptions,
  InvokeRequest,
  InvokeResult,
  Sandbox,
  SandboxInstance,
} from '../../core/sandbox.js';
import type { HostCompletion, HostToGateway, LoadSpec } from './host-protocol.js';
import type { CapturedLogs } from '../../guest/console-capture.js';
import { IsolateHostProcess, type HostExit } from './isolate-host-process.js';
import { bundleGuestRuntime } from './guest-runtime-bundle.js';

export interface IsolateSandboxOptions {
  /** Isolate host processes to spread functions over. @default 2 */
  hosts: number;
  /** Stem cells (isolates with the guest runtime evaluated) kept per memory size per host. @default 2 */
  stemCells?: number;
  /** Reuse Strato-produced V8 code cache data per host. @default true */
  codeCache?: boolean;
  /**
   * Networks the operator lets functions reach although they are private or loopback (CIDRs, e.g.
   * `10.1.2.0/24` for an internal API); a function still needs a matching egress pattern. @default none
   */
  egressAllowedNetworks?: readonly string[];
  /** Console output kept per invocation. */
  logLimitBytes: number;
  logger: Logger;
}

/**
 * How long a bundle sent to its host at deploy is held there without an instance (a version published and
 * not called yet). Its instances hold it as long as they live; this only bounds what uncalled versions keep.
 */
const HELD_CODE_MS = 60_000;
/** A deploy waits at most this long for the host to take its bundle (a host stalled by a busy loop, say). */
const HOLD_ACK_WAIT_MS = 1_000;

interface PendingInvocation {
  instance: IsolateInstanceHandle;
  options: InvokeOptions | undefined;
  response: InvokeResult | undefined;
  resolve: (result: InvokeResult) => void;
}

/**
 * The isolate tier: V8 isolates (isolated-vm) inside a few host processes that this gateway supervises.
 * A function's instances go to one host (chosen by name), so its compiled code is cached once there.
 */
export class IsolateSandbox implements Sandbox {
  readonly tier = 'isolate' as const;
  private readonly instances = new Map<string, IsolateInstanceHandle>();
  private readonly pending = new Map<string, PendingInvocation>();
  /** Per host: code hash → instances using it, so code is sent once and forgotten when unused. */
  private readonly codeUse: Array<Map<string, number>> = [];
  /** Per host: function name → the code `prepare` holds a use of (one per function: the newest version's). */
  private readonly heldCode: Array<Map<string, { codeSha256: string; timer: NodeJS.Timeout }>> = [];
  /** `hold-code` messages waiting for their host's `code-held`, by ack id. */
  private readonly holdAcks = new Map<number, { hostIndex: number; resolve: () => void }>();
  private nextAckId = 0;
  /** Inspections waiting for their host's answer, by id, with the host they went to. */
  private readonly inspections = new Map<
    string,
    { hostIndex: number; resolve: (inspection: HandlerInspection) => void }
  >();

  private constructor(
    private readonly hosts: IsolateHostProcess[],
    private readonly options: IsolateSandboxOptions,
  ) {}

  static async create(options: IsolateSandboxOptions): Promise<IsolateSandbox> {
    const runtimeSource = await bundleGuestRuntime();
    const hosts: IsolateHostProcess[] = [];
    const sandbox = new IsolateSandbox(hosts, options);
    for (let index = 0; index < options.hosts; index++) {
      sandbox.codeUse.push(new Map());
      sandbox.heldCode.push(new Map());
      hosts.push(
        new IsolateHostProcess(
          index,
          {
            t: 'configure',
            runtimeSource,
            stemCells: options.stemCells ?? 2,
            codeCache: options.codeCache ?? true,
            egressAllowedNetworks: [...(options.egressAllowedNetworks ?? [])],
          },
          {
            onMessage: (message) => sandbox.onHostMessage(message),
            onExit: (exit) => sandbox.onHostExit(index, exit),
          },
          options.logger,
        ),
      );
    }
    await Promise.all(hosts.map((host) => host.ready()));
    return sandbox;
  }

  /** Process ids of the host processes (for tests and `strato ps`). */
  hostPids(): Array<number | undefined> {
    return this.hosts.map((host) => host.pid);
  }

  startInstance(spec: InstanceSpec): SandboxInstance {
    const hostIndex = isolateHostOf(spec.functionName, this.hosts.length);
    const instance = new IsolateInstanceHandle(randomUUID(), hostIndex, spec, this);
    this.instances.set(instance.id, instance);
    instance.started = this.sendStart(instance);
    return instance;
  }

  /**
   * Loads the code once in a throwaway isolate on the function's host (its top level runs, as in a cold
   * start, without egress) and reports the handler kind it exports.
   */
  async inspectHandler(spec: InstanceSpec): Promise<HandlerInspection> {
    const hostIndex = isolateHostOf(spec.functionName, this.hosts.length);
    const host = this.hosts[hostIndex]!;
    await host.ready();
    const code = await spec.loadCode();
    const inspectionId = randomUUID();
    return new Promise<HandlerInspection>((resolve) => {
      this.inspections.set(inspectionId, { hostIndex, resolve });
      host.send({
        t: 'inspect',
        inspectionId,
        code,
        ...this.loadSpecOf(spec),
      });
    });
  }

  /**
   * Sends a new version's bundle to its host at deploy and holds it there (one use, like an instance's), so
   * the first invoke neither reads the artifact from the store nor carries it over IPC on the request path.
   * Resolves when the host has it, and so has also done what came before (disposing the instances the
   * deploy evicted): that work is then not in the first call's way.
   */
  async prepare(spec: InstanceSpec): Promise<void> {
    const hostIndex = isolateHostOf(spec.functionName, this.hosts.length);
    const host = this.hosts[hostIndex]!;
    await host.ready();
    const held = this.heldCode[hostIndex]!;
    const uses = this.codeUse[hostIndex]!;
    const code = (uses.get(spec.codeSha256) ?? 0) === 0 ? await spec.loadCode() : undefined;
    // After the await: an instance may have sent the code meanwhile (then this one is not needed).
    const count = uses.get(spec.codeSha256) ?? 0;
    const ackId = ++this.nextAckId;
    // `code` is undefined only when the host held it at the check, with no await since.
    host.send({
      t: 'hold-code',
      codeSha256: spec.codeSha256,
      code: count === 0 ? (code ?? null) : null,
      ackId,
    });
    uses.set(spec.codeSha256, count + 1);
    const previous = held.get(spec.functionName);
    if (previous !== undefined) {
      clearTimeout(previous.timer);
      this.releaseCode(hostIndex, previous.codeSha256);
    }
    const timer = setTimeout(() => {
      if (held.get(spec.functionName)?.timer !== timer) return;
      held.delete(spec.functionName);
      this.releaseCode(hostIndex, spec.codeSha256);
    }, HELD_CODE_MS);
    timer.unref();
    held.set(spec.functionName, { codeSha256: spec.codeSha256, timer });
    await this.heldBy(hostIndex, ackId);
  }

  /** Resolves on the host's `code-held` for `ackId`, its exit, or after HOLD_ACK_WAIT_MS. */
  private heldBy(hostIndex: number, ackId: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const acks = this.holdAcks;
      const done = () => {
        clearTimeout(timer);
        acks.delete(ackId);
        resolve();
      };
      const timer = setTimeout(done, HOLD_ACK_WAIT_MS);
      acks.set(ackId, { hostIndex, resolve: done });
    });
  }

  async close(): Promise<void> {
    for (const held of this.heldCode) {
      for (const entry of held.values()) clearTimeout(entry.timer);
      held.clear();
    }
    for (const ack of [...this.holdAcks.values()]) ack.resolve();
    await Promise.all(this.hosts.map((host) => host.stop()));
    for (const inspection of this.inspections.values())
      inspection.resolve(unloadable('the sandbox was closed'));
    this.inspections.clear();
    for (const pending of this.pending.values()) pending.resolve(crashResult('the sandbox was closed'));
    this.pending.clear();
  }

  /** @internal used by instance handles */
  async invokeOn(
    instance: IsolateInstanceHandle,
    request: InvokeRequest,
    options?: InvokeOptions,
  ): Promise<InvokeResult> {
    try {
      await instance.started;
    } catch (error) {
      instance.markDead();
      return crashResult(
        `the instance could not start: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (instance.dead) return crashResult('the instance is gone');
    return new Promise<InvokeResult>((resolve) => {
      this.pending.set(request.invocationId, { instance, options, response: undefined, resolve });
      try {
        const { invocationId, payload, deadline } = request;
        const traceparent = request.trace === undefined ? '' : formatTraceparent(request.trace);
        this.hosts[instance.hostIndex]!.send(
          payload.kind === 'event'
            ? {
                t: 'invoke',
                instanceId: instance.id,
                invocationId,
                kind: 'event',
                payload: payload.eventJson,
                deadline,
                traceparent,
              }
            : {
                t: 'invoke',
                instanceId: instance.id,
                invocationId,
                kind: 'http',
                payload: JSON.stringify(payload.request),
                deadline,
                traceparent,
              },
        );
      } catch (error) {
        this.pending.delete(request.invocationId);
        instance.markDead();
        resolve(crashResult(error instanceof Error ? error.message : String(error)));
      }
    });
  }

  /** @internal used by instance handles */
  disposeOn(instance: IsolateInstanceHandle): void {
    if (!this.instances.delete(instance.id)) return;
    const host = this.hosts[instance.hostIndex]!;
    void instance.started
      .then(() => {
        host.send({ t: 'dispose', instanceId: instance.id });
        this.releaseCode(instance.hostIndex, instance.spec.codeSha256);
      })
      .catch(() => undefined);
  }

  /** One use of the code on that host ended; with the last, the host forgets it. */
  private releaseCode(hostIndex: number, codeSha256: string): void {
    const uses = this.codeUse[hostIndex]!;
    const count = (uses.get(codeSha256) ?? 1) - 1;
    if (count > 0) {
      uses.set(codeSha256, count);
      return;
    }
    uses.delete(codeSha256);
    try {
      this.hosts[hostIndex]!.send({ t: 'forget-code', codeSha256 });
    } catch {
      // The host is not running: it starts again holding no code at all.
    }
  }

  private async sendStart(instance: IsolateInstanceHandle): Promise<void> {
    const host = this.hosts[instance.hostIndex]!;
    await host.ready();
    const { spec } = instance;
    const uses = this.codeUse[instance.hostIndex]!;
    const count = uses.get(spec.codeSha256) ?? 0;
    const code = count === 0 ? await spec.loadCode() : null;
    uses.set(spec.codeSha256, (uses.get(spec.codeSha256) ?? 0) + 1);
    host.send({
      t: 'start',
      instanceId: instance.id,
      code,
      egress: spec.config.egress ?? [],
      instanceConcurrency: spec.config.instanceConcurrency ?? 1,
      ...this.loadSpecOf(spec),
    });
  }

  private loadSpecOf(spec: InstanceSpec): LoadSpec {
    return {
      codeSha256: spec.codeSha256,
      functionName: spec.functionName,
      version: spec.version,
      memoryMb: spec.config.memoryMb,
      timeoutMs: spec.config.timeoutMs,
      env: spec.config.env,
      logLimitBytes: this.options.logLimitBytes,
    };
  }

  private onHostMessage(message: HostToGateway): void {
    switch (message.t) {
      case 'ready':
        return;
      case 'result': {
        const pending = this.pending.get(message.invocationId);
        if (pending === undefined) return;
        if (message.instanceDead) pending.instance.markDead();
        if (message.status === 'ok-pending') {
          pending.response = completionToResult(message);
          pending.options?.onResponse?.(pending.response);
          return;
        }
        this.pending.delete(message.invocationId);
        const response = pending.response;
        if (message.status !== 'late' || response === undefined) {
          pending.resolve(completionToResult(message));
          return;
        }
        const late = parseLogs(message.logsJson);
        pending.resolve({
          ...response,
          logs: [...response.logs, ...late.lines],
          logBytes: response.logBytes + late.bytes,
          logTruncated: response.logTruncated || late.truncated,
          durationMs: message.durationMs,
        });
        return;
      }
      case 'instance-dead':
        this.instances.get(message.instanceId)?.markDead();
        return;
      case 'code-held':
        this.holdAcks.get(message.ackId)?.resolve();
        return;
      case 'inspected': {
        const inspection = this.inspections.get(message.inspectionId);
        if (inspection === undefined) return;
        this.inspections.delete(message.inspectionId);
        inspection.resolve(
          message.handlerKind !== null
            ? { kind: message.handlerKind }
            : {
                kind: 'unloadable',
                error: message.error ?? {
                  type: 'Error',
                  message: 'the module did not load',
                  stack: undefined,
                },
              },
        );
        return;
      }
      default: {
        const unknownMessage: never = message;
        throw new Error(`unknown host message ${JSON.stringify(unknownMessage)}`);
      }
    }
  }

  /**
   * A host died: every instance on it is gone. In-flight invocations fail; when V8 aborted on a heap
   * out-of-memory and exactly one invocation was running there, that one caused it and gets
   * `out_of_memory`. The host is restarted at once so other functions keep serving.
   */
  private onHostExit(hostIndex: number, exit: HostExit): void {
    this.codeUse[hostIndex]!.clear();
    for (const entry of this.heldCode[hostIndex]!.values()) clearTimeout(entry.timer);
    this.heldCode[hostIndex]!.clear();
    for (const ack of [...this.holdAcks.values()]) if (ack.hostIndex === hostIndex) ack.resolve();
    for (const [inspectionId, inspection] of this.inspections) {
      if (inspection.hostIndex !== hostIndex) continue;
      this.inspections.delete(inspectionId);
      inspection.resolve(unloadable('the sandbox host exited while loading the module'));
    }
    for (const instance of this.instances.values()) {
      if (instance.hostIndex === hostIndex) instance.markDead();
    }
    const inFlight = [...this.pending.entries()].filter(
      ([, pending]) => pending.instance.hostIndex === hostIndex,
    );
    for (const [invocationId, pending] of inFlight) {
      this.pending.delete(invocationId);
      const culprit = exit.heapOutOfMemory && inFlight.length === 1;
      pending.resolve(
        culprit
          ? failureResult('out_of_memory', {
              type: 'OutOfMemory',
              message: 'the function exceeded the memory its sandbox can give (one allocation too large)',
              stack: undefined,
            })
          : crashResult(
              exit.heapOutOfMemory
                ? `the sandbox host ran out of memory while ${inFlight.length} invocations ran on it`
                : `the sandbox host exited (code ${String(exit.code)}, signal ${String(exit.signal)})`,
            ),
      );
    }
    this.hosts[hostIndex]!.ready().catch((error: unknown) =>
      this.options.logger.error({ err: error, host: hostIndex }, 'isolate host restart failed'),
    );
  }
}

/** The gateway's handle of an instance that lives in a host process. */
class IsolateInstanceHandle implements SandboxInstance {
  readonly tier = 'isolate' as const;
  started: Promise<void> = Promise.resolve();
  private isDead = false;

  constructor(
    readonly id: string,
    readonly hostIndex: number,
    readonly spec: InstanceSpec,
    private readonly sandbox: IsolateSandbox,
  ) {}

  get dead(): boolean {
    return this.isDead;
  }

  markDead(): void {
    this.isDead = true;
  }

  invoke(request: InvokeRequest, options?: InvokeOptions): Promise<InvokeResult> {
    return this.sandbox.invokeOn(this, request, options);
  }

  dispose(): Promise<void> {
    this.isDead = true;
    this.sandbox.disposeOn(this);
    return Promise.resolve();
  }
}

const NO_LOGS: CapturedLogs = { lines: [], bytes: 0, truncated: false };

function parseLogs(json: string): CapturedLogs {
  return json === '' ? NO_LOGS : (JSON.parse(json) as CapturedLogs);
}

/** Builds the invocation result from what the host reported, parsing only what this outcome needs. */
function completionToResult(completion: HostCompletion): InvokeResult {
  const invokeLogs = parseLogs(completion.logsJson);
  const logs =
    completion.initLogsJson === '' ? invokeLogs : mergeLogs(parseLogs(completion.initLogsJson), invokeLogs);
  const base = {
    logs: logs.lines,
    logBytes: logs.bytes,
    logTruncated: logs.truncated,
    durationMs: completion.durationMs,
    initDurationMs: completion.initDurationMs,
  };
  switch (completion.status) {
    case 'ok':
    case 'ok-pending':
      return {
        ...base,
        outcome: 'success',
        response:
          completion.responseKind === 'json'
            ? { kind: 'json', json: completion.body }
            : { kind: 'http', response: JSON.parse(completion.body) as HttpResponsePayload },
      };
    case 'error':
      return {
        ...base,
        outcome: 'error',
        error: parseError(completion.body),
        phase: completion.initFailed ? 'init' : 'invoke',
      };
    case 'timeout':
    case 'out_of_memory':
    case 'crashed':
      return { ...base, outcome: completion.status, error: parseError(completion.body) };
    case 'late':
      return {
        ...base,
        outcome: 'crashed',
        error: {
          type: 'SandboxCrashed',
          message: 'the invocation ended without a response',
          stack: undefined,
        },
      };
    default: {
      const unknownStatus: never = completion.status;
      throw new Error(`unknown completion status ${String(unknownStatus)}`);
    }
  }
}

function parseError(json: string): FunctionErrorInfo {
  const parsed = JSON.parse(json) as Partial<FunctionErrorInfo>;
  return { type: parsed.type ?? 'Error', message: parsed.message ?? '', stack: parsed.stack ?? undefined };
}

function mergeLogs(first: CapturedLogs, second: CapturedLogs): CapturedLogs {
  return {
    lines: [...first.lines, ...second.lines],
    bytes: first.bytes + second.bytes,
    truncated: first.truncated || second.truncated,
  };
}

function failureResult(outcome: 'out_of_memory' | 'crashed', error: FunctionErrorInfo): InvokeResult {
  return { outcome, error, logs: [], logBytes: 0, logTruncated: false, durationMs: 0, initDurationMs: 0 };
}

function unloadable(message: string): HandlerInspection {
  return { kind: 'unloadable', error: { type: 'SandboxCrashed', message, stack: undefined } };
}

function crashResult(message: string): InvokeResult {
  return failureResult('crashed', { type: 'SandboxCrashed', message, stack: undefined });
}

/** FNV-1a: a stable, cheap spread of function names over hosts. */
/**
 * The host process a function's isolates live in: a hash of its name, so that one function's instances
 * share a host's code cache. Exported for tests that must place two functions apart (or together).
 */
export function isolateHostOf(functionName: string, hostCount: number): number {
  return hashName(functionName) % hostCount;
}

function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
