import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import type { Store } from '../core/store.js';

const MAX_CACHED_MAPS = 100;
/** Frames of the function bundle as the isolate tier names them. */
const BUNDLE_FRAME = /function\.js:(\d+):(\d+)/g;

/**
 * Rewrites stack traces from bundle positions to the user's sources (TypeScript files and lines),
 * with the source map stored beside the bundle at deploy.
 */
export class StackMapper {
  private readonly maps = new Map<string, TraceMap>();

  constructor(private readonly store: Store) {}

  async map(stack: string, sourceMapSha256: string | null): Promise<string> {
    if (sourceMapSha256 === null || !stack.includes('function.js:')) return stack;
    const traceMap = await this.load(sourceMapSha256);
    if (traceMap === undefined) return stack;
    return stack.replace(BUNDLE_FRAME, (frame, line: string, column: string) => {
      const position = originalPositionFor(traceMap, {
        line: Number(line),
        column: Math.max(0, Number(column) - 1),
      });
      if (position.source === null || position.line === null) return frame;
      return `${position.source}:${position.line}:${(position.column ?? 0) + 1}`;
    });
  }

  private async load(sha256: string): Promise<TraceMap | undefined> {
    const cached = this.maps.get(sha256);
    if (cached !== undefined) return cached;
    const bytes = await this.store.getArtifact(sha256);
    if (bytes === undefined) return undefined;
    try {
      const traceMap = new TraceMap(Buffer.from(bytes).toString('utf8'));
      if (this.maps.size >= MAX_CACHED_MAPS) this.maps.delete(this.maps.keys().next().value as string);
      this.maps.set(sha256, traceMap);
      return traceMap;
    } catch {
      return undefined;
    }
  }
}
