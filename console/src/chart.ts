/** A small SVG time-series chart: lines with a dot per value, a y axis with three ticks, time labels. */

const SVG = 'http://www.w3.org/2000/svg';

export interface Series {
  name: string;
  /** A CSS color. */
  color: string;
  /** One value per x; null leaves a gap (a bucket with no invocation has no duration). */
  values: (number | null)[];
}

export interface ChartOptions {
  title: string;
  /** Epoch ms of each x position. */
  times: number[];
  series: Series[];
  formatY?: (value: number) => string;
  width?: number;
  height?: number;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

export function lineChart(options: ChartOptions): HTMLElement {
  const width = options.width ?? 520;
  const height = options.height ?? 180;
  const pad = { left: 52, right: 10, top: 10, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const formatY = options.formatY ?? ((value: number) => String(Math.round(value * 100) / 100));
  const all = options.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const yMax = niceMax(Math.max(0, ...all));
  const n = options.times.length;
  const x = (i: number): number => pad.left + (n <= 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (value: number): number => pad.top + plotH - (value / yMax) * plotH;

  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img' });
  root.appendChild(svg('title', {})).textContent = options.title;
  for (const fraction of [0, 0.5, 1]) {
    const value = yMax * fraction;
    root.appendChild(
      svg('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'grid' }),
    );
    const label = root.appendChild(svg('text', { x: pad.left - 6, y: y(value) + 4, 'text-anchor': 'end' }));
    label.textContent = formatY(value);
  }
  if (n > 0) {
    for (const [i, anchor] of [
      [0, 'start'],
      [n - 1, 'end'],
    ] as const) {
      const label = root.appendChild(svg('text', { x: x(i), y: height - 6, 'text-anchor': anchor }));
      label.textContent = new Date(options.times[i] ?? 0).toISOString().slice(11, 16);
    }
  }
  for (const series of options.series) {
    let path = '';
    let drawing = false;
    series.values.forEach((value, i) => {
      if (value === null) {
        drawing = false;
        return;
      }
      path += `${drawing ? 'L' : 'M'}${x(i).toFixed(1)},${y(value).toFixed(1)}`;
      drawing = true;
    });
    if (path !== '') {
      root.appendChild(svg('path', { d: path, fill: 'none', stroke: series.color, 'stroke-width': 1.5 }));
    }
    series.values.forEach((value, i) => {
      // Zero is drawn as the line only: a dot marks a bucket that had something to show.
      if (value === null || value === 0) return;
      const dot = root.appendChild(
        svg('circle', { cx: x(i), cy: y(value), r: 2.5, fill: series.color, class: 'point' }),
      );
      dot.appendChild(svg('title', {})).textContent = `${series.name}: ${formatY(value)}`;
    });
  }

  const figure = document.createElement('figure');
  figure.className = 'chart-box';
  const caption = document.createElement('figcaption');
  caption.append(options.title);
  for (const series of options.series) {
    const key = document.createElement('span');
    key.className = 'key';
    key.style.setProperty('--key-color', series.color);
    key.textContent = series.name;
    caption.append(' ', key);
  }
  figure.append(caption, root);
  return figure;
}
