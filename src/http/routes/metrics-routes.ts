import type { FastifyInstance } from 'fastify';
import type { PlatformMetrics } from '../../observe/metrics.js';

/**
 * `GET /metrics`: Prometheus exposition text. On Fastify, not on the raw data-plane path: a scraper calls it
 * every few seconds, and its gauges are computed here, at scrape time.
 */
export function registerMetricsRoutes(app: FastifyInstance, metrics: PlatformMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
}
