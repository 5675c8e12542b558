/**
 * The keep-alive comparison as one hand-written SVG (no chart dependency): bars for a few policies on the
 * left, the paper's trade-off curve (3rd-quartile app cold-start % against idle memory, fig. 15 of
 * "Serverless in the Wild") on the right.
 */
export interface PolicyPoint {
  policy: string;
  /** 3rd quartile, over apps, of each app's cold-start percentage. */
  appColdStartQ3Pct: number;
  /** Cold starts over all invocations, percent. */
  coldStartPct: number;
  /** Idle memory-time relative to the fixed 10-minute TTL, percent. */
  idleVsFixed10Pct: number;
  /** `fixed` points form the curve; `hybrid` points are marked on their own. */
  kind: 'fixed' | 'hybrid';
}

const WIDTH = 980;
const HEIGHT = 400;
const FONT = 'font-family="system-ui, sans-serif" font-size="12"';
const COLORS = { cold: '#d9534f', coldAll: '#f0ad4e', idle: '#337ab7', fixed: '#555', hybrid: '#2ca02c' };

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const n = (value: number) => Number(value.toFixed(1));

function text(x: number, y: number, content: string, extra = ''): string {
  return `<text x="${n(x)}" y="${n(y)}" ${extra}>${esc(content)}</text>`;
}

/** A nice upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`. */
function niceMax(max: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(max, 1e-9)));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function bars(points: readonly PolicyPoint[], x0: number, y0: number, width: number, height: number): string {
  const out: string[] = [];
  const top = niceMax(
    Math.max(...points.flatMap((p) => [p.appColdStartQ3Pct, p.coldStartPct, p.idleVsFixed10Pct])),
  );
  const y = (value: number) => y0 + height - (value / top) * height;
  out.push(
    text(x0 + width / 2, y0 - 28, 'Policies on the bursty trace', 'text-anchor="middle" font-weight="bold"'),
  );
  for (let tick = 0; tick <= 5; tick++) {
    const value = (top / 5) * tick;
    out.push(`<line x1="${x0}" x2="${x0 + width}" y1="${n(y(value))}" y2="${n(y(value))}" stroke="#ddd"/>`);
    out.push(text(x0 - 6, y(value) + 4, `${n(value)}%`, 'text-anchor="end"'));
  }
  const group = width / points.length;
  const barWidth = (group * 0.75) / 3;
  const series: Array<[keyof typeof COLORS, (p: PolicyPoint) => number]> = [
    ['cold', (p) => p.appColdStartQ3Pct],
    ['coldAll', (p) => p.coldStartPct],
    ['idle', (p) => p.idleVsFixed10Pct],
  ];
  points.forEach((point, index) => {
    const left = x0 + index * group + group * 0.125;
    series.forEach(([color, value], s) => {
      const v = value(point);
      out.push(
        `<rect x="${n(left + s * barWidth)}" y="${n(y(v))}" width="${n(barWidth - 2)}" height="${n(y0 + height - y(v))}" fill="${COLORS[color]}"><title>${esc(point.policy)}: ${n(v)}%</title></rect>`,
      );
      out.push(
        text(
          left + s * barWidth + barWidth / 2 - 1,
          y(v) - 3,
          `${Math.round(v)}`,
          'text-anchor="middle" font-size="10"',
        ),
      );
    });
    out.push(text(left + (3 * barWidth) / 2, y0 + height + 16, point.policy, 'text-anchor="middle"'));
  });
  const legend: Array<[keyof typeof COLORS, string]> = [
    ['cold', 'app cold-start %, 3rd quartile'],
    ['coldAll', 'cold starts, % of all calls'],
    ['idle', 'idle memory-time, % of fixed-10m'],
  ];
  // One row per series: three labels side by side would not fit the panel.
  legend.forEach(([color, label], i) => {
    const ly = y0 + 4 + i * 15;
    out.push(`<rect x="${x0 + width - 190}" y="${ly}" width="10" height="10" fill="${COLORS[color]}"/>`);
    out.push(text(x0 + width - 176, ly + 9, label, 'font-size="11"'));
  });
  return out.join('\n');
}

