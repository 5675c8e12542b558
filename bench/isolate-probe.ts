import pino from 'pino';
import { IsolateSandbox } from '../src/sandbox/isolate/isolate-sandbox.js';
import { sleepyFunction } from './isolate-kit.js';
const sb = await IsolateSandbox.create({ hosts: 1, logLimitBytes: 65536, logger: pino({ level: 'warn' }) });
const code = sleepyFunction('x');
const spec = (name: string) => ({
  functionName: name,
  version: 1,
  codeSha256: 'abc',
  loadCode: () => Promise.resolve(code),
  config: { memoryMb: 128, timeoutMs: 10000, env: {}, concurrency: 10 } as never,
});
await new Promise((r) => setTimeout(r, 500));
const req = (i: number) => ({
  invocationId: `i${i}`,
  payload: { kind: 'event' as const, eventJson: '{}' },
  deadline: Date.now() + 10000,
});
let n = 0;
const wd: number[] = [],
  cd: number[] = [];
const cold: number[] = [],
  warm: number[] = [],
  init: number[] = [];
for (let k = 0; k < 60; k++) {
  const t0 = performance.now();
  const inst = sb.startInstance(spec('f'));
  const r = await inst.invoke(req(n++));
  cold.push(performance.now() - t0);
  init.push(r.initDurationMs);
  await new Promise((r) => setTimeout(r, 20));
  const t1 = performance.now();
  const w = await inst.invoke(req(n++));
  wd.push(w.durationMs);
  cd.push(r.durationMs);
  warm.push(performance.now() - t1);
  await new Promise((r) => setTimeout(r, 30));
}
const p = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(3);
console.log('cold', p(cold), 'init', p(init), 'cold invoke dur', p(cd), 'warm', p(warm), 'warm dur', p(wd));
await sb.close();
