import { collectDefaultMetrics, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

/**
 * prom-client's process metrics (CPU, heap, event-loop lag, GC, handles), prefixed `strato_`. They describe
 * the process, not a server, and collecting them starts a GC observer and an event-loop monitor that cannot
 * be stopped: so they are collected once per process and the same metric objects are registered in every
 * server's registry, instead of one never-stopped set per server (tests start many servers in one process).
 */
export function registerProcessMetrics(registry: Registry): void {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'strato_' });
  }
  for (const { name } of processRegistry.getMetricsAsArray()) {
    const metric = processRegistry.getSingleMetric(name);
    if (metric !== undefined) registry.registerMetric(metric);
  }
}
