import type { InvokeResult } from '../core/sandbox.js';

/** Anything that blanks secret values out of text (secrets/secret-redactor.ts). */
interface Redactor {
  readonly empty: boolean;
  redact(text: string): string;
}

/**
 * The result with the function's secret values blanked out of what reaches logs and callers as platform
 * output: its log lines and its error. The response body is the function's own answer and passes as is.
 */
export function redactResult(result: InvokeResult, redactor: Redactor | undefined): InvokeResult {
  if (redactor === undefined || redactor.empty) return result;
  const logs = result.logs.map((line) => {
    const message = redactor.redact(line.message);
    return message === line.message ? line : { ...line, message };
  });
  if (result.outcome === 'success') return { ...result, logs };
  const { error } = result;
  return {
    ...result,
    logs,
    error: {
      type: error.type,
      message: redactor.redact(error.message),
      stack: error.stack === undefined ? undefined : redactor.redact(error.stack),
    },
  };
}
