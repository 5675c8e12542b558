import type { CostReport } from '../../../src/client/strato-client.js';
import { api, errorText, isMissingRoute } from '../api.js';
import { lineChart } from '../chart.js';
import { h, notice, table } from '../dom.js';
import { formatMoney } from '../format.js';
import type { RouteContext } from '../router.js';

const WINDOWS = ['24h', '7d', '30d'];

function card(label: string, value: string, id?: string): HTMLElement {
  return h(
    'div',
    { class: 'card', id },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value' }, value),
  );
}

export async function costPage({ root, query, current }: RouteContext): Promise<void> {
  const since = query.get('since') ?? '7d';
  root.append(
    h('h1', {}, 'Cost report'),
    h(
      'p',
      { class: 'muted' },
      'Window: ',
      ...WINDOWS.flatMap((w) => [
        w === since ? h('strong', {}, w) : h('a', { href: `/console/cost?since=${w}` }, w),
        ' ',
      ]),
    ),
  );
  let report: CostReport;
  try {
    report = await api.getCostReport({ since });
  } catch (error) {
    if (!current()) return;
    root.append(
      isMissingRoute(error)
        ? notice('The cost report is not available on this server (it has no GET /v1/cost).', 'info')
        : notice(errorText(error), 'error'),
    );
    return;
  }
  if (!current()) return;
  const cheaper = report.total.cost <= report.vm.cost ? 'Strato' : 'the VM';
  root.append(
    h(
      'div',
      { class: 'cards', id: 'cost-summary' },
      card('Requests', report.total.requests.toLocaleString('en')),
      card('GB-seconds', report.total.gbSeconds.toFixed(2)),
      card('On Strato', formatMoney(report.total.cost), 'cost-strato'),
      card(
        `Always-on VM (${report.vm.instances} × ${report.vm.hours.toFixed(1)} h)`,
        formatMoney(report.vm.cost),
      ),
      card(
        'Break-even',
        report.breakEven.requestsPerSecond === null
          ? 'n/a'
          : `${report.breakEven.requestsPerSecond.toFixed(2)} req/s`,
      ),
    ),
    h('p', {}, `Cheaper for this workload: `, h('strong', {}, cheaper), `. VM sizing: ${report.vm.sizing}.`),
    h('p', { class: 'muted' }, 'Break-even formula: ', h('code', {}, report.breakEven.formula)),
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, `Over time (per ${report.granularity})`),
      h(
        'div',
        { class: 'charts' },
        lineChart({
          title: 'Cost',
          times: report.series.map((s) => Date.parse(s.start)),
          formatY: formatMoney,
          series: [{ name: 'cost', color: '#0f766e', values: report.series.map((s) => s.cost) }],
        }),
        lineChart({
          title: 'Requests',
          times: report.series.map((s) => Date.parse(s.start)),
          series: [{ name: 'requests', color: '#2563eb', values: report.series.map((s) => s.requests) }],
        }),
      ),
    ),
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'By function'),
      table(
        ['Function', 'Requests', 'Errors', 'Billed', 'GB-s', 'Peak concurrency', 'Cost'],
        report.functions.map((f) => [
          f.functionName,
          String(f.requests),
          String(f.errors),
          `${(f.billedMs / 1000).toFixed(1)} s`,
          f.gbSeconds.toFixed(3),
          String(f.peakConcurrency),
          formatMoney(f.cost),
        ]),
        { id: 'cost-functions' },
      ),
    ),
    h(
      'p',
      { class: 'muted' },
      `Prices: $${report.prices.gbSecond} per GB-s, $${report.prices.request} per 1M requests, ` +
        `$${report.prices.vmHourly} per VM hour (${report.prices.vmMemoryMb} MB).`,
    ),
  );
}
