import { describe, expect, it } from 'vitest';
import { pickVersion } from './alias-routing.js';

/** mulberry32: a tiny seeded PRNG, so the statistical test draws the same numbers on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const always = (value: number) => () => value;

describe('pickVersion', () => {
  it('sends everything to functionVersion when there are no weights', () => {
    const alias = { functionVersion: 4, additionalVersionWeights: {} };
    for (const draw of [0, 0.5, 0.999999]) expect(pickVersion(alias, always(draw))).toBe(4);
  });

  it('sends a draw below the weight to the additional version, and the rest to functionVersion', () => {
    const alias = { functionVersion: 2, additionalVersionWeights: { '1': 0.3 } };
    expect(pickVersion(alias, always(0))).toBe(1);
    expect(pickVersion(alias, always(0.2999))).toBe(1);
    expect(pickVersion(alias, always(0.3))).toBe(2);
    expect(pickVersion(alias, always(0.999999))).toBe(2);
  });

  it('treats weight 0 as never and weight 1 as always', () => {
    expect(pickVersion({ functionVersion: 1, additionalVersionWeights: { '2': 0 } }, always(0))).toBe(1);
    expect(pickVersion({ functionVersion: 1, additionalVersionWeights: { '2': 1 } }, always(0.999999))).toBe(
      2,
    );
  });

  it('gives several additional versions consecutive slices', () => {
    const alias = { functionVersion: 1, additionalVersionWeights: { '2': 0.1, '3': 0.2 } };
    expect(pickVersion(alias, always(0.05))).toBe(2);
    expect(pickVersion(alias, always(0.15))).toBe(3);
    expect(pickVersion(alias, always(0.35))).toBe(1);
  });

  it('draws once per call', () => {
    let draws = 0;
    pickVersion({ functionVersion: 1, additionalVersionWeights: { '2': 0.5 } }, () => {
      draws++;
      return 0.7;
    });
    expect(draws).toBe(1);
  });

  it('splits 10,000 requests 70/30 within 3 points', () => {
    const random = seededRandom(20_240_601);
    const alias = { functionVersion: 2, additionalVersionWeights: { '1': 0.3 } };
    const counts = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const version = pickVersion(alias, random);
      counts.set(version, (counts.get(version) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([1, 2]);
    expect(Math.abs((counts.get(2) ?? 0) / 10_000 - 0.7)).toBeLessThanOrEqual(0.03);
    expect(Math.abs((counts.get(1) ?? 0) / 10_000 - 0.3)).toBeLessThanOrEqual(0.03);
  });
});
