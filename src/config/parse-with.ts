import { z } from 'zod';
import { StratoError } from '../core/strato-error.js';

/** Validates a request part with zod; failures are VALIDATION_FAILED with the issues as details. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new StratoError('VALIDATION_FAILED', `invalid ${what}: ${z.prettifyError(parsed.error)}`, {
      details: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
  }
  return parsed.data;
}
