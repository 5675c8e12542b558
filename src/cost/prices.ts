/** What metered and always-on compute cost, in one currency (USD by default). */
export interface CostPrices {
  /** Per GB-second of billed duration × memory. */
  gbSecond: number;
  /** Per 1,000,000 requests (as cloud FaaS price lists quote it). */
  request: number;
  /** Per hour of one always-on VM. */
  vmHourly: number;
  /** Memory of one VM, MB: the fleet is sized by how many it takes to hold the peak. */
  vmMemoryMb: number;
}

/**
 * AWS Lambda's x86 prices (us-east-1: 0.0000166667 per GB-s, 0.20 per 1M requests) against an
 * on-demand 2 vCPU / 4 GiB instance (EC2 t3.medium in us-east-1: 0.0416 per hour).
 */
export const DEFAULT_PRICES: CostPrices = {
  gbSecond: 0.0000166667,
  request: 0.2,
  vmHourly: 0.0416,
  vmMemoryMb: 4096,
};

/** MB·ms in one GB-second: 1024 MB × 1000 ms. */
export const MB_MS_PER_GB_SECOND = 1024 * 1000;

export const REQUESTS_PER_PRICED_UNIT = 1_000_000;

/** Metered cost of some GB-seconds and requests. */
export function meteredCost(prices: CostPrices, gbSeconds: number, requests: number): number {
  return gbSeconds * prices.gbSecond + (requests * prices.request) / REQUESTS_PER_PRICED_UNIT;
}
