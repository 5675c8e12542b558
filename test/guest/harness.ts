/**
 * Runs guest Web API code in real isolated-vm isolates: bundles an entry that installs the APIs the
 * way the runtime does (esbuild, in memory, same options as the guest runtime bundle), passes the real
 * host bindings in as Callbacks, and evaluates test snippets as async function bodies.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ivm from 'isolated-vm';
import { webHostBindings } from '../../src/sandbox/isolate/web-host-bindings.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const entry = `
import { installWebApis } from './src/guest/web/install.js';
import { formatLogArgs } from './src/guest/web/format.js';
import { readBodyBytes } from './src/guest/web/body.js';
import { bytesToBase64 } from './src/guest/web/base64.js';
const host = globalThis.__strato_host;
delete globalThis.__strato_host;
installWebApis(globalThis, host);
// Test-only hooks into runtime-internal helpers.
globalThis.__test = { formatLogArgs, readBodyBytes, bytesToBase64, stringify: JSON.stringify };
`;

let bundle: Promise<string> | undefined;

/** The test bundle, built once per test file. */
export function bundleWebApis(options: { minify?: boolean } = {}): Promise<string> {
  const run = async (): Promise<string> => {
    const result = await build({
      stdin: { contents: entry, resolveDir: repoRoot, loader: 'ts', sourcefile: 'web-apis-test-entry.ts' },
      bundle: true,
      write: false,
      platform: 'neutral',
      format: 'iife',
      target: 'es2022',
      minify: options.minify ?? false,
      logLevel: 'silent',
    });
    const file = result.outputFiles[0];
    if (file === undefined) throw new Error('esbuild produced no output');
    return file.text;
  };
  if (options.minify) return run();
  bundle ??= run();
  return bundle;
}

/** What a snippet threw, inspected inside the isolate (classes do not survive the copy). */
export interface ThrownInfo {
  threw: true;
  name: string;
  message: string;
  constructorName: string;
  isDOMException: boolean;
  code: unknown;
}

export interface WebIsolate {
  /** Runs `body` as an async function body in the isolate and returns the copied result. */
  run<T = unknown>(body: string): Promise<T>;
  /** Evaluates an expression (awaited). */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Runs `body` expecting it to throw or reject; returns what was thrown. */
  thrown(body: string): Promise<ThrownInfo>;
  dispose(): void;
}

export async function createWebIsolate(options: { memoryLimitMb?: number } = {}): Promise<WebIsolate> {
  const code = await bundleWebApis();
  const isolate = new ivm.Isolate({ memoryLimit: options.memoryLimitMb ?? 64 });
  const context = await isolate.createContext();
  const host = new ivm.ExternalCopy({}).copyInto();
  await context.global.set('__strato_host', host);
  const hostRef = (await context.global.get('__strato_host', { reference: true })) as ivm.Reference<
    Record<string, unknown>
  >;
  await hostRef.set('randomBytes', new ivm.Callback(webHostBindings.randomBytes));
  await hostRef.set('parseUrl', new ivm.Callback(webHostBindings.parseUrl));
  hostRef.release();
  await context.eval(code, { filename: 'web-apis.js' });

  const run = async <T>(body: string): Promise<T> => {
    // JSON keeps the result a plain value on both sides; undefined maps to null. The JSON.stringify
    // captured at install lets tests patch the isolate's built-ins.
    const wrapped = `(async () => { const __r = await (async () => { ${body} })(); return __test.stringify(__r === undefined ? null : __r); })()`;
    const json = (await context.eval(wrapped, { promise: true, timeout: 5000 })) as string;
    return JSON.parse(json) as T;
  };

  return {
    run,
    evaluate: <T>(expression: string) => run<T>(`return (${expression});`),
    thrown: (body: string) =>
      run<ThrownInfo>(`
        try { await (async () => { ${body} })(); } catch (e) {
          return { threw: true, name: e?.name, message: e?.message, constructorName: e?.constructor?.name,
            isDOMException: e instanceof DOMException, code: e?.code ?? null };
        }
        throw new Error('expected the snippet to throw');`),
    dispose: () => {
      context.release();
      isolate.dispose();
    },
  };
}

/**
 * Runs the same source in the test process, so a test can compare the guest's result with what
 * Node's own implementation gives for the same input.
 */
export function runInNode(functionBody: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- test code, written in the test file
  const fn = new Function(functionBody) as () => unknown;
  return fn();
}
