import type { FunctionConfig } from '../core/function.js';
import type { HandlerInspection } from '../core/sandbox.js';
import { StratoError } from '../core/strato-error.js';

/** The code of a version about to be published, for loading it once to see what it exports. */
export interface CodeProbe {
  functionName: string;
  codeSha256: string;
  config: FunctionConfig;
}

export type InspectHandler = (probe: CodeProbe) => Promise<HandlerInspection>;

/**
 * Refuses `instanceConcurrency` > 1 where requests cannot share an instance: the process and container tiers
 * run Lambda runtimes, which take one request at a time from the Runtime API, and a Lambda-style `handler`
 * is written for one event at a time (module state, `/tmp`, the callback style), so only a module worker's
 * `fetch` handler may serve several. The kind is known only by loading the module, so the bundle is loaded
 * once here (Cloudflare also runs a Worker's top level at upload). Without an inspector nothing is loaded
 * and the setting is taken as given.
 */
export async function checkInstanceConcurrency(
  probe: CodeProbe,
  inspect: InspectHandler | undefined,
): Promise<void> {
  const { config, functionName } = probe;
  const wanted = config.instanceConcurrency ?? 1;
  if (wanted <= 1) return;
  const tier =
    config.image !== undefined ? 'container' : config.runtime !== undefined ? 'process' : undefined;
  if (tier !== undefined) {
    throw refusal(
      functionName,
      wanted,
      `it runs on the ${tier} tier, whose Lambda runtimes serve one request per instance`,
    );
  }
  if (inspect === undefined) return;
  const inspection = await inspect(probe);
  switch (inspection.kind) {
    case 'fetch':
      return;
    case 'lambda':
      throw refusal(
        functionName,
        wanted,
        'its module exports a Lambda-style handler; only a module worker (`export default { fetch }`) may serve several requests per instance',
      );
    case 'unloadable':
      throw refusal(
        functionName,
        wanted,
        `its module failed to load while checking for a fetch handler: ${inspection.error.type}: ${inspection.error.message}`,
      );
    default: {
      const unknownKind: never = inspection;
      throw new Error(`unknown handler inspection ${JSON.stringify(unknownKind)}`);
    }
  }
}

function refusal(functionName: string, wanted: number, why: string): StratoError {
  return new StratoError(
    'VALIDATION_FAILED',
    `function '${functionName}' cannot have instanceConcurrency ${wanted}: ${why} (use 1)`,
    { details: { setting: 'instanceConcurrency' } },
  );
}
