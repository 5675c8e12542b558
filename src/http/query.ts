import { z } from 'zod';
import { parseDuration } from '../config/duration.js';

export const pageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(512).optional(),
});

/** A point in time: ISO date, epoch ms, or a duration meaning "that long ago" (`10m`). */
export const timeParam = z.string().transform((value, ctx) => {
  if (/^\d{12,}$/.test(value)) return Number(value);
  const ago = parseDuration(value);
  if (ago !== undefined && /[a-z]$/.test(value)) return Date.now() - ago;
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
