import type { Command } from 'commander';
import type { CostReport, CostReportOptions } from '../client/strato-client.js';
import { formatNumber } from '../cost/vm-comparison.js';
import { clientFor, withCommon, type CommonOptions } from './common-options.js';
import { fail, printJson, printTable } from './output.js';

interface CostCommandOptions extends CommonOptions {
  since: string;
  until?: string;
  granularity?: 'hour' | 'day';
  priceGbs?: string;
  priceRequest?: string;
  vmHourly?: string;
  vmMemory?: string;
  function?: string;
}

/** `strato cost`: what the measured workload cost on Strato's metering versus always-on VMs. */
export function registerCostCommand(program: Command): void {
  withCommon(
    program
      .command('cost')
      .description(
        "the measured workload's cost on Strato's metering versus always-on VMs sized for its peak",
      ),
  )
    .option('--since <time>', 'start: a duration ago (7d, 24h) or an ISO time', '7d')
    .option('--until <time>', 'end: a duration ago or an ISO time (default: now)')
    .option('--granularity <unit>', 'also print the series by hour or day')
    .option('--price-gbs <price>', 'price per GB-second (default 0.0000166667)')
    .option('--price-request <price>', 'price per 1M requests (default 0.20)')
    .option('--vm-hourly <price>', 'price of one VM per hour (default 0.0416)')
    .option('--vm-memory <mb>', 'memory of one VM, MB (default 4096)')
    .option('--function <name>', 'only this function')
    .action(async (options: CostCommandOptions) => {
      try {
        const request: CostReportOptions = {
          since: options.since,
          until: options.until,
          granularity: options.granularity,
          priceGbSecond: numberOption(options.priceGbs),
          priceRequest: numberOption(options.priceRequest),
          vmHourly: numberOption(options.vmHourly),
          vmMemoryMb: numberOption(options.vmMemory),
          function: options.function,
        };
        const report = await clientFor(options).getCostReport(request);
        if (options.json) return printJson(report);
        printCostReport(report, options.granularity !== undefined);
      } catch (error) {
        fail(error);
      }
    });
}

/** Money in plain decimals (no `6.5e-7`), to three significant digits below a cent. */
function formatMoney(value: number): string {
  if (value === 0) return '0';
  if (value >= 0.01) return value.toFixed(4);
  const decimals = Math.min(20, 2 - Math.floor(Math.log10(value)));
  return Number(value.toPrecision(3)).toFixed(decimals);
}

/** Left to the server to validate (400 VALIDATION_FAILED), so a typo is reported as the API reports it. */
function numberOption(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

function printCostReport(report: CostReport, withSeries: boolean): void {
  const { prices, total, vm, breakEven } = report;
  console.log(`Usage from ${report.since} to ${report.until}`);
  console.log(
    `Prices: ${prices.gbSecond} per GB-s, ${prices.request} per 1M requests; ` +
      `VM ${prices.vmHourly}/hour with ${prices.vmMemoryMb} MB\n`,
  );
  printTable(
    [
      ...report.functions.map((fn) => ({
        function: fn.functionName,
        requests: String(fn.requests),
        errors: String(fn.errors),
        'billed ms': String(fn.billedMs),
        'gb-s': formatNumber(fn.gbSeconds),
        peak: String(fn.peakConcurrency),
        cost: formatMoney(fn.cost),
      })),
      {
        function: 'TOTAL',
        requests: String(total.requests),
        errors: String(report.functions.reduce((sum, fn) => sum + fn.errors, 0)),
        'billed ms': String(report.functions.reduce((sum, fn) => sum + fn.billedMs, 0)),
        'gb-s': formatNumber(total.gbSeconds),
        peak: String(total.peakConcurrency),
        cost: formatMoney(total.cost),
      },
    ],
    ['function', 'requests', 'errors', 'billed ms', 'gb-s', 'peak', 'cost'],
  );
  const measuredRate = vm.hours > 0 ? total.requests / (vm.hours * 3600) : 0;
  console.log('');
  const cheaper = total.cost <= vm.cost ? 'Strato' : 'the VMs';
  console.log(`Strato (metered):  ${formatMoney(total.cost)}  (${cheaper} cost less for this workload)`);
  console.log(`Always-on VMs:     ${formatMoney(vm.cost)}  (${vm.sizing})`);
  console.log(
    breakEven.requestsPerSecond === null
      ? 'Break-even:        none (nothing to average over)'
      : `Break-even:        ${formatNumber(breakEven.requestsPerSecond)} requests/s ` +
          `(measured: ${formatNumber(measuredRate)} requests/s)`,
  );
  console.log(`Formula:           ${breakEven.formula}`);
  if (!withSeries) return;
  console.log('');
  printTable(
    report.series.map((point) => ({
      start: point.start,
      requests: String(point.requests),
      'gb-s': formatNumber(point.gbSeconds),
      cost: formatMoney(point.cost),
    })),
    ['start', 'requests', 'gb-s', 'cost'],
  );
}