function curve(
  points: readonly PolicyPoint[],
  x0: number,
  y0: number,
  width: number,
  height: number,
): string {
  const out: string[] = [];
  const xTop = niceMax(Math.max(...points.map((p) => p.idleVsFixed10Pct)));
  const yTop = niceMax(Math.max(...points.map((p) => p.appColdStartQ3Pct)));
  const x = (value: number) => x0 + (value / xTop) * width;
  const y = (value: number) => y0 + height - (value / yTop) * height;
  out.push(
    text(
      x0 + width / 2,
      y0 - 28,
      'Cold starts vs. idle memory (lower left is better)',
      'text-anchor="middle" font-weight="bold"',
    ),
  );
  for (let tick = 0; tick <= 5; tick++) {
    const xv = (xTop / 5) * tick;
    const yv = (yTop / 5) * tick;
    out.push(`<line x1="${n(x(xv))}" x2="${n(x(xv))}" y1="${y0}" y2="${y0 + height}" stroke="#eee"/>`);
    out.push(`<line x1="${x0}" x2="${x0 + width}" y1="${n(y(yv))}" y2="${n(y(yv))}" stroke="#eee"/>`);
    out.push(text(x(xv), y0 + height + 16, `${n(xv)}`, 'text-anchor="middle"'));
    out.push(text(x0 - 6, y(yv) + 4, `${n(yv)}`, 'text-anchor="end"'));
  }
  out.push(`<rect x="${x0}" y="${y0}" width="${width}" height="${height}" fill="none" stroke="#999"/>`);
  out.push(
    text(x0 + width / 2, y0 + height + 34, 'idle memory-time, % of fixed 10-min TTL', 'text-anchor="middle"'),
  );
  out.push(
    text(
      x0 - 40,
      y0 + height / 2,
      'app cold-start %, 3rd quartile',
      `text-anchor="middle" transform="rotate(-90 ${x0 - 40} ${y0 + height / 2})"`,
    ),
  );
  const fixed = points
    .filter((p) => p.kind === 'fixed')
    .sort((a, b) => a.idleVsFixed10Pct - b.idleVsFixed10Pct);
  out.push(
    `<polyline fill="none" stroke="${COLORS.fixed}" stroke-width="1.5" points="${fixed.map((p) => `${n(x(p.idleVsFixed10Pct))},${n(y(p.appColdStartQ3Pct))}`).join(' ')}"/>`,
  );
  for (const p of fixed) {
    out.push(
      `<circle cx="${n(x(p.idleVsFixed10Pct))}" cy="${n(y(p.appColdStartQ3Pct))}" r="3.5" fill="${COLORS.fixed}"/>`,
    );
    out.push(
      text(
        x(p.idleVsFixed10Pct) + 5,
        y(p.appColdStartQ3Pct) - 5,
        p.policy.replace('fixed-', ''),
        'font-size="10"',
      ),
    );
  }
  for (const p of points.filter((q) => q.kind === 'hybrid')) {
    const cx = x(p.idleVsFixed10Pct);
    const cy = y(p.appColdStartQ3Pct);
    out.push(
      `<path d="M${n(cx)},${n(cy - 7)} L${n(cx + 6)},${n(cy + 4)} L${n(cx - 6)},${n(cy + 4)} Z" fill="${COLORS.hybrid}"/>`,
    );
    out.push(text(cx + 8, cy + 12, p.policy, `font-size="10" fill="${COLORS.hybrid}"`));
  }
  out.push(
    // Bottom left: the curve runs along the top right.
    text(x0 + 8, y0 + height - 8, 'grey: fixed TTL (minutes); green: hybrid', 'font-size="10"'),
  );
  return out.join('\n');
}

/** The whole chart. `barPolicies` names the policies shown as bars, in order. */
export function renderKeepAliveSvg(
  points: readonly PolicyPoint[],
  barPolicies: readonly string[],
  caption: string,
): string {
  const barPoints = barPolicies
    .map((name) => points.find((p) => p.policy === name))
    .filter((p) => p !== undefined);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT}>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    bars(barPoints, 60, 60, 400, 260),
    curve(points, 570, 60, 380, 260),
    text(WIDTH / 2, HEIGHT - 8, caption, 'text-anchor="middle" font-size="11" fill="#555"'),
    '</svg>',
    '',
  ].join('\n');
}
