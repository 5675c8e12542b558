import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  isNodeRuntime,
  probeNodeBinary,
  resolveNodeRuntime,
  type NodeBinaryInfo,
  type NodeRuntimesConfig,
} from '../../config/node-runtimes.js';
import type { FunctionErrorInfo } from '../../core/invocation.js';
import type { InstanceSpec } from '../../core/sandbox.js';
import type { ExtraBind } from './confined-process.js';
import { isExecutable } from './host-capabilities.js';
import { nodePermissionFlags } from './node-permission.js';
import { taskRoot } from './runtime-forwarder.js';

/** Lambda's runtime directory, where the Node runtime client is bound read-only. Must exist on the host. */
export const runtimeDir = '/var/runtime';
/** Strato's Node runtime client (plain CommonJS), next to this module in src/ and, copied by the build, in dist/. */
export const nodeRuntimeClientDir = fileURLToPath(new URL('./node-runtime/', import.meta.url));
const clientFile = 'bootstrap.cjs';

/** What to exec as the instance's runtime, and what it needs in the sandbox. */
export type RuntimeCommand =
  | {
      kind: 'ready';
      /** argv, as seen inside the sandbox. */
      argv: string[];
      extraBinds: ExtraBind[];
      /** Variables the runtime sets that the function's own env may still override (Lambda's NODE_PATH). */
      defaultEnv: Readonly<Record<string, string>>;
      /** The Node binary, for `nodejs*.x`. */
      nodePath?: string;
      /** `LAMBDA_RUNTIME_DIR`, when the runtime is not the function's own `bootstrap`. */
      runtimeDir?: string;
    }
  | { kind: 'invalid'; error: FunctionErrorInfo };

/**
 * The runtime to start for a spec: the function's `bootstrap` for custom runtimes (`provided.*`), or Node (the
 * binary `nodeRuntimes` names for the runtime, else Strato's own) with its permission flags running Strato's
 * runtime client for `nodejs*.x`.
 */
export async function runtimeCommand(
  spec: InstanceSpec,
  codeDir: string,
  nodeRuntimes: NodeRuntimesConfig,
): Promise<RuntimeCommand> {
  if (spec.runtime === undefined || !isNodeRuntime(spec.runtime)) {
    if (!(await isExecutable(join(codeDir, 'bootstrap')))) {
      return invalid(
        'Runtime.InvalidEntrypoint',
        'the deployment package has no executable `bootstrap` at its root',
      );
    }
    return { kind: 'ready', argv: [`${taskRoot}/bootstrap`], extraBinds: [], defaultEnv: {} };
  }
  const { nodePath } = resolveNodeRuntime(spec.runtime, { nodeRuntimes });
  let binary;
  try {
    binary = await probeNodeBinary(nodePath);
  } catch (error) {
    return invalid(
      'Runtime.InvalidEntrypoint',
      `the Node binary for ${spec.runtime} cannot run: ${(error as Error).message}`,
    );
  }
  return {
    kind: 'ready',
    argv: nodeClientArgv(nodePath, binary),
    extraBinds: [nodeClientBind],
    defaultEnv: nodeDefaultEnv,
    runtimeDir,
    nodePath,
  };
}

/** The runtime client's directory, bound read-only at Lambda's runtime dir. */
export const nodeClientBind: ExtraBind = { source: nodeRuntimeClientDir, target: runtimeDir, readonly: true };

/** Lambda's NODE_PATH, less the layer dirs under /opt (Strato has no layers). */
export const nodeDefaultEnv: Readonly<Record<string, string>> = {
  NODE_PATH: `${runtimeDir}/node_modules:${runtimeDir}:${taskRoot}`,
};

/** Node with its permission flags (which name only fixed paths inside the sandbox) running the client. */
export function nodeClientArgv(nodePath: string, binary: Pick<NodeBinaryInfo, 'flags'>): string[] {
  const flags = nodePermissionFlags(binary, { read: [taskRoot, runtimeDir], readWrite: ['/tmp'] });
  return [nodePath, ...flags, `${runtimeDir}/${clientFile}`];
}

function invalid(type: string, message: string): RuntimeCommand {
  return { kind: 'invalid', error: { type, message, stack: undefined } };
}
