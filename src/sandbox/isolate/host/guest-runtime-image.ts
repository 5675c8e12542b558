import ivm from 'isolated-vm';
import { CompiledCode } from './compiled-code.js';

/** The host bindings the guest runtime reads from `__strato_host`, in this order. */
const BINDING_NAMES = [
  'setTimer',
  'clearTimer',
  'randomBytes',
  'parseUrl',
  'complete',
  'startFetch',
  'abortFetch',
] as const;

/**
 * The guest runtime as new isolates get it: compiled (from the host's code cache when on) and run in each
 * new isolate. The first isolate's cache holds what evaluating the runtime compiled; once an instance has
 * loaded a function and served an invocation, the cache is made again from that isolate so it also holds
 * the load and invoke paths, which every later isolate would otherwise compile lazily on its first cold
 * start (~0.3 ms here). The cache is V8's compilation of Strato's own source, never user input.
 *
 * A V8 startup snapshot (`ivm.Isolate.createSnapshot`) was tried: isolates made from it failed on closures
 * over the runtime's module scope ("C is not defined") for functions not compiled while the snapshot was
 * made, so it is not used.
 */
export class GuestRuntimeImage {
  private readonly compiled: CompiledCode;
  private learned = false;

  constructor(
    source: string,
    private readonly useCodeCache: boolean,
  ) {
    this.compiled = new CompiledCode(source, 'strato:runtime.js', useCodeCache);
  }

  newIsolate(memoryLimitMb: number): ivm.Isolate {
    return new ivm.Isolate({ memoryLimit: memoryLimitMb });
  }

  /** Gives the runtime in a new context its host callbacks (in `BINDING_NAMES` order), then runs it. */
  install(isolate: ivm.Isolate, context: ivm.Context, callbacks: ivm.Callback[]): void {
    const bindings = `{ ${BINDING_NAMES.map((name, index) => `${name}: $${index}`).join(', ')} }`;
    context.evalClosureSync(`globalThis.__strato_host = ${bindings};`, callbacks);
    this.compiled.compile(isolate).runSync(context, { release: true });
    if (this.compiled.wantsCache) this.compiled.produceCacheFrom(isolate);
  }

  /** True until the runtime's cache was made from an isolate that served an invocation. */
  get wantsServedCache(): boolean {
    return this.useCodeCache && !this.learned;
  }

  /** Makes the runtime's cache again from an isolate that loaded a function and served an invocation. */
  learnFrom(isolate: ivm.Isolate): void {
    if (!this.wantsServedCache || isolate.isDisposed) return;
    this.learned = true;
    this.compiled.produceCacheFrom(isolate, true);
  }
}
