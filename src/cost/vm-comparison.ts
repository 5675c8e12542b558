import { meteredCost, REQUESTS_PER_PRICED_UNIT, type CostPrices } from './prices.js';

/** The always-on alternative: enough VMs for the measured peak, running for the whole window. */
export interface VmComparison {
  instances: number;
  hours: number;
  cost: number;
  sizing: string;
}

export interface BreakEven {
  /** The request rate at which metered cost equals the VMs' cost; null with no requests to average. */
  requestsPerSecond: number | null;
  /** The equation, then the same with this report's numbers. */
  formula: string;
}

/** The measured peak the VMs must hold: the most memory (and invocations) in flight in one hour. */
export interface MeasuredPeak {
  memoryMb: number;
  concurrency: number;
  /** ISO start of the hour it was reached in; null with no usage. */
  hourStart: string | null;
}

export function compareWithVm(prices: CostPrices, peak: MeasuredPeak, hours: number): VmComparison {
  // At least one: a service that is always on runs on one machine even when idle.
  const instances = Math.max(1, Math.ceil(peak.memoryMb / prices.vmMemoryMb));
  const fleet = `${instances} VM${instances === 1 ? '' : 's'} of ${prices.vmMemoryMb} MB at ${prices.vmHourly}/hour`;
  const sizing =
    peak.hourStart === null
      ? `${fleet}: no invocations were measured, so the smallest fleet`
      : `${fleet} to hold the measured peak of ${peak.concurrency} concurrent invocation${peak.concurrency === 1 ? '' : 's'} ` +
        `using up to ${peak.memoryMb} MB (hour from ${peak.hourStart}), running all ${formatNumber(hours)} hours`;
  return { instances, hours, cost: instances * hours * prices.vmHourly, sizing };
}

/**
 * r × (g × P_gbs + P_req / 1M) = n × P_vm / 3600: r requests per second, each of the measured mean
 * GB-seconds g, cost as much as n VMs do per second.
 */
export function breakEven(
  prices: CostPrices,
  vm: VmComparison,
  usage: { requests: number; gbSeconds: number },
): BreakEven {
  const equation =
    'requestsPerSecond = instances × vmHourly / 3600 / (gbSecondsPerRequest × gbSecond + request / 1000000)';
  if (usage.requests === 0) {
    return {
      requestsPerSecond: null,
      formula: `${equation}; no requests were measured to average GB-s over`,
    };
  }
  const gbSecondsPerRequest = usage.gbSeconds / usage.requests;
  const perRequest = meteredCost(prices, gbSecondsPerRequest, 1);
  if (perRequest === 0) {
    return { requestsPerSecond: null, formula: `${equation}; requests cost nothing at these prices` };
  }
  const requestsPerSecond = (vm.instances * prices.vmHourly) / 3600 / perRequest;
  const numbers =
    `${vm.instances} × ${formatNumber(prices.vmHourly)} / 3600 / (${formatNumber(gbSecondsPerRequest)} × ` +
    `${formatNumber(prices.gbSecond)} + ${formatNumber(prices.request)} / ${REQUESTS_PER_PRICED_UNIT})`;
  return { requestsPerSecond, formula: `${equation} = ${numbers} = ${formatNumber(requestsPerSecond)}` };
}

/** Six significant digits: what a reader can check by hand, without float noise. */
export function formatNumber(value: number): string {
  return String(Number(value.toPrecision(6)));
}
