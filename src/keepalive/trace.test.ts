import { describe, expect, it } from 'vitest';
import { generateApp, generateTrace } from './trace.js';

const DAY = 86_400_000;

describe('generateTrace', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateApp(7, { seed: 1, durationMs: DAY });
    const b = generateApp(7, { seed: 1, durationMs: DAY });
    const c = generateApp(7, { seed: 2, durationMs: DAY });
    expect(b).toEqual(a);
    expect(c.drawnPerDay).not.toBe(a.drawnPerDay);
  });

  it('follows the Azure 2019 rate facts: ~45% of apps at most hourly, ~81% at most once a minute', () => {
    const apps = [...generateTrace({ apps: 2000, durationMs: DAY / 24, maxPerDay: 1440 })];
    const share = (limit: number) => apps.filter((app) => app.drawnPerDay <= limit).length / apps.length;
    expect(share(24)).toBeGreaterThan(0.41);
    expect(share(24)).toBeLessThan(0.49);
    expect(share(1440)).toBeGreaterThan(0.77);
    expect(share(1440)).toBeLessThan(0.85);
  });

  it('generates sorted calls, fixed periods for timers and bursts for bursty apps', () => {
    const apps = [...generateTrace({ apps: 200, durationMs: 2 * DAY })];
    for (const app of apps) {
      // One expect per app: an expect per call would take seconds.
      const sorted = app.startsMs.every((t, i) => i === 0 || t >= app.startsMs[i - 1]!);
      expect(sorted && app.startsMs.every((t) => t >= 0 && t < 2 * DAY)).toBe(true);
      expect(app.durationsMs.length).toBe(app.startsMs.length);
    }
    const timer = apps.find((app) => app.pattern === 'periodic' && app.startsMs.length > 10)!;
    const gaps = Array.from(timer.startsMs.subarray(1), (t, i) => t - timer.startsMs[i]!);
    expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThan(6_000);
    expect(Math.abs(gaps[0]! - timer.periodMs!)).toBeLessThan(3_000);
    const bursty = apps.filter((app) => app.pattern === 'bursty' && app.startsMs.length > 50);
    expect(bursty.length).toBeGreaterThan(0);
    for (const app of bursty)
      expect(cv(Array.from(app.startsMs.subarray(1), (t, i) => t - app.startsMs[i]!))).toBeGreaterThan(1);
  });
});

function cv(values: number[]): number {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return Math.sqrt(variance) / mean;
}
