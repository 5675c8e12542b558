import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads every unit, days included', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1.5d')).toBe(129_600_000);
    expect(parseDuration('42')).toBe(42);
  });

  it('refuses what is not a duration', () => {
    expect(parseDuration('7w')).toBeUndefined();
    expect(parseDuration('d')).toBeUndefined();
    expect(parseDuration('-1d')).toBeUndefined();
  });
});
