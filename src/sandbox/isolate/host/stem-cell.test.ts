import type ivm from 'isolated-vm';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleGuestRuntime } from '../guest-runtime-bundle.js';
import { GuestRuntimeImage } from './guest-runtime-image.js';
import { StemCellPool } from './stem-cell.js';

/** The real runtime image, remembering every isolate it made. */
class RecordingRuntimeImage extends GuestRuntimeImage {
  readonly made: ivm.Isolate[] = [];

  override newIsolate(memoryLimitMb: number): ivm.Isolate {
    const isolate = super.newIsolate(memoryLimitMb);
    this.made.push(isolate);
    return isolate;
  }
}

const runtimeSource = await bundleGuestRuntime();
const pools: StemCellPool[] = [];

afterEach(() => {
  for (const pool of pools.splice(0)) pool.dispose();
});

function newPool(
  cellsPerSize: number,
  beforeStep: () => void = () => undefined,
): { pool: StemCellPool; runtime: RecordingRuntimeImage } {
  const runtime = new RecordingRuntimeImage(runtimeSource, true);
  const pool = new StemCellPool(runtime, cellsPerSize, [16], beforeStep);
  pools.push(pool);
  return { pool, runtime };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits (5 s at most: a bound for a stuck pool, not a measurement) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  const giveUpAt = Date.now() + 5_000;
  let met = condition();
  while (!met && Date.now() < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    met = condition();
  }
  expect(met).toBe(true);
}

describe('StemCellPool', () => {
  it('makes a cell over several turns of the event loop, so work that arrives meanwhile is not held up by all of it', async () => {
    const events: string[] = [];
    const { pool } = newPool(1, () => events.push('step'));
    // Stands for the host's IPC: a callback each turn of the event loop while the cell is made.
    let ticking = true;
    const tick = () => {
      if (!ticking) return;
      events.push('tick');
      setImmediate(tick);
    };
    setImmediate(tick);
    await until(() => events.filter((event) => event === 'step').length >= 4);
    await turn();
    ticking = false;

    const steps = events.flatMap((event, index) => (event === 'step' ? [index] : []));
    expect(steps.length).toBeGreaterThanOrEqual(4);
    const first = steps[0]!;
    const last = steps[steps.length - 1]!;
    // Other callbacks ran between the first step and the last: the cell was not made in one piece.
    expect(events.slice(first, last).filter((event) => event === 'tick').length).toBeGreaterThanOrEqual(
      steps.length - 1,
    );
    const cell = pool.take(16, false);
    expect(cell).toBeDefined();
    expect(cell!.isolate.isDisposed).toBe(false);
    cell!.isolate.dispose();
  });

  it('gives out cells that run the guest runtime', async () => {
    const { pool } = newPool(2);
    await until(() => {
      const cell = pool.take(16, false);
      if (cell === undefined) return false;
      expect(cell.isolate.isDisposed).toBe(false);
      // The runtime was evaluated in it: its entry points are functions in the isolate.
      expect(cell.loadRef.typeof).toBe('function');
      expect(cell.invokeRef.typeof).toBe('function');
      cell.isolate.dispose();
      return true;
    });
  });

  it('disposes a cell it is still making when the pool is disposed', async () => {
    let steps = 0;
    const { pool, runtime } = newPool(2, () => steps++);
    await until(() => steps >= 2); // the isolate exists (made by the first step), the cell is not done
    expect(runtime.made.length).toBeGreaterThanOrEqual(1);
    pool.dispose();
    for (const isolate of runtime.made) expect(isolate.isDisposed).toBe(true);
    const stepsAtDispose = steps;
    for (let i = 0; i < 20; i++) await turn();
    expect(steps).toBe(stepsAtDispose); // nothing more is made
    expect(pool.take(16, false)).toBeUndefined();
  });
});
