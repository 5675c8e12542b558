import type { FunctionErrorInfo } from '../../core/invocation.js';
import type {
  GuestCompletionStatus,
  GuestPayloadKind,
  GuestResponseKind,
  HandlerKind,
} from '../../guest/protocol.js';

/** What a host needs to load a function's code into an isolate. */
export interface LoadSpec {
  codeSha256: string;
  functionName: string;
  version: number;
  memoryMb: number;
  timeoutMs: number;
  env: Record<string, string>;
  logLimitBytes: number;
}

/**
 * Messages between the gateway process and an isolate host process (Node IPC, JSON, batched per tick).
 * Both ends are ours and start from the same build, so messages are typed, not validated. Payloads stay
 * the strings the guest produced (result JSON, logs JSON) so the host never parses or re-serialises them.
 */
export type GatewayToHost =
  | {
      t: 'configure';
      runtimeSource: string;
      /** Stem cells kept per memory size; 0 creates every isolate on demand. */
      stemCells: number;
      /** Reuse V8 code cache data between isolates of this host. */
      codeCache: boolean;
      /** Private networks (CIDRs) the operator opened to functions' fetch; see EgressPolicy. */
      egressAllowedNetworks: string[];
    }
  | (LoadSpec & {
      t: 'start';
      instanceId: string;
      /** Sent only when the host does not hold this code yet. */
      code: string | null;
      /** The function's egress host patterns; empty: its fetch rejects (egress denied). */
      egress: string[];
      /** Invocations the gateway may send it at once (1: one at a time). */
      instanceConcurrency: number;
    })
  /** Loads the code in a throwaway isolate (no egress) and answers `inspected` with its handler kind. */
  | (LoadSpec & { t: 'inspect'; inspectionId: string; code: string })
  | {
      t: 'invoke';
      instanceId: string;
      invocationId: string;
      kind: GuestPayloadKind;
      /** Event JSON, or JSON of an HttpRequestPayload. */
      payload: string;
      /** Epoch ms. */
      deadline: number;
      /** The invocation span's W3C traceparent, or '' when it has none. */
      traceparent: string;
    }
  /**
   * Keeps this code for instances to come (sent at deploy; `code` null: the host holds it already) and
   * answers `code-held`, after everything sent before it. `forget-code` drops it like any other code.
   */
  | { t: 'hold-code'; codeSha256: string; code: string | null; ackId: number }
  | { t: 'dispose'; instanceId: string }
  | { t: 'forget-code'; codeSha256: string };

/** How an invocation ended, as the host saw it: the guest's statuses plus the host's own verdicts. */
export type HostCompletionStatus = GuestCompletionStatus | 'timeout' | 'out_of_memory' | 'crashed';

export interface HostCompletion {
  t: 'result';
  invocationId: string;
  instanceId: string;
  status: HostCompletionStatus;
  responseKind: GuestResponseKind;
  /** Per status: result JSON text, HttpResponsePayload JSON, FunctionErrorInfo JSON, or ''. */
  body: string;
  /** CapturedLogs JSON, or '' when nothing was printed. */
  logsJson: string;
  /** Module-load logs, on the invocation that started the instance. */
  initLogsJson: string;
  durationMs: number;
  initDurationMs: number;
  /** The failure happened while loading the module. */
  initFailed: boolean;
  instanceDead: boolean;
}

export type HostToGateway =
  | { t: 'ready'; pid: number }
  | HostCompletion
  /** An instance ended outside an invocation (memory limit hit by a timer, say). */
  | { t: 'instance-dead'; instanceId: string }
  | { t: 'code-held'; ackId: number }
  | {
      t: 'inspected';
      inspectionId: string;
      handlerKind: HandlerKind | null;
      error: FunctionErrorInfo | null;
    };
