import type ivm from 'isolated-vm';

/** isolated-vm sets these on the script at run time; its typings leave them out. */
type CompiledScript = ivm.Script & ivm.CachedDataResult & { cachedDataRejected?: boolean };

/**
 * Source plus V8 code cache for one script, shared by every isolate of the host: the first isolate
 * compiles and produces the cache, later isolates compile from it, so the tenth instance of a function
 * skips most of the parse/compile cost of the first. Cache data is produced here, never accepted from users.
 */
export class CompiledCode {
  private cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;

  constructor(
    readonly source: string,
    private readonly filename: string,
    /** false: compile from source every time (the server's `isolateCodeCache: false`, for measurements). */
    private readonly useCache = true,
  ) {}

  compile(isolate: ivm.Isolate): ivm.Script {
    if (!this.useCache) return isolate.compileScriptSync(this.source, { filename: this.filename });
    if (this.cachedData !== undefined) {
      const script = isolate.compileScriptSync(this.source, {
        filename: this.filename,
        cachedData: this.cachedData,
      }) as CompiledScript;
      if (script.cachedDataRejected !== true) return script;
      this.cachedData = undefined;
    }
    const script = isolate.compileScriptSync(this.source, {
      filename: this.filename,
      produceCachedData: true,
    }) as CompiledScript;
    if (script.cachedData !== undefined) this.cachedData = script.cachedData;
    return script;
  }
}

/** How the function's CommonJS bundle is wrapped: on line 1, so its line numbers stay as built. */
export const MODULE_WRAPPER_PREFIX = 'globalThis.__strato_load = function (module, exports, require) {';

export function wrapFunctionCode(code: string): string {
  return `${MODULE_WRAPPER_PREFIX}${code}\n};`;
}

/**
 * Makes a guest stack trace about the user's bundle: drops the guest runtime's own frames and undoes the
 * wrapper's shift of columns on line 1.
 */
export function cleanGuestStack(stack: string | undefined): string | undefined {
  if (stack === undefined) return undefined;
  return stack
    .split('\n')
    .filter((line) => !line.includes('strato:runtime.js'))
    .join('\n')
    .replace(
      /function\.js:1:(\d+)/g,
      (_frame, column: string) =>
        `function.js:1:${Math.max(1, Number(column) - MODULE_WRAPPER_PREFIX.length)}`,
    );
}
