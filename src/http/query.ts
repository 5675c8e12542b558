import { z } from 'zod';
import { parseDuration } from '../config/duration.js';

export const pageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(512).optional(),
});

/** A point in time: ISO date, epoch ms, or a duration meaning "that long ago" (`10m`). */
export const timeParam = timeParamAt(Date.now);

/**
 * {@link timeParam}, with "ago" counted from `now`: a request that also defaults another time to now
 * reads the clock once, so `since=10m` spans exactly ten minutes.
 */
export function timeParamAt(now: () => number) {
  return z.string().transform((value, ctx) => {
    if (/^\d{12,}$/.test(value)) return Number(value);
    const ago = parseDuration(value);
    if (ago !== undefined && /[a-z]$/.test(value)) return now() - ago;
    const parsed = Date.parse(value);
    if (Number.isNaN(parsed)) {
      ctx.addIssue({
        code: 'custom',
        message: `not a time: ${value} (ISO date, epoch ms, or a duration like 10m)`,
      });
      return z.NEVER;
    }
    return parsed;
  });
}
