import type { FunctionErrorInfo } from '../core/invocation.js';

/**
 * What a thrown value looks like to the user: its type (constructor name), message and stack. Reads
 * defensively: a thrown object may have throwing getters, and must not break the runtime.
 */
export function toErrorInfo(thrown: unknown): FunctionErrorInfo {
  try {
    if (thrown instanceof Error) {
      return {
        type: typeof thrown.name === 'string' && thrown.name.length > 0 ? thrown.name : 'Error',
        message: typeof thrown.message === 'string' ? thrown.message : String(thrown.message),
        stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
      };
    }
    if (typeof thrown === 'object' && thrown !== null) {
      const shaped = thrown as { name?: unknown; message?: unknown };
      return {
        type: typeof shaped.name === 'string' ? shaped.name : 'Error',
        message: typeof shaped.message === 'string' ? shaped.message : safeJson(thrown),
        stack: undefined,
      };
    }
    return { type: 'Error', message: String(thrown), stack: undefined };
  } catch {
    return { type: 'Error', message: 'an unreadable value was thrown', stack: undefined };
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
