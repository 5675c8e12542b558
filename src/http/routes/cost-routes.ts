import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Store } from '../../core/store.js';
import { StratoError } from '../../core/strato-error.js';
import { parseWith } from '../../config/parse-with.js';
import { buildCostReport, costWindow, type CostReport } from '../../cost/cost-report.js';
import { DEFAULT_PRICES } from '../../cost/prices.js';
import { timeParamAt } from '../query.js';
import { principalOf } from '../authentication.js';
import { inCallerNamespace } from '../function-name.js';

/** A year and a day of hourly buckets: what one report reads from the rollup at most. */
const MAX_WINDOW_MS = 366 * 24 * 3_600_000;

const DEFAULT_WINDOW_MS = 7 * 24 * 3_600_000;

const price = z.coerce.number().finite().nonnegative();

/** Relative times ("7d") count from `now`, the same reading `until` defaults to. */
const costQuerySchema = (now: number) =>
  z.strictObject({
    /** @default 7 days before `until` */
    since: timeParamAt(() => now).optional(),
    until: timeParamAt(() => now).optional(),
    granularity: z.enum(['hour', 'day']).default('hour'),
    priceGbSecond: price.default(DEFAULT_PRICES.gbSecond),
    /** Per 1M requests. */
    priceRequest: price.default(DEFAULT_PRICES.request),
    vmHourly: price.default(DEFAULT_PRICES.vmHourly),
    vmMemoryMb: z.coerce.number().int().min(1).max(16_777_216).default(DEFAULT_PRICES.vmMemoryMb),
    function: z.string().min(1).max(64).optional(),
  });

/** `GET /v1/cost`: the measured workload's cost on Strato's metering versus always-on VMs. */
export function registerCostRoutes(app: FastifyInstance, store: Store): void {
  app.get('/v1/cost', async (request): Promise<CostReport> => {
    const now = Date.now();
    const query = parseWith(costQuerySchema(now), request.query, 'query');
    const until = query.until ?? now;
    const window = costWindow(query.since ?? until - DEFAULT_WINDOW_MS, until, query.granularity);
    if (window.since >= window.until) {
      throw new StratoError('VALIDATION_FAILED', 'invalid query: since must be before until');
    }
    if (window.until - window.since > MAX_WINDOW_MS) {
      throw new StratoError('VALIDATION_FAILED', 'invalid query: the window is longer than 366 days');
    }
    const usage = await store.listHourlyUsage({
      since: new Date(window.since).toISOString(),
      until: new Date(window.until).toISOString(),
      // The caller's namespace only; `function` names one of its functions.
      namespace: principalOf(request).namespace,
      functionName: query.function === undefined ? undefined : inCallerNamespace(request, query.function),
    });
    return buildCostReport(usage, window, {
      gbSecond: query.priceGbSecond,
      request: query.priceRequest,
      vmHourly: query.vmHourly,
      vmMemoryMb: query.vmMemoryMb,
    });
  });
}
