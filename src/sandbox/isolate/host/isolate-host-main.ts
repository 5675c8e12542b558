/**
 * Entry point of an isolate host process. The gateway forks one or more of these; each runs many
 * isolates. Isolates never live in the gateway process: one huge allocation inside isolated-vm aborts
 * the whole process on Node 20, and this way it takes down only a host, which the gateway restarts.
 */
import type { GatewayToHost, HostToGateway } from '../host-protocol.js';
import { CompiledCode, wrapFunctionCode } from './compiled-code.js';
import { IsolateInstance } from './isolate-instance.js';

const send = (message: HostToGateway) => process.send?.(message);

let runtime: CompiledCode | undefined;
const codes = new Map<string, CompiledCode>();
const instances = new Map<string, { instance: IsolateInstance; started: Promise<void> }>();

function handle(message: GatewayToHost): void {
  switch (message.t) {
    case 'configure':
      runtime = new CompiledCode(message.runtimeSource, 'strato:runtime.js');
      send({ t: 'ready', pid: process.pid });
      return;
    case 'start': {
      if (runtime === undefined) throw new Error('isolate host: start before configure');
      let code = codes.get(message.codeSha256);
      if (code === undefined) {
        if (message.code === null) throw new Error(`isolate host: code ${message.codeSha256} not sent`);
        code = new CompiledCode(wrapFunctionCode(message.code), 'function.js');
        codes.set(message.codeSha256, code);
      }
      const { instanceId } = message;
      const instance = new IsolateInstance(
        {
          instanceId,
          runtime,
          code,
          timeoutMs: message.timeoutMs,
          config: {
            functionName: message.functionName,
            version: message.version,
            memoryMb: message.memoryMb,
            env: message.env,
            logLimitBytes: message.logLimitBytes,
          },
        },
        {
          onResult: (invocationId, result, settled) =>
            send({ t: 'result', invocationId, instanceId, result, settled, instanceDead: instance.isDead }),
          onSettled: (invocationId, logs, durationMs) =>
            send({ t: 'settled', invocationId, instanceId, logs, durationMs, instanceDead: instance.isDead }),
          onDead: (reason) => {
            instances.delete(instanceId);
            send({ t: 'instance-dead', instanceId, reason });
          },
        },
      );
      instances.set(instanceId, { instance, started: instance.start() });
      return;
    }
    case 'invoke': {
      const entry = instances.get(message.instanceId);
      if (entry === undefined) {
        const error = { type: 'SandboxCrashed', message: 'the instance is gone', stack: undefined };
        const logs = { logs: [], logBytes: 0, logTruncated: false, durationMs: 0, initDurationMs: 0 };
        const result = { ...logs, outcome: 'crashed' as const, error };
        send({
          t: 'result',
          invocationId: message.request.invocationId,
          instanceId: message.instanceId,
          result,
          settled: true,
          instanceDead: true,
        });
        return;
      }
      void entry.started.then(() => entry.instance.invoke(message.request));
      return;
    }
    case 'dispose': {
      const entry = instances.get(message.instanceId);
      instances.delete(message.instanceId);
      if (entry !== undefined) void entry.started.then(() => entry.instance.dispose());
      return;
    }
    case 'forget-code':
      codes.delete(message.codeSha256);
      return;
    default: {
      const unknownMessage: never = message;
      throw new Error(`isolate host: unknown message ${JSON.stringify(unknownMessage)}`);
    }
  }
}

process.on('message', (message) => handle(message as GatewayToHost));
// The gateway owns this process: when the IPC channel closes, the gateway is gone.
process.on('disconnect', () => process.exit(0));
