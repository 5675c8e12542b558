import type { FunctionErrorInfo } from '../../core/invocation.js';
import type { InvokeRequest, InvokeResult } from '../../core/sandbox.js';
import type { CapturedLogs } from '../../guest/console-capture.js';

/**
 * Messages between the gateway process and an isolate host process (Node IPC, JSON). Both ends are
 * ours and start from the same build, so messages are typed, not validated.
 */
export type GatewayToHost =
  | { t: 'configure'; runtimeSource: string }
  | {
      t: 'start';
      instanceId: string;
      codeSha256: string;
      /** Sent only when the host does not hold this code yet. */
      code: string | null;
      functionName: string;
      version: number;
      memoryMb: number;
      timeoutMs: number;
      env: Record<string, string>;
      logLimitBytes: number;
    }
  | { t: 'invoke'; instanceId: string; request: InvokeRequest }
  | { t: 'dispose'; instanceId: string }
  | { t: 'forget-code'; codeSha256: string };

export type HostToGateway =
  | { t: 'ready'; pid: number }
  /** The response of an invocation. `settled: false`: `waitUntil` work goes on; a `settled` message follows. */
  | {
      t: 'result';
      invocationId: string;
      instanceId: string;
      result: InvokeResult;
      settled: boolean;
      instanceDead: boolean;
    }
  | {
      t: 'settled';
      invocationId: string;
      instanceId: string;
      logs: CapturedLogs;
      instanceDead: boolean;
      durationMs: number;
    }
  /** An instance ended outside an invocation (memory limit hit by a timer, say). */
  | { t: 'instance-dead'; instanceId: string; reason: FunctionErrorInfo };
