/**
 * What one idle isolate with Strato's guest runtime and a small function loaded costs in RSS, measured in
 * this process (no server): N stem cells from the host's own code, each with a function loaded and
 * invoked once, then RSS per isolate. isolated-vm needs `--no-node-snapshot`:
 *   node --no-node-snapshot --import tsx bench/isolate-footprint.ts [count=1000] [snapshot|source]
 */
import { readFileSync } from 'node:fs';
import { bundleGuestRuntime } from '../src/sandbox/isolate/guest-runtime-bundle.js';
import { CompiledCode, wrapFunctionCode } from '../src/sandbox/isolate/host/compiled-code.js';
import { GuestRuntimeImage } from '../src/sandbox/isolate/host/guest-runtime-image.js';
import { createStemCell, type StemCell } from '../src/sandbox/isolate/host/stem-cell.js';
import { sleepyFunction } from './isolate-kit.js';

const COUNT = Number(process.argv[2] ?? 1000);
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const source = await bundleGuestRuntime();
const modes = process.argv[3] === undefined ? [true] : [process.argv[3] === 'snapshot'];
for (const useSnapshot of modes) {
  const image = new GuestRuntimeImage(source, useSnapshot);
  const code = new CompiledCode(wrapFunctionCode(sleepyFunction('footprint')), 'function.js');
  const cells: StemCell[] = [];
  const warmup = createStemCell(image, 128);
  warmup.isolate.dispose();
  const before = rssKb();
  const startedAt = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const cell = createStemCell(image, 128);
    code.compile(cell.isolate).runSync(cell.context, { release: true });
    cell.loadRef.applySync(undefined, [
      '{"functionName":"f","version":1,"memoryMb":128,"env":{},"logLimitBytes":1024}',
    ]);
    cell.owner = { setTimer() {}, clearTimer() {}, startFetch() {}, abortFetch() {}, complete() {} };
    cell.invokeRef.applySync(undefined, ['id', 'event', '{}', Date.now() + 1000, '']);
    cells.push(cell);
  }
  const elapsed = performance.now() - startedAt;
  await new Promise((resolve) => setTimeout(resolve, 500));
  const perIsolateMb = (rssKb() - before) / 1024 / COUNT;
  console.log(
    `${useSnapshot ? 'snapshot' : 'no snapshot'}: ${COUNT} idle isolates, ${perIsolateMb.toFixed(3)} MB RSS each, ${(elapsed / COUNT).toFixed(2)} ms each to create + load + invoke`,
  );
  for (const cell of cells) cell.isolate.dispose();
}
// isolated-vm can abort while the process tears down with isolates just disposed: leave at once.
process.exit(0);
