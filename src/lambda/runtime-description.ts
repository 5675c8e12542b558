import { isNodeRuntime, resolveNodeRuntime, type NodeRuntimesConfig } from '../config/node-runtimes.js';
import type { RuntimeDescription } from './function-configuration.js';

/**
 * What GetFunction says about the runtime that really runs a function. For `nodejs*.x`, which Node binary
 * it is and, when its major version is not the runtime's (no matching Node configured), that it runs on
 * another Node: users must not believe they tested on Node 22 when Strato ran Node 20.
 */
export function runtimeDescriber(config: {
  nodeRuntimes: NodeRuntimesConfig;
}): (runtime: string) => RuntimeDescription | undefined {
  return (runtime) => {
    if (!isNodeRuntime(runtime)) return undefined;
    const node = resolveNodeRuntime(runtime, config);
    const version = node.nodeVersion ?? 'unknown';
    return {
      runtimeVersionArn: `arn:aws:lambda:::runtime:strato-node-${version}`,
      ...(node.matched
        ? {}
        : {
            note: `${runtime} runs on Node ${version} (${node.nodePath}): no matching Node is configured (nodeRuntimes)`,
          }),
    };
  };
}
