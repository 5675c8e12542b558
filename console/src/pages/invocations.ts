import type { InvocationFilter } from '../../../src/client/strato-client.js';
import type { InvocationOutcome, InvocationRecord } from '../../../src/core/invocation.js';
import { api, errorText } from '../api.js';
import { h, link, notice, table } from '../dom.js';
import { formatMs, formatTime } from '../format.js';
import type { RouteContext } from '../router.js';

const OUTCOMES: InvocationOutcome[] = ['success', 'error', 'timeout', 'out_of_memory', 'crashed'];
const WINDOWS = ['15m', '1h', '24h', '168h'];

function rowOf(record: InvocationRecord): (Node | string)[] {
  return [
    formatTime(record.startedAt),
    link(`/console/invocations/${encodeURIComponent(record.id)}`, record.id.slice(0, 8)),
    String(record.version),
    record.trigger,
    h('span', { class: `outcome ${record.outcome}` }, record.outcome),
    record.cold ? 'cold' : 'warm',
    formatMs(record.durationMs),
    `${record.billedMs} ms`,
    `${record.memoryMb} MB`,
  ];
}

function select(name: string, value: string, options: [string, string][]): HTMLSelectElement {
  return h(
    'select',
    { name },
    ...options.map(([optionValue, label]) =>
      h('option', { value: optionValue, selected: optionValue === value }, label),
    ),
  );
}

/** One function's invocation records, newest first, filtered by outcome, cold start and time. */
export async function invocationsPage({ root, query, current }: RouteContext): Promise<void> {
  root.append(h('h1', {}, 'Invocations'));
  try {
    const { functions } = await api.listFunctions({ limit: 200 });
    if (!current()) return;
    const fn = query.get('fn') ?? functions[0]?.name;
    if (fn === undefined) {
      root.append(notice('No functions yet.'));
      return;
    }
    const outcome = query.get('outcome') ?? '';
    const cold = query.get('cold') ?? '';
    const since = query.get('since') ?? '';
    const filters = h(
      'form',
      { class: 'filters', id: 'invocation-filters', method: 'get', action: '/console/invocations' },
      h(
        'label',
        {},
        'Function ',
        select(
          'fn',
          fn,
          functions.map((f) => [f.name, f.name]),
        ),
      ),
      h(
        'label',
        {},
        'Outcome ',
        select('outcome', outcome, [['', 'any'], ...OUTCOMES.map((o): [string, string] => [o, o])]),
      ),
      h(
        'label',
        {},
        'Start ',
        select('cold', cold, [
          ['', 'any'],
          ['true', 'cold'],
          ['false', 'warm'],
        ]),
      ),
      h(
        'label',
        {},
        'Since ',
        select('since', since, [['', 'any time'], ...WINDOWS.map((w): [string, string] => [w, `last ${w}`])]),
      ),
    );
    // Any change reloads the page with the filters in its URL (shareable, back button works).
    filters.addEventListener('change', () => {
      const params = new URLSearchParams();
      for (const [key, value] of new FormData(filters)) {
        if (typeof value === 'string' && value !== '') params.set(key, value);
      }
      const target = `/console/invocations?${params.toString()}`;
      document.dispatchEvent(new CustomEvent('console:navigate', { detail: target }));
    });
    root.append(filters);

    const filter: InvocationFilter = { limit: 50 };
    if (outcome !== '') filter.outcome = outcome as InvocationOutcome;
    if (cold !== '') filter.cold = cold === 'true';
    if (since !== '') filter.since = since;
    const body = h('div', {});
    root.append(body);
    let cursor: string | undefined;
    const rows: InvocationRecord[] = [];
    const loadMore = async (): Promise<void> => {
      const page = await api.listInvocations(fn, { ...filter, ...(cursor === undefined ? {} : { cursor }) });
      if (!current()) return;
      rows.push(...page.invocations);
      cursor = page.next ?? undefined;
      const more = h('button', { type: 'button' }, 'Load more');
      more.addEventListener('click', () => void loadMore());
      body.replaceChildren(
        rows.length === 0
          ? notice('No invocations match.')
          : table(
              [
                'Started (UTC)',
                'Id',
                'Version',
                'Trigger',
                'Outcome',
                'Start',
                'Duration',
                'Billed',
                'Memory',
              ],
              rows.map(rowOf),
              {
                id: 'invocations-table',
              },
            ),
        page.next === null ? '' : more,
      );
    };
    await loadMore();
  } catch (error) {
    if (current()) root.append(notice(errorText(error), 'error'));
  }
}
