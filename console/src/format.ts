/** Display formats shared by the pages. */

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "3 min ago", or the date for anything older than a day. */
export function formatAgo(iso: string | number | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return 'never';
  const at = typeof iso === 'number' ? iso : Date.parse(iso);
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 60) return `${Math.max(0, seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(at).toISOString().slice(0, 16).replace('T', ' ');
}

export function formatTime(iso: string | number): string {
  return new Date(iso).toISOString().replace('T', ' ').replace('Z', '');
}

export function formatPercent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`;
}

export function formatMoney(amount: number): string {
  return amount < 0.01 && amount > 0 ? `$${amount.toPrecision(2)}` : `$${amount.toFixed(2)}`;
}

/** JSON text pretty-printed when it parses, as is otherwise. */
export function prettyJson(text: string | null): string {
  if (text === null) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
