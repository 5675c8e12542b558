import type { FunctionRecord } from '../../../src/core/function.js';
import { api, errorText } from '../api.js';
import { h, link, notice, table } from '../dom.js';
import { formatAgo, formatPercent } from '../format.js';
import type { RouteContext } from '../router.js';

interface FunctionSummary {
  fn: FunctionRecord;
  instances: number;
  lastInvokedAt: string | null;
  requests: number;
  errors: number;
}

/** What the list shows of one function: instances now, the newest record, the last hour's error rate. */
async function summarize(fn: FunctionRecord): Promise<FunctionSummary> {
  const [instances, latest, stats] = await Promise.all([
    api.instances(fn.name),
    api.listInvocations(fn.name, { limit: 1 }),
    api.stats(fn.name, { since: '1h', bucket: '1h' }),
  ]);
  return {
    fn,
    instances: instances.instances.length,
    lastInvokedAt: latest.invocations[0]?.startedAt ?? null,
    requests: stats.buckets.reduce((sum, b) => sum + b.requests, 0),
    errors: stats.buckets.reduce((sum, b) => sum + b.errors, 0),
  };
}

export async function functionsPage({ root, current }: RouteContext): Promise<void> {
  root.append(h('h1', {}, 'Functions'));
  try {
    const { functions } = await api.listFunctions({ limit: 200 });
    const summaries = await Promise.all(functions.map(summarize));
    if (!current()) return;
    if (summaries.length === 0) {
      root.append(notice('No functions yet: deploy one with `strato deploy <path>`.'));
      return;
    }
    root.append(
      table(
        ['Name', 'State', 'Versions', 'Last invoked', 'Requests (1 h)', 'Error rate (1 h)'],
        summaries.map((s) => [
          link(`/console/functions/${encodeURIComponent(s.fn.name)}`, s.fn.name),
          h(
            'span',
            { class: `state ${s.instances > 0 ? 'warm' : 'idle'}` },
            s.instances > 0 ? `warm · ${s.instances} instance${s.instances === 1 ? '' : 's'}` : 'idle',
          ),
          String(s.fn.latestVersion),
          formatAgo(s.lastInvokedAt),
          String(s.requests),
          formatPercent(s.errors, s.requests),
        ]),
        { id: 'functions-table' },
      ),
    );
  } catch (error) {
    if (current()) root.append(notice(errorText(error), 'error'));
  }
}
