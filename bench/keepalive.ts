/**
 * Keep-alive policies replayed on a bursty trace shaped like the Azure Functions 2019 trace (issue 6,
 * done-when (d)): fixed TTLs from 5 to 120 min against the hybrid histogram policy of "Serverless in the
 * Wild". Prints a table normalized to the fixed 10-minute TTL and writes docs/keepalive.svg.
 *   node --import tsx bench/keepalive.ts
 *   KEEPALIVE_APPS (default 300)  KEEPALIVE_DAYS (default 7)  KEEPALIVE_SEED (default 2019)
 */
import { writeFileSync } from 'node:fs';
import { FixedKeepAlivePolicy } from '../src/keepalive/fixed-policy.js';
import { HybridKeepAlivePolicy, type HybridReason } from '../src/keepalive/hybrid-policy.js';
import type { KeepAlivePolicy } from '../src/keepalive/keep-alive-policy.js';
import {
  percentileOf,
  replayFunction,
  summarizeReplays,
  type FunctionReplay,
  type ReplaySummary,
} from '../src/keepalive/simulator.js';
import { generateTrace, type TracePattern } from '../src/keepalive/trace.js';
import { renderKeepAliveSvg, type PolicyPoint } from './keepalive-svg.js';

const APPS = Number(process.env['KEEPALIVE_APPS'] ?? 300);
const DAYS = Number(process.env['KEEPALIVE_DAYS'] ?? 7);
const SEED = Number(process.env['KEEPALIVE_SEED'] ?? 2019);
const SVG_PATH = 'docs/keepalive.svg';
const MIN = 60_000;
const DAY = 86_400_000;

const fixedMinutes = [5, 10, 20, 30, 45, 60, 90, 120];
const fixed = fixedMinutes.map((minutes) => new FixedKeepAlivePolicy(minutes * MIN));
// The brief's fallback (the fixed 10-min TTL) and the paper's (keep for the whole 4-hour range).
const hybrid = new HybridKeepAlivePolicy({ fallbackKeepAliveMs: 10 * MIN, name: 'hybrid' });
const hybridPaper = new HybridKeepAlivePolicy({ fallbackKeepAliveMs: 240 * MIN, name: 'hybrid-4h-fallback' });
const policies: KeepAlivePolicy[] = [...fixed, hybrid, hybridPaper];

const started = performance.now();
const durationMs = DAYS * DAY;
const replays = new Map<string, FunctionReplay[]>(policies.map((p) => [p.name, []]));
const patterns: Record<TracePattern, number> = { periodic: 0, poisson: 0, bursty: 0 };
const reasons: Record<HybridReason, number> = { histogram: 0, 'few-samples': 0, flat: 0, 'out-of-range': 0 };
const callsPerApp: number[] = [];
let atMostHourly = 0;
let atMostPerMinute = 0;
for (const app of generateTrace({ apps: APPS, durationMs, seed: SEED })) {
  patterns[app.pattern]++;
  callsPerApp.push(app.startsMs.length);
  if (app.drawnPerDay <= 24) atMostHourly++;
  if (app.drawnPerDay <= 1440) atMostPerMinute++;
  for (const policy of policies) replays.get(policy.name)!.push(replayFunction(policy, app, durationMs));
  if (app.startsMs.length > 0) reasons[hybrid.windows(app.name).reason]++;
}
const elapsedS = (performance.now() - started) / 1000;

const summaries = policies.map((p) => summarizeReplays(p.name, replays.get(p.name)!));
const baseline = summaries.find((s) => s.policy === 'fixed-10m')!;
const pct = (value: number) => `${value.toFixed(1)}%`;
const q3 = (s: ReplaySummary) => 100 * percentileOf(s.appColdStartRates, 75);
const median = (s: ReplaySummary) => 100 * percentileOf(s.appColdStartRates, 50);
const coldPct = (s: ReplaySummary) => (100 * s.coldStarts) / s.invocations;

const totalCalls = callsPerApp.reduce((sum, c) => sum + c, 0);
const sortedCalls = [...callsPerApp].sort((a, b) => b - a);
const topShare = sortedCalls.slice(0, Math.round(0.186 * APPS)).reduce((sum, c) => sum + c, 0) / totalCalls;
console.log(
  `trace: ${APPS} apps, ${DAYS} days, seed ${SEED}, ${totalCalls.toLocaleString('en-US')} invocations; ` +
    `periodic ${patterns.periodic}, poisson ${patterns.poisson}, bursty ${patterns.bursty}; ` +
    `drawn rate <= 1/h: ${pct((100 * atMostHourly) / APPS)}, <= 1/min: ${pct((100 * atMostPerMinute) / APPS)}; ` +
    `top 18.6% of apps make ${pct(100 * topShare)} of calls (after the rate cap)`,
);
console.log(
  `hybrid windows at the end (apps invoked at least once): histogram ${reasons.histogram}, ` +
    `few samples ${reasons['few-samples']}, flat ${reasons.flat}, out of range ${reasons['out-of-range']}`,
);
console.log(`replayed ${policies.length} policies in ${elapsedS.toFixed(1)} s\n`);

const header = [
  'policy',
  'cold starts (all calls)',
  'app cold-start % p50',
  'app cold-start % p75',
  'idle GB-s',
  'idle vs fixed-10m',
  'cold starts vs fixed-10m',
];
const rows = summaries.map((s) => [
  s.policy,
  pct(coldPct(s)),
  pct(median(s)),
  pct(q3(s)),
  Math.round(s.idleGbSeconds).toLocaleString('en-US'),
  `${(s.idleGbSeconds / baseline.idleGbSeconds).toFixed(2)}x`,
  `${(s.coldStarts / baseline.coldStarts).toFixed(2)}x`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const row of rows) console.log(line(row));

const points: PolicyPoint[] = summaries.map((s) => ({
  policy: s.policy,
  appColdStartQ3Pct: q3(s),
  coldStartPct: coldPct(s),
  idleVsFixed10Pct: (100 * s.idleGbSeconds) / baseline.idleGbSeconds,
  kind: s.policy.startsWith('hybrid') ? 'hybrid' : 'fixed',
}));
writeFileSync(
  SVG_PATH,
  renderKeepAliveSvg(
    points,
    ['fixed-10m', 'fixed-20m', 'fixed-60m', 'hybrid', 'hybrid-4h-fallback'],
    `Synthetic Azure-2019-shaped trace: ${APPS} apps, ${DAYS} days, seed ${SEED} (npm run bench / bench/keepalive.ts)`,
  ),
);
console.log(`\nwrote ${SVG_PATH}`);
