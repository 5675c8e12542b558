import { Gauge, type Registry } from 'prom-client';
import type { QueueDepth } from '../core/invocation-queue.js';

/**
 * Where the gauges read their values when Prometheus scrapes. Plain functions, so `observe/` needs neither
 * the scheduler nor the queue (the composition root hands them in).
 */
export interface ScrapeSources {
  /** Every instance on this node with its tier and state (the scheduler's `list()`). */
  instances(): Iterable<{ tier: string; state: string }>;
  /** Memory counted for instances now, in MB (limits, not RSS: see the capacity decision). */
  memoryUsedMb(): number;
  /** Memory the node gives to instances, in MB. */
  memoryBudgetMb(): number;
  /** The async queue's counts; rejects when the queue cannot be read. */
  queueDepth(): Promise<QueueDepth>;
}

const MB = 1024 * 1024;
// Reported as 0 when empty, so a series does not vanish (and a rate() over it break) when a pool drains.
const KNOWN_TIERS = ['isolate', 'process', 'container'];
const KNOWN_STATES = ['starting', 'idle', 'busy'];

/** Gauges computed at scrape time: nothing on the invoke path keeps them up to date. */
export function registerScrapeGauges(registry: Registry, sources: ScrapeSources): void {
  new Gauge({
    name: 'strato_instances',
    help: 'Sandbox instances on this node by tier and state.',
    labelNames: ['tier', 'state'] as const,
    registers: [registry],
    collect() {
      const counts = new Map<string, { tier: string; state: string; count: number }>();
      for (const tier of KNOWN_TIERS) {
        for (const state of KNOWN_STATES) counts.set(`${tier}/${state}`, { tier, state, count: 0 });
      }
      for (const { tier, state } of sources.instances()) {
        const key = `${tier}/${state}`;
        const entry = counts.get(key);
        if (entry === undefined) counts.set(key, { tier, state, count: 1 });
        else entry.count += 1;
      }
      this.reset();
      for (const { tier, state, count } of counts.values()) this.set({ tier, state }, count);
    },
  });

  new Gauge({
    name: 'strato_instance_memory_bytes',
    help: 'Memory counted for instances: a busy instance its limit, an idle isolate its small footprint.',
    registers: [registry],
    collect() {
      this.set(sources.memoryUsedMb() * MB);
    },
  });

  new Gauge({
    name: 'strato_instance_memory_budget_bytes',
    help: 'Memory this node gives to instances (instanceMemory).',
    registers: [registry],
    collect() {
      this.set(sources.memoryBudgetMb() * MB);
    },
  });

  registerQueueGauges(registry, sources);
}

/**
 * One `depth()` query per scrape feeds all queue gauges: the first gauge collected reads it, the others
 * reuse that reading (prom-client collects a registry's metrics concurrently, within one scrape).
 */
function registerQueueGauges(registry: Registry, sources: ScrapeSources): void {
  let reading: { at: number; depth: Promise<QueueDepth | undefined> } | undefined;
  const readDepth = (): Promise<QueueDepth | undefined> => {
    const now = Date.now();
    if (reading === undefined || now - reading.at > 100) {
      // A queue that cannot be read leaves its gauges empty rather than failing the whole scrape.
      reading = { at: now, depth: sources.queueDepth().catch(() => undefined) };
    }
    return reading.depth;
  };

  new Gauge({
    name: 'strato_async_queue_depth',
    help: 'Async invocations in the queue by state (ready, delayed, running, dead).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const depth = await readDepth();
      this.reset();
      if (depth === undefined) return;
      this.set({ state: 'ready' }, depth.ready);
      this.set({ state: 'delayed' }, depth.delayed);
      this.set({ state: 'running' }, depth.running);
      this.set({ state: 'dead' }, depth.dead);
    },
  });

  new Gauge({
    name: 'strato_async_queue_oldest_age_seconds',
    help: 'Age of the oldest ready async invocation (0 when none is ready).',
    registers: [registry],
    async collect() {
      const depth = await readDepth();
      this.reset();
      if (depth === undefined) return;
      this.set((depth.oldestReadyAgeMs ?? 0) / 1000);
    },
  });

  new Gauge({
    name: 'strato_dlq_size',
    help: 'Dead-lettered async invocations, over all functions.',
    registers: [registry],
    async collect() {
      const depth = await readDepth();
      this.reset();
      if (depth === undefined) return;
      this.set(depth.dead);
    },
  });
}
