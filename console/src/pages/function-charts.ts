import type { FunctionStatsView } from '../../../src/client/strato-client.js';
import { lineChart } from '../chart.js';
import { h } from '../dom.js';
import { formatMs } from '../format.js';

/** Windows the function page offers, with a bucket that gives 60 or fewer points. */
export const WINDOWS = [
  { label: '1 h', since: '1h', bucket: '1m' },
  { label: '6 h', since: '6h', bucket: '6m' },
  { label: '24 h', since: '24h', bucket: '30m' },
] as const;

/** Rate, p50/p99 duration, cold-start ratio and errors over time, from the stats endpoint. */
export function functionCharts(stats: FunctionStatsView): HTMLElement {
  const times = stats.buckets.map((b) => Date.parse(b.start));
  const perMinute = 60_000 / stats.bucketMs;
  return h(
    'div',
    { class: 'charts', id: 'function-charts' },
    lineChart({
      title: 'Requests per minute',
      times,
      series: [
        { name: 'requests', color: '#2563eb', values: stats.buckets.map((b) => b.requests * perMinute) },
      ],
    }),
    lineChart({
      title: 'Duration',
      times,
      formatY: formatMs,
      series: [
        { name: 'p50', color: '#16a34a', values: stats.buckets.map((b) => b.p50Ms) },
        { name: 'p99', color: '#ea580c', values: stats.buckets.map((b) => b.p99Ms) },
      ],
    }),
    lineChart({
      title: 'Cold-start ratio',
      times,
      formatY: (v) => `${Math.round(v)}%`,
      series: [
        {
          name: 'cold %',
          color: '#7c3aed',
          values: stats.buckets.map((b) => (b.requests === 0 ? null : (100 * b.cold) / b.requests)),
        },
      ],
    }),
    lineChart({
      title: 'Errors',
      times,
      series: [{ name: 'errors', color: '#dc2626', values: stats.buckets.map((b) => b.errors) }],
    }),
  );
}
