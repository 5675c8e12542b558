/**
 * Hand-written SVG charts for the benches (no dependencies): cumulative distributions of latencies on a
 * log-scale ms axis, one line per series, p50 and p99 marked by grid lines, legend below the plot.
 */

export interface CdfSeries {
  label: string;
  /** Latencies in ms. */
  values: number[];
  /** Baselines are drawn dashed. */
  dashed?: boolean;
}

export interface CdfChartOptions {
  title: string;
  subtitle: string;
  series: CdfSeries[];
  width?: number;
}

/**
 * Baselines in greys, then shades per configuration: three for the first (new version, new instance after
 * idle, scale-out), a pair for each other one (new version, new instance after idle).
 */
const COLORS = [
  '#222222',
  '#555555',
  '#888888',
  '#bbbbbb',
  '#1f77b4',
  '#6baed6',
  '#17becf',
  '#d62728',
  '#ff9896',
  '#2ca02c',
  '#98df8a',
  '#9467bd',
  '#c5b0d5',
  '#8c564b',
  '#c49c94',
  '#e377c2',
  '#f7b6d2',
];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function cdfChartSvg(options: CdfChartOptions): string {
  const width = options.width ?? 1100;
  const plot = { left: 70, top: 64, width: width - 100, height: 380 };
  const legendRowHeight = 20;
  const legendColumns = 2;
  const legendRows = Math.ceil(options.series.length / legendColumns);
  const height = plot.top + plot.height + 50 + legendRows * legendRowHeight + 10;
  const all = options.series.flatMap((series) => series.values).filter((v) => v > 0);
  const minMs = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const maxMs = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const x = (ms: number) =>
    plot.left +
    ((Math.log10(Math.max(ms, minMs)) - Math.log10(minMs)) / Math.log10(maxMs / minMs)) * plot.width;
  const y = (fraction: number) => plot.top + (1 - fraction) * plot.height;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${plot.left}" y="24" font-size="16" font-weight="bold">${escape(options.title)}</text>`,
    `<text x="${plot.left}" y="44" fill="#555">${escape(options.subtitle)}</text>`,
  );
  // Grid: decades with 2x and 5x ticks; fractions every 10%, p50 and p99 emphasised.
  for (let decade = minMs; decade < maxMs * 1.001; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const ms = decade * step;
      if (ms > maxMs * 1.001) break;
      const px = x(ms).toFixed(1);
      parts.push(
        `<line x1="${px}" y1="${plot.top}" x2="${px}" y2="${plot.top + plot.height}" stroke="${step === 1 ? '#cccccc' : '#eeeeee'}"/>`,
        `<text x="${px}" y="${plot.top + plot.height + 16}" text-anchor="middle" fill="#333">${formatMs(ms)}</text>`,
      );
    }
  }
  for (let tenth = 0; tenth <= 10; tenth++) {
    const py = y(tenth / 10).toFixed(1);
    parts.push(
      `<line x1="${plot.left}" y1="${py}" x2="${plot.left + plot.width}" y2="${py}" stroke="#eeeeee"/>`,
      `<text x="${plot.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#333">${tenth * 10}%</text>`,
    );
  }
  for (const [fraction, label] of [
    [0.5, 'p50'],
    [0.99, 'p99'],
  ] as const) {
    const py = y(fraction).toFixed(1);
    parts.push(
      `<line x1="${plot.left}" y1="${py}" x2="${plot.left + plot.width}" y2="${py}" stroke="#888888" stroke-dasharray="2 3"/>`,
      `<text x="${plot.left + plot.width + 4}" y="${py}" dominant-baseline="middle" fill="#555">${label}</text>`,
    );
  }
  parts.push(
    `<rect x="${plot.left}" y="${plot.top}" width="${plot.width}" height="${plot.height}" fill="none" stroke="#333"/>`,
    `<text x="${plot.left + plot.width / 2}" y="${plot.top + plot.height + 34}" text-anchor="middle">ms (log scale)</text>`,
  );
  options.series.forEach((series, index) => {
    const color = COLORS[index % COLORS.length]!;
    const sorted = [...series.values].sort((a, b) => a - b);
    const points: string[] = [];
    sorted.forEach((ms, i) => {
      points.push(`${x(ms).toFixed(1)},${y(i / sorted.length).toFixed(1)}`);
      points.push(`${x(ms).toFixed(1)},${y((i + 1) / sorted.length).toFixed(1)}`);
    });
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.8"${series.dashed === true ? ' stroke-dasharray="6 3"' : ''} points="${points.join(' ')}"/>`,
    );
    const column = index % legendColumns;
    const row = Math.floor(index / legendColumns);
    const lx = plot.left + column * (plot.width / legendColumns);
    const ly = plot.top + plot.height + 56 + row * legendRowHeight;
    const p50 = sorted[Math.floor(sorted.length * 0.5)] ?? Number.NaN;
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2.5"${series.dashed === true ? ' stroke-dasharray="6 3"' : ''}/>`,
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escape(series.label)} (p50 ${formatMs(p50)}, p99 ${formatMs(p99)} ms)</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1).replace(/\.0$/, '');
  if (ms >= 1) return ms.toFixed(2).replace(/\.?0+$/, '');
  return ms.toPrecision(2).replace(/\.?0+$/, '');
}
