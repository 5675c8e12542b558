import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '../../core/store.js';
import { durationMs } from '../../config/duration.js';
import { parseWith } from '../../config/parse-with.js';
import { functionNameOf } from '../function-name.js';
import { timeParamAt } from '../query.js';
import { requireFunction } from './records-routes.js';

/** Enough for a day of minutes; more buckets than that is more than a chart can show. */
const MAX_BUCKETS = 1440;

/** The query, with relative times and the default `until` read from one clock reading, `now`. */
const statsQuerySchema = (now: number) =>
  z
    .strictObject({
      since: timeParamAt(() => now).optional(),
      until: timeParamAt(() => now).optional(),
      bucket: durationMs.pipe(z.number().int().min(1000)).default(60_000),
    })
    .transform((query) => {
      const until = query.until ?? now;
      // The last hour by default.
      return { ...query, since: query.since ?? until - 3_600_000, until };
    })
    .check((ctx) => {
      const { since, until, bucket } = ctx.value;
      if (until <= since) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          path: ['until'],
          message: 'until must be after since',
        });
      } else if (Math.ceil((until - since) / bucket) > MAX_BUCKETS) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          path: ['bucket'],
          message: `at most ${MAX_BUCKETS} buckets: use a larger bucket or a shorter window`,
        });
      }
    });

/** Per-function time series for the console's charts, computed from the invocation records. */
export function registerStatsRoutes(app: FastifyInstance, store: Store): void {
  app.get('/v1/functions/:name/stats', async (request) => {
    const name = functionNameOf(request);
    const { since, until, bucket } = parseWith(statsQuerySchema(Date.now()), request.query, 'query');
    await requireFunction(store, name);
    const stats = await store.invocationStats({ functionName: name, since, until, bucketMs: bucket });
    return {
      functionName: name,
      since: new Date(since).toISOString(),
      until: new Date(until).toISOString(),
      bucketMs: bucket,
      records: stats.records,
      truncated: stats.truncated,
      buckets: stats.buckets,
    };
  });
}
