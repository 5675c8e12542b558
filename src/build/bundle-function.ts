import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { build, type Message } from 'esbuild';
import { StratoError } from '../core/strato-error.js';

export interface FunctionBundle {
  /** Self-contained CommonJS bundle: what the isolate tier loads. */
  code: string;
  /** Source map of `code`, sources relative to the function's directory. */
  sourceMap: string;
  /** The entry file that was bundled. */
  entry: string;
  /** Name derived from the entry (file or directory name). */
  suggestedName: string;
  warnings: string[];
}

const ENTRY_CANDIDATES = [
  'index.ts',
  'index.mts',
  'index.js',
  'index.mjs',
  'index.cjs',
  'src/index.ts',
  'src/index.js',
  'handler.ts',
  'handler.js',
];

/**
 * Bundles a function (a file, or a directory with an entry) and its npm dependencies from its own
 * `node_modules` into one script with esbuild. Node built-ins are not available in the isolate tier,
 * so importing one is a build error here rather than a runtime surprise.
 */
export async function bundleFunction(target: string): Promise<FunctionBundle> {
  const entry = findEntry(path.resolve(target));
  const workingDir = path.dirname(entry);
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      absWorkingDir: workingDir,
      outfile: path.join(workingDir, 'function.js'),
      bundle: true,
      write: false,
      format: 'cjs',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['worker', 'browser', 'import', 'require', 'default'],
      target: 'es2022',
      sourcemap: 'external',
      sourcesContent: false,
      logLevel: 'silent',
      charset: 'utf8',
    });
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors ?? [];
    throw new StratoError(
      'BUILD_FAILED',
      `bundling ${path.relative(process.cwd(), entry) || entry} failed:\n${errors.map(describe).join('\n') || String(error)}`,
    );
  }
  const code = result.outputFiles.find((file) => file.path.endsWith('.js'));
  const map = result.outputFiles.find((file) => file.path.endsWith('.js.map'));
  if (code === undefined || map === undefined)
    throw new StratoError('BUILD_FAILED', 'esbuild produced no output');
  return {
    code: code.text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'),
    sourceMap: map.text,
    entry,
    suggestedName: suggestName(target, entry),
    warnings: result.warnings.map(describe),
  };
}

function findEntry(target: string): string {
  if (!existsSync(target)) throw new StratoError('BUILD_FAILED', `${target} does not exist`);
  if (!statSync(target).isDirectory()) return target;
  const manifest = path.join(target, 'package.json');
  if (existsSync(manifest)) {
    const main = (JSON.parse(readFileSync(manifest, 'utf8')) as { main?: unknown }).main;
    if (typeof main === 'string' && existsSync(path.join(target, main))) return path.join(target, main);
  }
  for (const candidate of ENTRY_CANDIDATES) {
    if (existsSync(path.join(target, candidate))) return path.join(target, candidate);
  }
  throw new StratoError(
    'BUILD_FAILED',
    `no entry in ${target}: add one of ${ENTRY_CANDIDATES.join(', ')} or a package.json "main"`,
  );
}

function suggestName(target: string, entry: string): string {
  const base = statSync(path.resolve(target)).isDirectory()
    ? path.basename(path.resolve(target))
    : path.basename(entry).replace(/\.[^.]+$/, '');
  return base.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'function';
}

function describe(message: Message): string {
  const where = message.location
    ? `${message.location.file}:${message.location.line}:${message.location.column}: `
    : '';
  const hint = /Could not resolve "(node:)?(fs|path|os|child_process|net|http|crypto|process)"/.test(
    message.text,
  )
    ? ' (Node built-ins are not available in the isolate tier)'
    : '';
  return `${where}${message.text}${hint}`;
}
