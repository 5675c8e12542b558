import { z } from 'zod';

/** A Lambda Node.js handler setting, split as the runtime reads it. */
export interface LambdaHandler {
  /** Module path relative to the task root, without extension: `src/app` for `src/app.main`. */
  modulePath: string;
  /** Export to call; dots name nested properties (`index.handlers.main`), as Lambda allows. */
  exportPath: string;
}

// Lambda's own pattern for Handler is `^[^\s]+$` (max 128); the Node runtime then needs a module and an
// export separated by a dot in the last path segment. `..` would leave the task root.
const segment = /^[A-Za-z0-9_@$+~-][A-Za-z0-9_.@$+~-]*$/;

/**
 * Parses `path/to/file.exportName`. Returns a reason (a string) instead of throwing: deploy bodies report it
 * as a validation message, and the runtime client applies the same rules at init.
 */
export function parseLambdaHandler(handler: string): LambdaHandler | string {
  if (handler.length === 0 || handler.length > 128) return 'a handler is 1-128 characters';
  if (/\s/.test(handler)) return 'a handler has no whitespace';
  const slash = handler.lastIndexOf('/');
  const dir = slash === -1 ? '' : handler.slice(0, slash);
  const last = handler.slice(slash + 1);
  const dot = last.indexOf('.');
  if (dot <= 0 || dot === last.length - 1) {
    return `handler ${JSON.stringify(handler)} must be path/to/file.exportName (e.g. index.handler)`;
  }
  const parts = dir === '' ? [] : dir.split('/');
  if (handler.startsWith('/') || parts.some((part) => !segment.test(part) || part === '..' || part === '.')) {
    return `handler ${JSON.stringify(handler)} must be a relative path inside the function's code, without . or ..`;
  }
  const file = last.slice(0, dot);
  const exportPath = last.slice(dot + 1);
  if (!segment.test(file) || exportPath.split('.').some((name) => !/^[A-Za-z_$][\w$]*$/.test(name))) {
    return `handler ${JSON.stringify(handler)} must be path/to/file.exportName with a JavaScript export name`;
  }
  return { modulePath: [...parts, file].join('/'), exportPath };
}

/** A Node.js runtime's handler, checked at the deploy boundary. */
export const nodeHandlerSchema = z.string().superRefine((handler, ctx) => {
  const parsed = parseLambdaHandler(handler);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});
