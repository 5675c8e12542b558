import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles src/guest into the one script every new isolate evaluates first. Done once per server start
 * (tens of ms); each host then compiles it once and shares the V8 code cache between its isolates.
 */
export async function bundleGuestRuntime(): Promise<string> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const extension = path.extname(fileURLToPath(import.meta.url));
  const entry = path.join(here, '..', '..', 'guest', `runtime${extension}`);
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('guest runtime bundle produced no output');
  return output.text;
}
