import type ivm from 'isolated-vm';

/** isolated-vm sets these on the script at run time; its typings leave them out. */
type CompiledScript = ivm.Script & ivm.CachedDataResult & { cachedDataRejected?: boolean };

/**
 * Source plus V8 code cache for one script, shared by every isolate of the host. The cache is produced
 * from an isolate that has already run the script (`produceCacheFrom`, off the cold start's path): V8
 * hands back the script it compiled there, with the functions compiled lazily while the module loaded, so
 * later isolates skip parsing and compiling what the module load runs (a 200 KB bundle's load: ~8 ms from
 * source, ~0.4 ms from such a cache, against ~5 ms from a cache made at compile time, which holds only the
 * top level). Cache data is produced here, never accepted from users.
 */
export class CompiledCode {
  private cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;

  constructor(
    readonly source: string,
    private readonly filename: string,
    /** false: compile from source every time (the server's `isolateCodeCache: false`, for measurements). */
    private readonly useCache = true,
  ) {}

  /** True until a cache is produced (and again if V8 rejected it). */
  get wantsCache(): boolean {
    return this.useCache && this.cachedData === undefined;
  }

  compile(isolate: ivm.Isolate): ivm.Script {
    if (this.cachedData !== undefined) {
      const script = isolate.compileScriptSync(this.source, {
        filename: this.filename,
        cachedData: this.cachedData,
      }) as CompiledScript;
      if (script.cachedDataRejected !== true) return script;
      this.cachedData = undefined;
      return script;
    }
    return isolate.compileScriptSync(this.source, { filename: this.filename });
  }

  /**
   * Makes the cache from an isolate that compiled and ran this script: compiling the same source there
   * again is a hit in V8's per-isolate compilation cache, and the cache data then includes every function
   * compiled so far. Costs about a tenth of the first load; call it after that load's results are out.
   */
  produceCacheFrom(isolate: ivm.Isolate, replace = false): void {
    if (!this.useCache || (!replace && this.cachedData !== undefined) || isolate.isDisposed) return;
    const script = isolate.compileScriptSync(this.source, {
      filename: this.filename,
      produceCachedData: true,
    }) as CompiledScript;
    if (script.cachedData !== undefined) this.cachedData = script.cachedData;
    script.release();
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
