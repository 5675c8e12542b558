/**
 * Entry point of an isolate host process. The gateway forks one or more of these; each runs many
 * isolates. Isolates never live in the gateway process: one huge allocation inside isolated-vm aborts
 * the whole process on Node 20, and this way it takes down only a host, which the gateway restarts.
 */
import { EgressPolicy } from '../../egress/egress-policy.js';
import type { GuestInitConfig } from '../../../guest/protocol.js';
import type { GatewayToHost, HostToGateway, LoadSpec } from '../host-protocol.js';
import { CompiledCode, wrapFunctionCode } from './compiled-code.js';
import { GuestRuntimeImage } from './guest-runtime-image.js';
import { IsolateInstance } from './isolate-instance.js';
import { StemCellPool } from './stem-cell.js';
import { MessageBatcher } from '../message-batcher.js';

const batcher = new MessageBatcher<HostToGateway>((messages) => process.send?.(messages));
const send = (message: HostToGateway) => batcher.send(message);

let runtime: GuestRuntimeImage | undefined;
let stemCells: StemCellPool | undefined;
let codeCache = true;
let egressAllowedNetworks: string[] = [];
const codes = new Map<string, CompiledCode>();
/**
 * Code whose instances proved CPU-heavy: new instances of it start with async calls. Kept apart from
 * `codes`, which forgets code with its last instance: a timeout kills the instance that learnt it, and a
 * busy loop's replacement would otherwise stall this host for a whole timeout on every call.
 */
const heavyCodes = new Set<string>();
const MAX_HEAVY_CODES = 10_000;
/** Code a call of which finished light here: its new instances skip probation (see IsolateInstance). */
const lightCodes = new Set<string>();
const MAX_LIGHT_CODES = 10_000;
const instances = new Map<string, IsolateInstance>();

function handle(message: GatewayToHost): void {
  switch (message.t) {
    case 'configure':
      codeCache = message.codeCache;
      egressAllowedNetworks = message.egressAllowedNetworks;
      runtime = new GuestRuntimeImage(message.runtimeSource, codeCache);
      stemCells = new StemCellPool(runtime, message.stemCells, undefined, () => batcher.flush());
      send({ t: 'ready', pid: process.pid });
      return;
    case 'start': {
      if (runtime === undefined || stemCells === undefined)
        throw new Error('isolate host: start before configure');
      let code = codes.get(message.codeSha256);
      if (code === undefined) {
        if (message.code === null) throw new Error(`isolate host: code ${message.codeSha256} not sent`);
        code = new CompiledCode(wrapFunctionCode(message.code), 'function.js', codeCache);
        codes.set(message.codeSha256, code);
      }
      const { instanceId } = message;
      const instance = new IsolateInstance(
        {
          instanceId,
          runtime,
          stemCells,
          code,
          startsHeavy: heavyCodes.has(message.codeSha256),
          provenLight: lightCodes.has(message.codeSha256),
          timeoutMs: message.timeoutMs,
          instanceConcurrency: message.instanceConcurrency,
          egress:
            message.egress.length === 0 ? undefined : new EgressPolicy(message.egress, egressAllowedNetworks),
          config: guestConfigOf(message),
        },
        {
          onCompletion: (completion) => send(completion),
          onDead: () => {
            instances.delete(instanceId);
            send({ t: 'instance-dead', instanceId });
          },
          onCpuHeavy: () => {
            // Insertion order: the oldest mark goes first.
            if (heavyCodes.size >= MAX_HEAVY_CODES) heavyCodes.delete(heavyCodes.values().next().value!);
            heavyCodes.add(message.codeSha256);
            lightCodes.delete(message.codeSha256);
          },
          onCpuLight: () => {
            if (lightCodes.size >= MAX_LIGHT_CODES) lightCodes.delete(lightCodes.values().next().value!);
            lightCodes.add(message.codeSha256);
          },
        },
      );
      instance.start();
      instances.set(instanceId, instance);
      return;
    }
    case 'inspect': {
      if (runtime === undefined || stemCells === undefined)
        throw new Error('isolate host: inspect before configure');
      // Code this host already holds is compiled; otherwise it is compiled once here and not kept.
      const code =
        codes.get(message.codeSha256) ??
        new CompiledCode(wrapFunctionCode(message.code), 'function.js', false);
      const ignored = () => undefined;
      const probe = new IsolateInstance(
        {
          instanceId: message.inspectionId,
          runtime,
          stemCells,
          code,
          startsHeavy: true,
          timeoutMs: message.timeoutMs,
          egress: undefined,
          config: guestConfigOf(message),
        },
        { onCompletion: ignored, onDead: ignored, onCpuHeavy: ignored, onCpuLight: ignored },
      );
      probe.start();
      const outcome = probe.loadOutcome;
      probe.dispose();
      send({
        t: 'inspected',
        inspectionId: message.inspectionId,
        handlerKind: 'handlerKind' in outcome ? outcome.handlerKind : null,
        error: 'error' in outcome ? outcome.error : null,
      });
      return;
    }
    case 'invoke': {
      const instance = instances.get(message.instanceId);
      if (instance === undefined) {
        const error = { type: 'SandboxCrashed', message: 'the instance is gone' };
        send({
          t: 'result',
          invocationId: message.invocationId,
          instanceId: message.instanceId,
          status: 'crashed',
          responseKind: '',
          body: JSON.stringify(error),
          logsJson: '',
          initLogsJson: '',
          durationMs: 0,
          initDurationMs: 0,
          initFailed: false,
          instanceDead: true,
        });
        return;
      }
      instance.invoke(message);
      return;
    }
    case 'dispose': {
      instances.get(message.instanceId)?.dispose();
      instances.delete(message.instanceId);
      return;
    }
    case 'hold-code':
      // Compiled per isolate at start; held as source until then.
      if (message.code !== null && !codes.has(message.codeSha256))
        codes.set(
          message.codeSha256,
          new CompiledCode(wrapFunctionCode(message.code), 'function.js', codeCache),
        );
      send({ t: 'code-held', ackId: message.ackId });
      return;
    case 'forget-code':
      codes.delete(message.codeSha256);
      return;
    default: {
      const unknownMessage: never = message;
      throw new Error(`isolate host: unknown message ${JSON.stringify(unknownMessage)}`);
    }
  }
}

function guestConfigOf(spec: LoadSpec): GuestInitConfig {
  const { functionName, version, memoryMb, env, logLimitBytes } = spec;
  return { functionName, version, memoryMb, env, logLimitBytes };
}

process.on('message', (messages) => {
  for (const message of messages as GatewayToHost[]) handle(message);
});
// The gateway owns this process: when the IPC channel closes, the gateway is gone.
process.on('disconnect', () => process.exit(0));
