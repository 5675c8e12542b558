import type { AliasRecord } from '../core/function.js';

/**
 * Picks the version one request to an alias runs, as Lambda's weighted aliases do: with weight `w` for
 * an additional version, the request goes there with probability `w`, and otherwise to the alias's
 * `functionVersion`. With several additional versions (the store allows it, the API does not) each
 * takes its own slice of [0, 1) in turn.
 *
 * Per request, not per client: consecutive requests of one caller may run different versions.
 *
 * @param random a uniform draw in [0, 1), `Math.random` in production; injected so tests are exact.
 */
export function pickVersion(
  alias: Pick<AliasRecord, 'functionVersion' | 'additionalVersionWeights'>,
  random: () => number,
): number {
  const draw = random();
  let upTo = 0;
  for (const [version, weight] of Object.entries(alias.additionalVersionWeights)) {
    upTo += weight;
    if (draw < upTo) return Number(version);
  }
  return alias.functionVersion;
}
